"""Approvals in the browser: start one, open a work item, act on it, see a flow, fetch its files."""

from __future__ import annotations

from decimal import Decimal, InvalidOperation
from typing import Any

from flask import (
    Blueprint,
    abort,
    current_app,
    flash,
    redirect,
    render_template,
    request,
)
from flask import url_for as url
from flask_babel import get_locale
from flask_babel import gettext as _
from flask_login import current_user

from web import engine, local_path
from web.errors import refusal_page, say, say_fields
from web.inputs import as_id, as_ids, version_number
from web.uploads import attachment_response, file_store, posted_files, sign_kept
from workflow import messages
from workflow.engine import catalog
from workflow.engine.records import FlowRecord
from workflow.errors import (
    BanliError,
    FormInvalid,
    InvalidAction,
    NotFound,
    PeopleInvalid,
)
from workflow.machine import mermaid
from workflow.urge import urge as urge_item

bp = Blueprint("flows", __name__)


@bp.before_request
def _signed_in() -> Any:
    if not current_user.is_authenticated:
        return current_app.login_manager.unauthorized()  # type: ignore[attr-defined]
    return None


# --- starting ----------------------------------------------------------------------------------


@bp.get("/start")
def start_list() -> Any:
    """The approval types this person may start."""
    kinds = catalog.startable(engine(), current_user.id)
    return render_template("flows/start_list.html", kinds=kinds)


@bp.route("/start/<key>", methods=["GET", "POST"])
def start_form(key: str) -> Any:
    """The form of an approval type; sending it starts the flow and hands it to the next step."""
    eng = engine()
    compiled = catalog.for_start(eng, current_user.id, key)
    options = catalog.first_forward(eng, current_user.id, compiled)
    values: dict[str, Any] = {}
    errors: dict[str, str] = {}
    problem = None
    if request.method == "POST":
        values, errors = _form_values(compiled)
        try:
            if errors:  # an upload failed: still say what else is wrong, but start nothing
                catalog.check_form(eng, compiled, values)
            else:
                out = eng.start(current_user.id, key, values, **_people(), opinion=_opinion())
                flash(_("The approval was started and handed to the next step."))
                return redirect(url("flows.flow", flow_id=out.flow_id))
        except FormInvalid as exc:
            errors = {**exc.errors, **errors}
        except InvalidAction as exc:  # the first forward: next step or people not acceptable
            problem = say(exc)
    page = _start_page(compiled, options, values, errors, problem)
    return page, 400 if errors or problem else 200


def _start_page(compiled: Any, options: list, values: dict, errors: dict, problem: Any) -> str:
    eng, spec = engine(), compiled.spec
    needs = {f.type for f in spec.form}
    kept = {
        k: [(sign_kept(f), f) for f in v]
        for k, v in values.items()
        if spec.field(k).type == "files"
    }
    return render_template(
        "flows/start_form.html",
        spec=spec,
        values=values,
        errors=say_fields(errors),
        problem=problem,
        options=options,
        choose=catalog.needs_choice(options),
        who=catalog.people(eng, _candidates(options), online=True),
        everyone=catalog.people(eng) if needs & {"user", "users"} else {},
        units=catalog.units(eng) if "unit" in needs else [],
        kept=kept,
    )


# --- reading -----------------------------------------------------------------------------------


def _as_message(flow_id: int) -> Any:
    """A message has its own pages (which withhold a revoked text): send the person there."""
    if engine().kind_of(flow_id) == "message":
        return redirect(url("messages.message", flow_id=flow_id))
    return None


@bp.get("/items/<id:item_id>")
def item(item_id: int) -> Any:
    """One's own work item: opening it records the confirmation effect (Art. 6)."""
    elsewhere = _as_message(engine().get_flow_id(item_id))
    if elsewhere is not None:
        return elsewhere
    return _item_page(item_id)


def _item_page(item_id: int, refused: dict[str, Any] | None = None) -> str:
    """The work item's page; ``refused``: the action form sent back, with its field errors."""
    eng = engine()
    out = eng.open(current_user.id, item_id)
    record = eng.history(out.flow_id, viewer_id=current_user.id)
    actions = {a["action"]: a for a in eng.available_actions(current_user.id, item_id)}
    options = actions.get("forward", {}).get("options", [])
    mine = next(p for v in record.visits for p in v.people if p.item_id == item_id)
    return _record_page(
        "flows/item.html", record, item_id=item_id, mine=mine, actions=actions,
        who=catalog.people(eng, _candidates(options), online=True), refused=refused,
    )  # fmt: skip


