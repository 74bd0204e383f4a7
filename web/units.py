"""组织架构 (Art. 7, 11): the unit tree an administrator keeps — create, rename, move and close
units, name their heads and grant the roles definitions assign by.

Thin over ``workflow.org.units`` and ``workflow.org.roles``: every act checks the viewer's
``people`` scope in the engine and is recorded on the admin chain there. A unit outside the
viewer's scope is answered 404, like one that does not exist. A refused form is shown again
with each problem by its field and every typed value kept.
"""

from __future__ import annotations

from typing import Any

from flask import Blueprint, abort, current_app, flash, redirect, render_template, request
from flask import url_for as url
from flask_babel import get_locale
from flask_babel import gettext as _
from flask_babel import lazy_gettext as _l
from flask_login import current_user

from web import engine
from web.errors import say, say_fields
from web.inputs import as_id
from workflow.errors import Conflict, Forbidden, FormInvalid, InvalidAction
from workflow.org import roles, units

bp = Blueprint("units", __name__)
KIND_LABELS = {
    "company": _l("Company"),
    "department": _l("Department"),
    "project": _l("Project team"),
    "branch": _l("Branch"),
    "subsidiary": _l("Subsidiary"),
}


@bp.before_request
def _administrators_only() -> Any:
    if not current_user.is_authenticated:
        return current_app.login_manager.unauthorized()  # type: ignore[attr-defined]
    if not current_user.may("people"):
        raise Forbidden("admin_only")
    return None


def _int(name: str) -> int | None:
    """An id the form chose, or None (absent, not a number, or out of range)."""
    return as_id(request.form.get(name))


def _role_label(role: str) -> str:
    zh, en = roles.LABELS.get(role, (role, role))
    return en if str(get_locale() or "").startswith("en") else zh


@bp.app_template_global("role_label")
def role_label(role: str) -> str:
    """A role in the reader's language (its word where it has no label)."""
    return _role_label(role)


@bp.route("/admin/units", methods=["GET", "POST"])
def index() -> Any:
    """The tree in the viewer's scope with its people counted; POST creates a unit."""
    errors: dict[str, Any] = {}
    if request.method == "POST":
        try:
            new = units.create(
                engine().db,
                current_user.id,
                code=request.form.get("code", ""),
                name=request.form.get("name", ""),
                kind=request.form.get("kind", ""),
                parent_id=_int("parent"),
                now=engine().clock(),
            )
        except FormInvalid as exc:
            errors = exc.errors
        else:
            flash(_("The unit %(name)s was created.", name=request.form.get("name", "").strip()))
            return redirect(url("units.unit", unit_id=new))
    page = render_template(
        "units/index.html",
        nodes=units.tree(engine().db, current_user.id),
        parents=units.open_units(engine().db, current_user.id),
        kinds=KIND_LABELS,
        errors=say_fields(errors),
        values=request.form if errors else {},
    )
    return page, 400 if errors else 200


def _unit(unit_id: int) -> units.UnitNode:
    """The unit, if the viewer administers it; 404 otherwise (as if it did not exist)."""
    found = next((n for n in units.tree(engine().db, current_user.id) if n.id == unit_id), None)
    if found is None:
        abort(404)
    return found


def _page(node: units.UnitNode, form: str = "", errors: Any = None, problem: str = "") -> Any:
    return render_template(
        "units/unit.html",
        node=node,
        parents=[(i, n) for i, n in units.open_units(engine().db, current_user.id) if i != node.id],
        held=roles.held_in(engine().db, node.id),
        vocabulary=roles.vocabulary_of(engine().db, engine().registry),
        people=roles.people_in_scope(engine().db, current_user.id),
        kinds=KIND_LABELS,
        form=form,
        errors=say_fields(errors or {}),
        problem=problem,
        values=request.form if (errors or problem) else {},
    ), (400 if errors or problem else 200)


@bp.get("/admin/units/<id:unit_id>")
def unit(unit_id: int) -> Any:
    """One unit: rename, move, close; its heads and roles."""
    return _page(_unit(unit_id))


@bp.post("/admin/units/<id:unit_id>/<any(rename, move, close, grant, revoke):act>")
def act(unit_id: int, act: str) -> Any:
    """One act on a unit; a refusal shows the unit page again with the problem by its field."""
    node = _unit(unit_id)
    db, now, me = engine().db, engine().clock(), current_user.id
    role = request.form.get("role", "")
    try:
        if act == "rename":
            units.rename(db, me, unit_id, request.form.get("name", ""), now)
            flash(_("The unit was renamed."))
        elif act == "move":
            units.move(db, me, unit_id, _int("parent"), now)
            flash(_("The unit was moved."))
        elif act == "close":
            units.close(db, me, unit_id, now)
            flash(_("The unit was closed."))
        elif act == "grant":
            roles.grant(db, engine().registry, me, unit_id, _int("person"), role, now)
            flash(_("The role %(role)s was granted.", role=_role_label(role)))
        else:
            roles.revoke(db, me, unit_id, _int("person") or 0, role, now)
            flash(_("The role %(role)s was revoked.", role=_role_label(role)))
    except FormInvalid as exc:
        return _page(_unit(unit_id), act, exc.errors)
    except (InvalidAction, Conflict) as exc:
        return _page(_unit(unit_id), act, problem=say(exc))
    return redirect(url("units.unit", unit_id=node.id))
