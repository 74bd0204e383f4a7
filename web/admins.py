"""管理员 (/admin/admins) and 管理日志 (/admin/log): the administrators and their scopes, and the
admin chain read in the reader's scope (Art. 29-31).

Thin over ``workflow.org.admins`` (appoint, change a scope, revoke, transfer the main role: the
main administrator's alone; anyone else gets 403) and ``workflow.org.adminlog_view`` (the log:
anyone who administers something reads the events in their scope; others get 403). A refused
form is shown again with each field's message beside it and what was typed kept.
"""

from __future__ import annotations

from datetime import date
from typing import Any

from flask import Blueprint, current_app, flash, redirect, render_template, request
from flask import url_for as url
from flask_babel import gettext as _
from flask_babel import lazy_gettext as _l
from flask_login import current_user

from web import engine
from web.errors import say, say_fields
from web.inputs import as_id
from workflow.access import CAPABILITIES
from workflow.errors import Conflict, Forbidden, FormInvalid
from workflow.org import admins
from workflow.org.adminlog_view import log_kinds, read_log, unit_names
from workflow.refusals import FieldError

bp = Blueprint("admins", __name__)

#: the capabilities as the pages name them (the same words as the refusals' TERMS)
CAPABILITY_LABELS = {
    "people": _l("people and units"),
    "types": _l("approval types"),
    "messages": _l("messages and DING"),
    "stats": _l("statistics"),
    "jobs": _l("system jobs"),
}
KIND_LABELS = {
    "main_transfer": _l("Main administrator transferred"),
    "admin_appoint": _l("Sub-administrator appointed"),
    "admin_scope_change": _l("Sub-administrator's scope changed"),
    "admin_revoke": _l("Sub-administrator revoked"),
    "job_retry": _l("Failed job run again"),
    "sign_in_unlock": _l("Sign-in lock lifted"),
    "definition_loaded": _l("Approval type loaded"),
}
FIELD_LABELS = {
    "grants": _l("Scope"),
    "main": _l("Main administrator"),
    "value": _l("Value"),
}


@bp.before_request
def _administrators_only() -> Any:
    if not current_user.is_authenticated:
        return current_app.login_manager.unauthorized()  # type: ignore[attr-defined]
    if request.endpoint == "admins.log":
        if not current_user.administers:
            raise Forbidden("admin_only")
    elif not current_user.is_admin:
        raise Forbidden("admin_not_main", name=current_user.name)
    return None


@bp.get("/admin/admins")
def index() -> Any:
    """The main administrator (with 转让) and the sub-administrators with their scopes."""
    return _page()


def _page(refused: dict[str, Any] | None = None, status: int = 200) -> Any:
    eng = engine()
    listed = admins.administrators(eng.db, current_user.id)
    html = render_template(
        "admins/index.html",
        listed=listed,
        people=admins.choosable_people(eng.db),
        units=admins.open_units(eng.db),
        capabilities=CAPABILITIES,
        labels=CAPABILITY_LABELS,
        refused=refused or {},
    )
    return html, status


def _refused(form: str, exc: FormInvalid) -> Any:
    return _page({"form": form, "errors": say_fields(exc.errors), "values": request.form}, 400)


def _who() -> str | int:
    """The person a form names: its hidden id (a row's own form) or the login typed/chosen."""
    chosen = as_id(request.form.get("person_id"))
    if chosen is not None:
        return chosen
    typed = request.form.get("person", "").strip()
    # the chooser suggests "login — name · unit": the login is what counts
    return typed.split(" ", 1)[0] if typed else ""


def _unit() -> int | str:
    """The unit chosen: its id, else what was sent (the engine says no unit has that name)."""
    raw = request.form.get("unit", "")
    chosen = as_id(raw)
    return chosen if chosen is not None else raw[:100]