@bp.get("/flows/<id:flow_id>")
def flow(flow_id: int) -> Any:
    """A flow's whole record, for its initiator, its participants and administrators."""
    elsewhere = _as_message(flow_id)
    if elsewhere is not None:
        return elsewhere
    return _flow_page(flow_id)


def _flow_page(flow_id: int, refused: dict[str, Any] | None = None) -> str:
    record = engine().history(flow_id, viewer_id=current_user.id)
    return _record_page(
        "flows/flow.html",
        record,
        withdraw=catalog.may_withdraw(record, current_user.id),
        my_item=catalog.open_item(record, current_user.id),
        may_print=engine().may_print_sheet(current_user.id, record),
        refused=refused,
    )


# The forms of the item page, by the endpoint they post to: a refused one is shown again.
_ITEM_FORMS = {"flows.forward": "forward", "flows.end": "end", "flows.finish": "finish",
               "flows.sign": "sign", "flows.return_": "return"}  # fmt: skip


@bp.errorhandler(FormInvalid)
def _form_refused(exc: FormInvalid) -> Any:
    """An opinion (or reason) the engine refused, e.g. too long: the same page again, with the
    message next to the field and what the person wrote kept, so nothing they typed is lost."""
    refused = {
        "form": _ITEM_FORMS.get(request.endpoint or "", "withdraw"),
        "errors": say_fields(exc.errors),
        "opinion": request.form.get("opinion", ""),
    }
    args = request.view_args or {}
    try:
        if "item_id" in args and _shown(args["item_id"], refused["form"]):
            return _item_page(args["item_id"], refused), 400
        if request.endpoint == "flows.withdraw":
            return _flow_page(args["flow_id"], refused), 400
    except BanliError as other:  # the page cannot be shown to this person now: say why
        exc = other
    return refusal_page(exc)


def _shown(item_id: int, form: str) -> bool:
    """Whether the item page shows ``form`` now (else the refusal gets the error page)."""
    actions = {a["action"]: a for a in engine().available_actions(current_user.id, item_id)}
    return form in actions and (form != "forward" or bool(actions[form]["ready"]))


def _candidates(options: list[dict[str, Any]]) -> list[int]:
    """Everyone a forward chooser may name, so the page can show their names."""
    return [i for o in options for k in ("host", "handlers", "co_signers") for i in o[k]["ids"]]


def _record_page(template: str, record: FlowRecord, **extra: Any) -> str:
    eng = engine()
    compiled = catalog.compiled(eng, record.definition_id)
    return render_template(
        template,
        record=record,
        spec=compiled.spec,
        names=catalog.form_people(eng, compiled, record.form),
        diagram=mermaid(compiled, record.state),
        **extra,
    )


@bp.get("/flows/<id:flow_id>/files/<sha256>")
def download(flow_id: int, sha256: str) -> Any:
    """An attachment of a flow one may see; the download confirms one's open item in it."""
    eng = engine()
    if eng.kind_of(flow_id) == "message":
        return redirect(url("messages.download", flow_id=flow_id, sha256=sha256))
    record = eng.history(flow_id, viewer_id=current_user.id)
    found = catalog.attachment(catalog.compiled(eng, record.definition_id), record.form, sha256)
    if found is None or not file_store().exists(sha256):
        raise NotFound("flow_attachment_not_found", flow=flow_id, sha256=sha256)
    mine = catalog.open_item(record, current_user.id)
    if mine is not None and request.method == "GET":  # a HEAD is not a download
        eng.open(current_user.id, mine)
    return attachment_response(sha256, found)


# --- acting: each posts the flow version its page showed --------------------------------------


@bp.post("/items/<id:item_id>/forward")
def forward(item_id: int) -> Any:
    """The host hands the flow to a next step and its people."""
    engine().forward(current_user.id, item_id, **_people(), opinion=_opinion(), version=_version())
    flash(_("Forwarded to the next step."))
    return redirect(url("flows.item", item_id=item_id))


@bp.post("/items/<id:item_id>/end")
def end(item_id: int) -> Any:
    """The host ends the flow here, approved or rejected."""
    outcome = request.form.get("outcome", "approved")
    engine().end(current_user.id, item_id, outcome=outcome, opinion=_opinion(), version=_version())
    flash(_("The flow has ended: approved.") if outcome == "approved" else
          _("The flow has ended: rejected."))  # fmt: skip
    return redirect(url("flows.item", item_id=item_id))


@bp.post("/items/<id:item_id>/finish")
def finish(item_id: int) -> Any:
    """A handler finishes their part of the step."""
    engine().finish(current_user.id, item_id, opinion=_opinion(), version=_version())
    flash(_("Your part is done."))
    return redirect(url("flows.item", item_id=item_id))


