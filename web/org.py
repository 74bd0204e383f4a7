"""人员 (people), for administrators holding ``people``: the list in their scope, a person's
card with its edit form, enrolment, and resending an invitation.

Thin over ``workflow.org`` (people, invitations, roster): every view asks the engine, which
checks the scope per unit; a person outside it is a 404, like an id no one has. The import of
HR's sheet is in ``web/org_import.py`` (views on this blueprint).
"""

from __future__ import annotations

import secrets
from typing import Any

from flask import Blueprint, current_app, flash, redirect, render_template, request, session
from flask import url_for as url
from flask_babel import gettext as _
from flask_babel import lazy_gettext as _l
from flask_login import current_user
from werkzeug.routing import BuildError

from web import base_url, engine
from web.errors import say_fields
from web.inputs import as_id
from workflow.errors import Conflict, Forbidden, FormInvalid
from workflow.org import invitations, people, roster
from workflow.refusals import Term

bp = Blueprint("org", __name__)
ONCE_KEPT = 20  # enrol forms remembered per browser session, against enrolling twice
STATUS_LABELS = {"active": _l("Active"), "invited": _l("Invited"), "removed": _l("Removed")}
FIELD_LABELS = {
    "name": _l("Real name"),
    "mobile": _l("Mobile"),
    "email": _l("E-mail"),
    "unit": _l("Unit"),
    "unit_id": _l("Unit"),
    "post": _l("Position"),
    "roles": _l("Roles"),
    "login": _l("Login"),
}
#: the other areas' acts on a person, each shown only once its endpoint exists
PERSON_ACTS = (
    ("mobile.admin_change", _l("Change mobile"), "get"),
    ("leavers.move", _l("Move to another unit"), "get"),
    ("leavers.remove", _l("Remove (leaver)"), "get"),
    ("directory.privacy", _l("Number privacy"), "get"),
    ("devices.end_all_for", _l("End all sign-ins"), "post"),
)


@bp.before_request
def _administrators_of_people() -> Any:
    if not current_user.is_authenticated:
        return current_app.login_manager.unauthorized()  # type: ignore[attr-defined]
    if not current_user.may("people"):
        raise Forbidden(
            "admin_capability_missing", name=current_user.name, capability=Term("people")
        )
    return None


@bp.app_context_processor
def _helpers() -> dict[str, Any]:
    return {"person_link": person_link, "status_labels": STATUS_LABELS,
            "field_labels": FIELD_LABELS}  # fmt: skip


def person_link(endpoint: str, user_id: int) -> str | None:
    """The address of another area's page about a person, if that page exists (None if not)."""
    if endpoint not in current_app.view_functions:
        return None
    for name in ("user_id", "person_id", "id"):
        try:
            return url(endpoint, **{name: user_id})
        except BuildError:
            continue
    return None


@bp.get("/admin/people", endpoint="people")
def people_list() -> Any:
    """人员: the people in scope, searched and filtered, a page at a time (keyset)."""
    args = request.args
    unit_id = as_id(args.get("unit"))
    status = args.get("status") if args.get("status") in STATUS_LABELS else None
    q = (args.get("q") or "").strip()[:100]
    found = roster.list_people(engine().db, current_user.id, unit_id=unit_id, status=status, q=q,
                               after=as_id(args.get("after")))  # fmt: skip
    return render_template(
        "org/people.html",
        page=found,
        units=roster.units_in_scope(engine().db, current_user.id),
        unit_id=unit_id,
        status=status,
        q=q,
        statuses=STATUS_LABELS,
    )


@bp.route("/admin/people/<id:user_id>", methods=["GET", "POST"])
def person(user_id: int) -> Any:
    """A person's card: unit, roles, invitation; the edit form for name, e-mail and post."""
    card = roster.person_card(engine().db, current_user.id, user_id)
    row = card.row
    values = {"name": row.name, "email": row.email or "", "post": row.post or ""}
    errors: dict[str, Any] = {}
    if request.method == "POST":
        values = {key: request.form.get(key, "") for key in ("name", "email", "post")}
        try:
            changed = people.edit_person(engine().db, current_user.id, user_id, values,
                                         engine().clock())  # fmt: skip
        except FormInvalid as exc:
            errors = exc.errors
        else:
            flash(_("The changes were saved.") if changed else _("Nothing was changed."))
            return redirect(url("org.person", user_id=user_id))
    page = render_template("org/person.html", card=card, values=values,
                           errors=say_fields(errors), acts=PERSON_ACTS)  # fmt: skip
    return page, 400 if errors else 200


@bp.route("/admin/people/new", methods=["GET", "POST"])
def enrol() -> Any:
    """录入人员: the enrol form; every bad value is said by its field and nothing typed is lost."""
    values: dict[str, Any] = {"once": secrets.token_urlsafe(16), "roles": []}
    errors: dict[str, Any] = {}
    if request.method == "POST":
        form = request.form
        values = {key: form.get(key, "").strip() for key in
                  ("name", "mobile", "email", "unit", "post", "login")}  # fmt: skip
        values["roles"] = [r for r in form.getlist("roles") if r][:50]
        values["once"] = (form.get("once") or "")[:64] or secrets.token_urlsafe(16)
        earlier = dict(session.get("org_enrol_once") or []).get(values["once"])
        if earlier is not None:  # the same form sent again: a double click, Back and resend
            flash(_("This person was already enrolled; nothing was done again."))
            return redirect(url("org.person", user_id=earlier))
        try:
            done = people.enrol(engine().db, current_user.id, values, engine().clock(),
                                base_url=base_url(),
                                hours=engine().settings.invite_hours)  # fmt: skip
        except FormInvalid as exc:
            errors = exc.errors
        else:
            _remember(values["once"], done.user_id)
            flash(_("%(name)s was enrolled with the login %(login)s; the invitation was sent by "
                    "SMS (and e-mail if given).", name=done.name, login=done.login))  # fmt: skip
            return redirect(url("org.person", user_id=done.user_id))
    page = render_template(
        "org/enrol.html",
        values=values,
        errors=say_fields(errors),
        units=[u for u in roster.units_in_scope(engine().db, current_user.id) if not u.closed],
        roles=roster.roles_offered(engine().db),
    )
    return page, 400 if errors else 200


def _remember(once: str, user_id: int) -> None:
    kept = [pair for pair in session.get("org_enrol_once") or [] if pair[0] != once]
    session["org_enrol_once"] = [*kept, [once, user_id]][-ONCE_KEPT:]


@bp.post("/admin/people/<id:user_id>/invite")
def resend_invite(user_id: int) -> Any:
    """重发邀请: a new link; the earlier ones stop working."""
    try:
        _link, expires_at = invitations.resend(
            engine().db, current_user.id, user_id, engine().clock(), base_url=base_url(),
            hours=engine().settings.invite_hours,
        )  # fmt: skip
    except Conflict:
        flash(_("This person is not waiting for an invitation; nothing was sent."))
    else:
        flash(_("A new invitation was sent; it is valid until %(time)s. Earlier links no longer "
                "work.", time=engine().local(expires_at)))  # fmt: skip
    return redirect(url("org.person", user_id=user_id))
