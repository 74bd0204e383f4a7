"""调动 and 离职: the move and remove dialogs of a person (Art. 11-12), over ``workflow.org.leavers``.

Both pages are for administrators whose ``people`` scope covers the person's unit; to anyone
else the person is not there (404, from the engine's ``Hidden``). The remove dialog lists the
person's open work items first, then the successor chooser, the definitions naming them, and
a confirmation; the result page lists what was handed to whom. A second click (or a second
administrator) meets "already removed by X at T".
"""

from __future__ import annotations

from typing import Any

from flask import Blueprint, current_app, render_template, request
from flask_login import current_user

from web import engine
from web.errors import say, say_fields
from workflow.errors import Conflict, FormInvalid, InvalidAction
from workflow.org import leavers
from workflow.refusals import FieldError

bp = Blueprint("leavers", __name__)


@bp.before_request
def _signed_in() -> Any:
    if not current_user.is_authenticated:
        return current_app.login_manager.unauthorized()  # type: ignore[attr-defined]
    return None


def _id(value: str | None) -> int | None:
    """A person id chosen in a select; blank or unreadable is "nobody"."""
    value = (value or "").strip()
    return int(value) if value.isdigit() and len(value) < 12 else None


def _ids(values: list[str]) -> list[int]:
    return [i for i in (_id(v) for v in values) if i is not None]


@bp.route("/admin/people/<id:person_id>/remove", methods=["GET", "POST"])
def remove(person_id: int) -> Any:
    """The leaver's open items first, the successor, the definitions naming them; confirm."""
    eng = engine()
    plan = leavers.plan(eng, current_user.id, person_id)  # 404 outside the actor's scope
    errors: dict[str, Any] = {}
    problem = None
    if request.method == "POST" and plan.person.status != "removed":
        if not request.form.get("confirm"):
            errors["confirm"] = FieldError("field_required")
        else:
            try:
                result = leavers.remove(eng, current_user.id, person_id,
                                        _id(request.form.get("successor")), at=eng.clock())  # fmt: skip
                return render_template("leavers/done.html", result=result, removed=True)
            except FormInvalid as exc:
                errors = dict(exc.errors)
            except Conflict as exc:  # a second click, or another administrator first
                problem = say(exc)
            except InvalidAction as exc:
                problem = say(exc)
            plan = leavers.plan(eng, current_user.id, person_id)
    page = render_template(
        "leavers/remove.html",
        plan=plan,
        people=leavers.candidates(eng, current_user.id, person_id),
        errors=say_fields(errors),
        problem=problem,
        chosen=_id(request.form.get("successor")),
    )
    failed = request.method == "POST" and (errors or problem)
    return page, (409 if problem else 400) if failed else 200


@bp.route("/admin/people/<id:person_id>/move", methods=["GET", "POST"])
def move(person_id: int) -> Any:
    """Another unit for the person; tick open items (or all) to hand them to a successor."""
    eng = engine()
    plan = leavers.plan(eng, current_user.id, person_id)
    errors: dict[str, Any] = {}
    problem = None
    ticked = _ids(request.form.getlist("item"))
    if request.form.get("all"):
        ticked = [i.item_id for i in plan.items]
    if request.method == "POST":
        successor = _id(request.form.get("successor"))
        try:
            result = leavers.move(eng, current_user.id, person_id, request.form.get("unit", ""),
                                  at=eng.clock(), successor_id=successor if ticked else None,
                                  items=ticked)  # fmt: skip
            return render_template("leavers/done.html", result=result, removed=False)
        except FormInvalid as exc:
            errors = dict(exc.errors)
        except InvalidAction as exc:
            problem = say(exc)
    page = render_template(
        "leavers/move.html",
        plan=plan,
        units=leavers.units(eng, current_user.id),
        people=leavers.candidates(eng, current_user.id, person_id),
        errors=say_fields(errors),
        problem=problem,
        ticked=set(ticked),
        chosen=_id(request.form.get("successor")),
        unit=request.form.get("unit", ""),
    )
    return page, 400 if request.method == "POST" else 200
