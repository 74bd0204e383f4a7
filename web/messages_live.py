"""Messages' live JSON endpoints: the list's rows, the unread badge and a message's receipts, for the pages to poll.

Views of the ``messages`` blueprint (endpoint names ``messages.live`` …), registered on it when
``web.create_app`` imports this module.
"""

from __future__ import annotations

from typing import Any

from flask import jsonify, render_template, request
from flask_babel import gettext as _
from flask_login import current_user

from web import engine
from web.messages import BOXES, LABELS, _listing, _search, _unread, bp
from workflow import messages


@bp.get("/messages/live.json")
def live() -> Any:
    """The list page's rows and the unread count, for the page to poll (no reload needed)."""
    box = request.args.get("box") if request.args.get("box") in BOXES else "received"
    search = _search(box)
    listing = _listing(box, search)
    rows = render_template("messages/_rows.html", box=box, listing=listing, labels=LABELS,
                           searching=bool(search["query"] or search["unread"]))  # fmt: skip
    return _no_store({
        "unread": messages.unread_count(engine(), current_user.id),
        "total": listing.total,
        "rows": rows,
    })  # fmt: skip


@bp.get("/messages/unread.json")
def unread() -> Any:
    """The unread count for the navigation badge every signed-in page polls."""
    return _no_store({"unread": _unread()})


@bp.get("/messages/<id:flow_id>/receipts.json")
def receipts_json(flow_id: int) -> Any:
    """The receipts table and counts, for the sender's page to poll."""
    eng, uid = engine(), current_user.id
    view = messages.view(eng, uid, flow_id)
    receipts = messages.receipts(eng, uid, flow_id)
    html = render_template("messages/_receipts.html", view=view, receipts=receipts,
                           labels=LABELS)  # fmt: skip
    read = sum(1 for r in receipts if r.confirmed_at is not None)
    return _no_store({
        "html": html,
        "recipients": len(receipts),
        "read": read,
        "summary": _("%(read)s/%(n)s read", read=read, n=len(receipts)),
    })  # fmt: skip


def _no_store(body: dict[str, Any]) -> Any:
    response = jsonify(body)
    response.headers["Cache-Control"] = "no-store"
    return response
