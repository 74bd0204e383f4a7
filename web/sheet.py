"""The flow sheet (流程单) pages: the A4 print view and the same sheet as PDF."""

from __future__ import annotations

from typing import Any
from urllib.parse import quote

from flask import Blueprint, make_response, render_template
from flask_babel import get_locale
from flask_babel import gettext as _
from flask_login import current_user, login_required

from web import base_url, engine
from workflow.engine.catalog import compiled
from workflow.paper import verify_url
from workflow.sheet_pdf import render_pdf, sheet_context

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

    The engine decides (``Engine.printable``, workflow/access.py): administrators always, the
    initiator once the flow is closed; others who may see the flow get 403, people with no part
    in it 404.
    """
    eng = engine()
    record = eng.printable(current_user.id, flow_id)  # the rule: workflow/access.py
    spec = compiled(eng, record.definition_id).spec
    return record, spec, eng.stamp, eng.organisation_name(), str(get_locale() or "zh")


def _options(record: Any) -> dict[str, Any]:
    return {"gettext": _, "printed_at": engine().clock(), "printed_by": current_user.name,
            "verify_url": verify_url(base_url(), record.id, record.audit_head)}  # fmt: skip
