"""激活账号: the invitation link (Art. 10) — the invited person sets a password, then signs in.

Open to anyone holding a valid link (no sign-in). An unknown, used, replaced or expired link
gets one page that does not say which it was.
"""

from __future__ import annotations

from typing import Any

from flask import Blueprint, flash, redirect, render_template, request
from flask import url_for as url
from flask_babel import gettext as _

from web import engine
from web.errors import say, say_fields
from workflow.errors import FormInvalid, NotFound
from workflow.org import invitations

bp = Blueprint("invite", __name__)


@bp.route("/invite/<token>", methods=["GET", "POST"])
def accept(token: str) -> Any:
    """Greet the invited person and take their new password (twice)."""
    try:
        invited = invitations.look_up(engine().db, token, engine().clock())
    except NotFound as exc:
        return _invalid(exc)
    errors: dict[str, Any] = {}
    if request.method == "POST":
        password = request.form.get("password", "")
        try:
            invitations.accept(engine().db, token, password, request.form.get("confirm", ""),
                               engine().clock())  # fmt: skip
        except FormInvalid as exc:
            errors = exc.errors
        except NotFound as exc:  # used meanwhile (the same link sent twice)
            return _invalid(exc)
        else:
            flash(_("Your account is active. Sign in with your login %(login)s and the password "
                    "you chose.", login=invited.login))  # fmt: skip
            return redirect(url("auth.login"))
    page = render_template("invite/accept.html", invited=invited, errors=say_fields(errors),
                           minimum=invitations.PASSWORD_MIN)  # fmt: skip
    return page, 400 if errors else 200


def _invalid(exc: NotFound) -> Any:
    return render_template("invite/invalid.html", message=say(exc)), 404