@bp.post("/admin/admins/appoint")
def appoint() -> Any:
    """任命: the chosen person holds each chosen capability over the chosen unit's subtree."""
    caps = request.form.getlist("capabilities")
    unit = _unit()
    if unit == "" and caps:
        exc = FormInvalid({"unit": FieldError("field_required")})
        return _refused("appoint", exc)
    try:
        after = admins.appoint(engine().db, current_user.id, _who(),
                               [(c, unit) for c in caps], engine().clock())  # fmt: skip
    except FormInvalid as exc:
        return _refused("appoint", exc)
    flash(_("The scope now holds %(n)s grants.", n=len(after)))
    return redirect(url("admins.index"))


@bp.post("/admin/admins/<id:user_id>/scope")
def change(user_id: int) -> Any:
    """调整范围: add the chosen capabilities over a unit, remove the ticked grants."""
    add_caps, unit = request.form.getlist("capabilities"), _unit()
    remove = []
    for pair in request.form.getlist("remove"):
        capability, _sep, raw = pair.partition("@")
        unit_id = as_id(raw)
        if unit_id is not None:
            remove.append((capability, unit_id))
    if add_caps and unit == "":
        return _refused(f"change-{user_id}", FormInvalid({"unit": FieldError("field_required")}))
    try:
        after = admins.change_scope(engine().db, current_user.id, user_id,
                                    add=[(c, unit) for c in add_caps], remove=remove,
                                    now=engine().clock())  # fmt: skip
    except FormInvalid as exc:
        return _refused(f"change-{user_id}", exc)
    except Conflict as exc:  # revoked meanwhile (another page, a double click)
        flash(say(exc))
        return redirect(url("admins.index"))
    if after:
        flash(_("The scope now holds %(n)s grants.", n=len(after)))
    else:
        flash(_("Every grant was removed: they administer nothing now."))
    return redirect(url("admins.index"))


@bp.post("/admin/admins/<id:user_id>/revoke")
def revoke(user_id: int) -> Any:
    """撤销: every grant of this sub-administrator is taken away at once."""
    try:
        admins.revoke(engine().db, current_user.id, user_id, engine().clock())
    except Conflict as exc:  # the second click of a double click, or revoked elsewhere
        flash(say(exc))
        return redirect(url("admins.index"))
    flash(_("The sub-administrator was revoked: they administer nothing now."))
    return redirect(url("admins.index"))


@bp.post("/admin/admins/transfer")
def transfer() -> Any:
    """转让主管理员: the chosen active person becomes the main administrator; the page that
    follows is the workbench (this person administers nothing any more)."""
    try:
        admins.transfer_main(engine().db, current_user.id, _who(), engine().clock())
    except FormInvalid as exc:
        return _refused("transfer", exc)
    flash(_("You transferred the main administrator role."))
    return redirect(url("workbench.index"))


@bp.get("/admin/log")
def log() -> Any:
    """管理日志: the admin chain's events in the reader's scope, newest first, with filters."""
    eng = engine()
    args = request.args
    errors: dict[str, str] = {}
    days: dict[str, date | None] = {}
    for key in ("since", "until"):
        raw = args.get(key, "").strip()
        try:
            days[key] = date.fromisoformat(raw) if raw else None
        except ValueError:
            days[key] = None
            errors[key] = say_fields(
                {key: FieldError("field_not_date", example="2026-03-02", value=raw)}
            )[key]
    before = args.get("before", "")
    page = read_log(
        eng.db, current_user.id,
        before=as_id(before),
        kind=args.get("kind") or None, actor=args.get("actor", "").strip() or None,
        since=days["since"], until=days["until"], tz=eng.tz,
    )  # fmt: skip
    filters = {k: args.get(k, "") for k in ("kind", "actor", "since", "until")}
    older = None
    if page.next_before is not None:
        older = url(
            "admins.log", before=page.next_before, **{k: v for k, v in filters.items() if v}
        )
    return render_template(
        "admins/log.html",
        page=page,
        filters=filters,
        errors=errors,
        older=older,
        kinds=KIND_LABELS,
        present=sorted({*log_kinds(eng.db), *KIND_LABELS}),
        fields=FIELD_LABELS,
        labels=CAPABILITY_LABELS,
        units=unit_names(eng.db, page.entries),
    ), 400 if errors else 200
