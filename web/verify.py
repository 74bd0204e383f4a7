"""The verify page a flow sheet's QR code opens: is this paper the system's record, and as of when?"""

from __future__ import annotations

from typing import Any

from flask import Blueprint, abort, render_template, request
from flask_babel import get_locale
from flask_babel import lazy_gettext as _l
from flask_login import current_user, login_required

from web import engine
from web.inputs import as_id
from workflow.paper import check as check_paper

bp = Blueprint("verify", __name__)

#: an audit event's kind as a clerk reads it
KINDS = {
    "start": _l("Started"),
    "deliver": _l("Delivered"),
    "send": _l("Sent"),
    "confirm": _l("Confirmed"),
    "forward": _l("Forwarded"),
    "finish": _l("Finished"),
    "sign": _l("Countersigned"),
    "return": _l("Returned"),
    "end": _l("Ended the flow"),
    "withdraw": _l("Withdrew"),
    "urge": _l("Urged"),
    "ding": _l("DING sent"),
    "ding_confirm": _l("DING confirmed"),
    "delivered": _l("Delivered"),
    "delivery_failed": _l("Delivery failed"),
    "delete": _l("Deleted"),
    "reply": _l("Replied"),
    "relay": _l("Relayed"),
    "revoke": _l("Revoked"),
    "remind": _l("Reminded"),
    "timeout": _l("Timed out"),
}


@bp.get("/verify")
@login_required
def verify() -> Any:
    """Check a flow sheet's chain head (``?flow=N&head=H``, as its QR code has them)."""
    raw_flow = request.args.get("flow", "").strip()
    head = request.args.get("head", "").strip()
    if not raw_flow or not head:
        return render_template("verify/check.html", check=None, flow=raw_flow, head=head)
    flow_id = as_id(raw_flow)
    if flow_id is None:  # not a number a flow could have: like it, not found
        abort(404)
    eng = engine()
    # someone who may not see the flow learns no more than about a flow that does not exist
    eng.visible(current_user.id, flow_id=flow_id)
    check = check_paper(eng.db, flow_id, head)
    sep = ", " if str(get_locale() or "").startswith("en") else "、"
    since = sep.join(str(KINDS.get(ev.kind, ev.kind)) for ev in check.since)
    return render_template(
        "verify/check.html", check=check, flow=flow_id, head=head, since=since,
        as_of=eng.local(check.found.at) if check.found else "",
    )  # fmt: skip
