"""The directory 通讯录 in the browser (Art. 5, 21): the unit tree, search, a card per person, and
the administrator's mobile-privacy switch and CSV export.

Thin over ``workflow.org.directory`` and ``workflow.org.privacy``: the engine builds every card,
so a mobile number the reader may not see is never in what these views render or return. Signed-
in staff only (anonymous: the sign-in page). Each view counts against the reader's rate; past it,
429 with the time to try again. The search works as a plain GET form; ``web/static/directory.js``
asks ``search.json`` as one types (the same engine call, privacy and rate).
"""

from __future__ import annotations

import math
from typing import Any
from urllib.parse import quote

from flask import (
    Blueprint,
    abort,
    current_app,
    flash,
    jsonify,
    make_response,
    redirect,
    render_template,
    request,
)
from flask import url_for as url
from flask_babel import gettext as _
from flask_login import current_user

from web import engine
from web.errors import refusal_page, say, say_fields
from web.inputs import as_id, as_ids
from workflow.errors import Forbidden, FormInvalid, RateLimited
from workflow.org import directory, privacy
from workflow.org.directory_export import export_csv
from workflow.org.ratelimit import Rate

bp = Blueprint("directory", __name__)


@bp.before_request
def _staff_only() -> Any:
    if not current_user.is_authenticated:
        return current_app.login_manager.unauthorized()  # type: ignore[attr-defined]
    return None


@bp.errorhandler(RateLimited)
def _too_many(exc: RateLimited) -> Any:
    """429, saying when to try again, with Retry-After in seconds."""
    wait = max(1, math.ceil((exc.retry_at - engine().clock()).total_seconds()))
    headers = {"Retry-After": str(wait)}
    if request.path.endswith(".json"):
        return {"error": say(exc), "status": 429}, 429, headers
    page, status = refusal_page(exc)
    return page, status, headers


def _rate() -> Rate:
    return Rate(engine().settings.directory_rate)


@bp.get("/directory")
def index() -> Any:
    """The tree, and the people of a unit (one's own by default) or those matching ``q``."""
    unit = request.args.get("unit")
    found = directory.page(
        engine().db, current_user.id, engine().clock(), _rate(),
        query=request.args.get("q", ""), unit_id=as_id(unit) or (0 if unit else None),
        after=as_id(request.args.get("after")),
    )  # fmt: skip
    return render_template("directory/index.html", page=found)


@bp.get("/directory/search.json")
def search_json() -> Any:
    """The people matching ``q`` as JSON (the page's search as one types)."""
    found = directory.search(engine().db, current_user.id, request.args.get("q", ""),
                             engine().clock(), _rate(), after=as_id(request.args.get("after")))  # fmt: skip
    response = jsonify({"people": [c.as_json() for c in found.cards], "more": found.more})
    response.headers["Cache-Control"] = "no-store"
    return response


@bp.get("/directory/<id:person_id>")
def person(person_id: int) -> Any:
    """One person's card."""
    card = directory.person(engine().db, current_user.id, person_id, engine().clock(), _rate())
    may_hide = current_user.may("people") and privacy.administers(
        engine().db, current_user.id, person_id
    )
    return render_template("directory/person.html", card=card, may_hide=may_hide)


@bp.route(
    "/admin/people/<id:person_id>/mobile-privacy", methods=["GET", "POST"], endpoint="privacy"
)
def privacy_page(person_id: int) -> Any:
    """Hide a person's mobile from everyone outside chosen units (people administrators of the
    person's unit; anyone else: 404)."""
    db = engine().db
    try:
        current = privacy.privacy_of(db, current_user.id, person_id)
    except Forbidden:
        abort(404)
    if request.method != "POST":
        return _privacy_form(current, current.hidden, {u.id for u in current.viewers}, {})
    hidden = request.form.get("hidden") == "1"
    chosen, bad = as_ids(request.form.getlist("viewers"))
    if bad:
        errors = {"viewers": _("names a unit that does not exist or is closed")}
        return _privacy_form(current, hidden, set(chosen), errors), 400
    try:
        done = privacy.set_privacy(db, current_user.id, person_id, hidden=hidden,
                                   viewer_ids=chosen, at=engine().clock())  # fmt: skip
    except FormInvalid as exc:
        return _privacy_form(current, hidden, set(chosen), say_fields(exc.errors)), 400
    if not done.changed:
        flash(_("Nothing changed."))
    elif done.hidden:
        flash(_("%(name)s's mobile is now hidden from everyone outside the chosen units.",
                name=done.name))  # fmt: skip
    else:
        flash(_("%(name)s's mobile is visible to all staff again.", name=done.name))
    return redirect(url("directory.privacy", person_id=person_id))


@bp.get("/admin/people/directory.csv")
def export() -> Any:
    """The directory of the people one administers, as CSV (administrators with ``people``
    only: staff have no bulk export). Recorded on the admin chain."""
    header = (_("Name"), _("Login"), _("Unit"), _("Position"), _("Mobile"), _("E-mail"))
    text = export_csv(engine().db, current_user.id, engine().clock(), header)
    response = make_response(text.encode("utf-8-sig"))  # the BOM: spreadsheets read it as UTF-8
    response.headers["Content-Type"] = "text/csv; charset=utf-8"
    response.headers["Content-Disposition"] = (
        "attachment; filename=\"directory.csv\"; filename*=UTF-8''" + quote("通讯录.csv")
    )
    response.headers["Cache-Control"] = "private, no-store"
    return response


def _privacy_form(current: privacy.Privacy, hidden: bool, chosen: set[int],
                  errors: dict[str, str]) -> Any:  # fmt: skip
    return render_template("directory/privacy.html", person=current, hidden=hidden,
                           chosen=chosen, errors=errors,
                           tree=directory.unit_tree(engine().db))  # fmt: skip
