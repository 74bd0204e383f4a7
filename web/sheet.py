"""The flow sheet (流程单) pages: the A4 print view and the same sheet as PDF."""

from __future__ import annotations

from typing import Any
from urllib.parse import quote

from flask import Blueprint, make_response, render_template
from flask_babel import get_locale
from flask_babel import gettext as _
from flask_login import current_user, login_required

from web import base_url, engine
from workflow.errors import Forbidden
from workflow.paper import verify_url
from workflow.sheet_pdf import render_pdf, sheet_context
from workflow.spec.model import TERMINAL_STATES

bp = Blueprint("sheet", __name__)


@bp.get("/flows/<id:flow_id>/sheet")
@login_required
def print_view(flow_id: int) -> Any:
    """The flow sheet as an A4 page, ready to print."""
    printable = _printable(flow_id)
    return render_template(
        "sheet/print.html", **sheet_context(*printable, **_options(printable[0]))
    )


@bp.get("/flows/<id:flow_id>/sheet.pdf")
@login_required
def pdf(flow_id: int) -> Any:
    """The flow sheet as PDF, shown in the browser (流程单-<id>.pdf when saved)."""
    printable = _printable(flow_id)
    data = render_pdf(*printable, **_options(printable[0]))
    response = make_response(data)
    response.headers["Content-Type"] = "application/pdf"
    response.headers["Content-Disposition"] = (
        f"inline; filename=\"flow-sheet-{flow_id}.pdf\"; filename*=UTF-8''"
        f"{quote(f'流程单-{flow_id}.pdf')}"
    )
    response.headers["Cache-Control"] = "private, no-store"
    return response


def _printable(flow_id: int) -> tuple[Any, ...]:
    """(record, spec, stamp, organisation, lang) if this person may print the sheet.

    Administrators always may; the initiator once the flow is closed (ended or withdrawn: either
    way its record no longer changes, so the printed chain head stays valid). Others who may see
    the flow get 403; people with no part in it get 404 from the engine.
    """
    admin = current_user.is_admin
    eng = engine()
    record = eng.history(flow_id, viewer_id=None if admin else current_user.id)
    if not admin:
        if record.initiator_id != current_user.id:
            raise Forbidden("sheet_not_yours")
        if record.state not in TERMINAL_STATES:
            raise Forbidden("sheet_not_ended")
    with eng.db.read() as s:
        spec = eng.registry.get(s, record.definition_id).spec
    return record, spec, eng.stamp, eng.organisation_name(), str(get_locale() or "zh")


def _options(record: Any) -> dict[str, Any]:
    return {"gettext": _, "printed_at": engine().clock(), "printed_by": current_user.name,
            "verify_url": verify_url(base_url(), record.id, record.audit_head)}  # fmt: skip
