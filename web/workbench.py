"""The workbench (工作台): to do, done, started by me, circulated to me — searched and paged."""

from __future__ import annotations

from datetime import date
from typing import Any

from flask import (
    Blueprint,
    Response,
    jsonify,
    redirect,
    render_template,
    request,
    stream_with_context,
    url_for,
)
from flask_babel import get_locale
from flask_babel import lazy_gettext as _l
from flask_login import current_user, login_required

from web import engine
from web.inputs import page_number
from workflow.engine import reassign, workexport

bp = Blueprint("workbench", __name__)
PER_PAGE = 20
TABS = {
    "todo": _l("To do"),
    "done": _l("Done"),
    "started": _l("Started by me"),
    "circulated": _l("Circulated to me"),
}
STATES = {
    "active": _l("In progress"),
    "ended": _l("Ended"),
    "approved": _l("Approved"),
    "rejected": _l("Rejected"),
    "withdrawn": _l("Withdrawn"),
}


@bp.get("/", defaults={"tab": "todo"})
@bp.get("/workbench/<any(todo, done, started, circulated):tab>")
@login_required
def index(tab: str) -> Any:
    """One tab of the signed-in person's work, newest first, with the counts of every tab."""
    search = _search(request.args)
    page = page_number(request.args.get("page"))
    after, before = request.args.get("after"), request.args.get("before")
    work = engine().worklist(
        current_user.id, tab, page=page, per_page=PER_PAGE, after=after, before=before,
        all_counts=True, **search,
    )  # fmt: skip
    if not work.rows and (page > work.pages or after or before):
        # past the end, or a cursor whose rows are gone: the last page there is
        return redirect(_link(tab, search, min(page, work.pages)))
    # why an item came to me: a leaver's or a moved person's work handed over (to do only)
    notes = reassign.notes_for(engine(), {r.flow_id for r in work.rows}) if tab == "todo" else {}
    return render_template(
        "workbench/index.html",
        tab=tab,
        notes=notes,
        tabs=TABS,
        states=STATES,
        work=work,
        counts=work.counts,
        types=engine().approval_types(),
        form=request.args,
        searching=any(v is not None for v in search.values()),
        lang="en" if str(get_locale()) == "en" else "zh",
        link=lambda tab=tab, page=None, **cursor: _link(tab, search, page, **cursor),
        counts_url=url_for("workbench.counts", **_query(search)),
        page_numbers=page_numbers(work.page, work.pages),
    )


@bp.get("/workbench/export.csv")
@login_required
def export() -> Any:
    """Every row of every tab of the signed-in person, as a CSV file, streamed."""
    lang = "en" if str(get_locale()) == "en" else "zh"
    rows = engine().export_rows(current_user.id)
    body = stream_with_context(workexport.csv_pieces(rows, engine().tz, lang))
    response = Response(body, mimetype="text/csv")
    response.headers["Content-Disposition"] = 'attachment; filename="workbench.csv"'
    response.headers["Cache-Control"] = "no-store"
    return response


@bp.get("/workbench/counts.json")
@login_required
def counts() -> Any:
    """The tab counts as JSON, for the workbench page to poll (a phone and a computer agree)."""
    found = engine().tab_counts(current_user.id, **_search(request.args))
    response = jsonify({key: found[key] for key in TABS})
    response.headers["Cache-Control"] = "no-store"
    return response


def _search(args: Any) -> dict[str, Any]:
    """The search the query string asks for; what cannot be read counts as "any"."""
    state = args.get("state") or None
    return {
        "query": (args.get("q") or "").strip()[:200] or None,
        "definition": args.get("type") or None,
        "since": _day(args.get("from")),
        "until": _day(args.get("to")),
        "state": state if state in STATES else None,
    }


def _day(text: str | None) -> date | None:
    try:
        return date.fromisoformat(text) if text else None
    except ValueError:
        return None


def _link(tab: str, search: dict[str, Any], page: int | None = None, **cursor: str | None) -> str:
    """This search on another tab or page (tabs and pages keep the search); the previous and
    next pages carry a keyset cursor (``after`` / ``before``: the edge row's sort key)."""
    keyed = {k: v for k, v in cursor.items() if k in ("after", "before") and v}
    return url_for("workbench.index", tab=tab, **_query(search, page), **keyed)


def _query(search: dict[str, Any], page: int | None = None) -> dict[str, Any]:
    """The query string of a search (and page), without what is not set."""
    args = {
        "q": search["query"],
        "type": search["definition"],
        "from": search["since"].isoformat() if search["since"] else None,
        "to": search["until"].isoformat() if search["until"] else None,
        "state": search["state"],
        "page": page if page and page > 1 else None,
    }
    return {k: v for k, v in args.items() if v}


def page_numbers(page: int, pages: int, around: int = 2) -> list[int | None]:
    """The page numbers a pager shows: first, last and a few around this one; None is a gap."""
    shown = {1, pages, *range(page - around, page + around + 1)}
    out: list[int | None] = []
    for n in sorted(n for n in shown if 1 <= n <= pages):
        if out and n - (out[-1] or 0) > 1:
            out.append(None)
        out.append(n)
    return out
