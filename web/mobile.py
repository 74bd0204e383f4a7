"""我的设置 › 手机号 (Art. 8): a person changes their own number with a code sent to the new one;
an administrator changes a person's number directly (修改手机号 on the person's page).

Thin over ``workflow.org.mobile``: it validates, sends, counts tries and records each change on
the admin chain. A person outside the administrator's ``people`` scope is answered 404.
"""

from __future__ import annotations

from typing import Any

from flask import Blueprint, current_app, flash, redirect, render_template, request
from flask import url_for as url
from flask_babel import gettext as _
from flask_login import current_user

from web import engine
from web.errors import say, say_fields
from workflow.errors import FormInvalid, InvalidAction
from workflow.org import mobile

bp = Blueprint("mobile", __name__)


@bp.before_request
def _signed_in() -> Any:
    if not current_user.is_authenticated:
        return current_app.login_manager.unauthorized()  # type: ignore[attr-defined]
    return None


@bp.route("/me/mobile", methods=["GET", "POST"])
def index() -> Any:
    """Ask for a code to a new number (``action=send``), then enter it (``action=confirm``)."""
    db, now, me = engine().db, engine().clock(), current_user.id
    errors: dict[str, Any] = {}
    problem = ""
    if request.method == "POST":
        try:
            if request.form.get("action") == "confirm":
                number = mobile.confirm(db, me, request.form.get("code", ""), now)
                flash(_("Your mobile number is now %(number)s.", number=number))
                return redirect(url("mobile.index"))
            sent = mobile.request_change(db, me, request.form.get("mobile", ""), now)
            flash(_("A code was sent by SMS to %(number)s; enter it below within 10 minutes.",
                    number=sent.new_mobile))  # fmt: skip
            return redirect(url("mobile.index"))
        except FormInvalid as exc:
            errors = exc.errors
        except InvalidAction as exc:  # too many codes this hour
            problem = say(exc)
    _name, number = mobile.current(db, me)
    page = render_template(
        "mobile/index.html",
        number=number,
        pending=mobile.pending(db, me, now),
        errors=say_fields(errors),
        problem=problem,
        values=request.form if (errors or problem) else {},
    )
    return page, 400 if errors or problem else 200


@bp.route("/admin/people/<id:user_id>/mobile", methods=["GET", "POST"])
def admin_change(user_id: int) -> Any:
    """An administrator sets a person's number (recorded with them as the actor)."""
    db = engine().db
    card = mobile.card_for(db, current_user.id, user_id)  # 404 outside the scope
    errors: dict[str, Any] = {}
    if request.method == "POST":
        try:
            number = mobile.admin_set(db, current_user.id, user_id,
                                      request.form.get("mobile", ""), engine().clock())  # fmt: skip
        except FormInvalid as exc:
            errors = exc.errors
        else:
            flash(_("The mobile number of %(name)s is now %(number)s.", name=card.name,
                    number=number))  # fmt: skip
            return redirect(url("mobile.admin_change", user_id=user_id))
    page = render_template(
        "mobile/admin.html",
        card=card,
        errors=say_fields(errors),
        values=request.form if errors else {},
    )
    return page, 400 if errors else 200