@bp.post("/items/<id:item_id>/sign")
def sign(item_id: int) -> Any:
    """A co-signer signs: approve or reject, with an opinion."""
    decision = request.form.get("decision", "approve")
    engine().sign(current_user.id, item_id, decision=decision, opinion=_opinion(),
                  version=_version())  # fmt: skip
    flash(_("Signed: approved.") if decision == "approve" else _("Signed: rejected."))
    return redirect(url("flows.item", item_id=item_id))


@bp.post("/items/<id:item_id>/return")
def return_(item_id: int) -> Any:
    """The host sends the flow back to an earlier step."""
    to = request.form.get("to") or None
    engine().return_(current_user.id, item_id, to=to, opinion=_opinion(), version=_version())
    flash(_("Returned to an earlier step."))
    return redirect(url("flows.item", item_id=item_id))


@bp.post("/flows/<id:flow_id>/withdraw")
def withdraw(flow_id: int) -> Any:
    """The initiator takes the flow back while nobody has opened it at its current step."""
    engine().withdraw(current_user.id, flow_id, reason=_opinion(), version=_version())
    flash(_("The flow was withdrawn."))
    return redirect(url("flows.flow", flow_id=flow_id))


@bp.post("/items/<id:item_id>/urge")
def urge(item_id: int) -> Any:
    """The step's host or the flow's initiator urges (催办) someone's open work item by DING."""
    channel = request.form.get("channel") or "sms"
    used = urge_item(engine(), current_user.id, item_id, channel=channel)
    flash(
        _(
            "Urged. %(used)s of %(limit)s DINGs used today.",
            used=used,
            limit=engine().settings.ding_limit,
        )
    )
    return redirect(local_path(request.form.get("next")) or url("workbench.index"))


@bp.post("/items/<id:item_id>/confirm-ding")
def confirm_ding(item_id: int) -> Any:
    """确认收到: the person confirms the DING (urge) about their work item."""
    messages.confirm_ding(engine(), current_user.id, item_id)
    flash(_("Receipt confirmed."))
    return redirect(url("flows.item", item_id=item_id))


# --- reading a posted form ---------------------------------------------------------------------


def _opinion() -> str | None:
    return request.form.get("opinion", "").strip() or None


def _version() -> int:
    version = version_number(request.form.get("version"))
    if version is None:
        abort(400)
    return version


def _people() -> dict[str, Any]:
    """The next step and its people as the forward chooser posted them (``host.STEP`` …)."""
    to = request.form.get("to") or None
    if to is None:
        return {"to": None}
    host = (request.form.get(f"host.{to}") or "").strip()
    out: dict[str, Any] = {"to": to, "host": as_id(host)}
    bad = bool(host) and out["host"] is None
    for key in ("handlers", "co_signers"):
        ids, wrong = as_ids(request.form.getlist(f"{key}.{to}"))
        out[key], bad = ids or None, bad or wrong
    if bad:  # a value that is no person's id: say so, rather than let the default host stand in
        raise PeopleInvalid("people_choice_invalid")
    return out


def _form_values(compiled: Any) -> tuple[dict[str, Any], dict[str, str]]:
    """The posted form as the engine takes it, and the upload problems by field."""
    values: dict[str, Any] = {}
    errors: dict[str, str] = {}
    for field in compiled.spec.form:
        if field.type == "users":
            values[field.key] = request.form.getlist(field.key)
        elif field.type == "files":
            values[field.key], problem = posted_files(field.key)
            if problem:
                errors[field.key] = problem
        else:
            values[field.key] = request.form.get(field.key, "")
    return values, errors


# --- how values read ---------------------------------------------------------------------------


@bp.app_template_filter("tr")
def translate_names(names: Any) -> str:
    """A definition's {zh, en} name in the page's language."""
    return names.get(str(get_locale())) if names else ""


@bp.app_template_filter("money")
def money(value: Any) -> str:
    """An amount as people read it: 680,000.00."""
    try:
        return f"{Decimal(str(value)):,.2f}"
    except (InvalidOperation, ValueError):
        return str(value)


@bp.app_template_filter("filesize")
def filesize(size: int) -> str:
    """A byte count in B, KB, MB or GB."""
    for unit in ("B", "KB", "MB"):
        if size < 1024:
            return f"{size:.0f} {unit}" if unit == "B" else f"{size:.1f} {unit}"
        size /= 1024  # type: ignore[assignment]
    return f"{size:.1f} GB"
