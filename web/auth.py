"""Signing in and out: argon2 passwords, a fresh sign-in session id each time, idle expiry."""

from __future__ import annotations

import secrets
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from typing import Any

from flask import Blueprint, Flask, current_app, flash, redirect, render_template, request, session
from flask import url_for as url
from flask_babel import gettext as _
from flask_login import (
    LoginManager,
    UserMixin,
    current_user,
    login_required,
    login_user,
    logout_user,
)
from sqlalchemy import insert, select, update

from web import local_path
from workflow.passwords import verify_password
from workflow.store.models import RoleMembership, SignInSession, Unit, User

bp = Blueprint("auth", __name__)
login_manager = LoginManager()
SEEN_EVERY = timedelta(minutes=1)  # last_seen is written at most this often per session


@dataclass
class WebUser(UserMixin):
    """The signed-in person as pages need them: id, names, unit, roles."""

    id: int
    login: str
    name: str
    unit: str
    sid: str
    roles: set[str] = field(default_factory=set)

    def get_id(self) -> str:
        return str(self.id)

    @property
    def is_admin(self) -> bool:
        return "admin" in self.roles


def init_app(app: Flask) -> None:
    login_manager.init_app(app)
    login_manager.login_view = "auth.login"
    login_manager.login_message = None
    app.jinja_env.globals["languages"] = ("zh", "en")


def _db() -> Any:
    return current_app.extensions["banli"].db


@login_manager.user_loader
def load_user(user_id: str) -> WebUser | None:
    """The person of this browser session, if that sign-in session is still open and not idle."""
    sid = session.get("sid")
    if not sid or not user_id.isdigit():
        return None
    now = datetime.now(UTC)
    with _db().read() as s:
        row = s.execute(
            select(SignInSession.last_seen_at, User.id, User.login, User.name, User.status,
                   Unit.name.label("unit"))
            .join(User, User.id == SignInSession.user_id)
            .join(Unit, Unit.id == User.unit_id)
            .where(SignInSession.id == sid, SignInSession.ended_at.is_(None),
                   User.id == int(user_id))
        ).first()  # fmt: skip
        if row is None or row.status != "active":
            return None
        roles = set(s.scalars(select(RoleMembership.role).where(RoleMembership.user_id == row.id)))
    if now - row.last_seen_at > current_app.config["IDLE_TIMEOUT"]:
        _end(sid, now)
        return None
    if now - row.last_seen_at > SEEN_EVERY:
        with _db().write() as s:
            s.execute(update(SignInSession).where(SignInSession.id == sid)
                      .values(last_seen_at=now))  # fmt: skip
    return WebUser(row.id, row.login, row.name, row.unit, sid, roles)


def _end(sid: str, now: datetime) -> None:
    with _db().write() as s:
        s.execute(update(SignInSession).where(SignInSession.id == sid).values(ended_at=now))


@bp.route("/login", methods=["GET", "POST"])
def login() -> Any:
    """Sign in with login and password."""
    if current_user.is_authenticated:
        return redirect(url("workbench.index"))
    error = None
    if request.method == "POST":
        name = request.form.get("login", "").strip()
        password = request.form.get("password", "")
        with _db().read() as s:
            user = s.execute(select(User.id, User.password_hash, User.status)
                             .where(User.login == name)).first()  # fmt: skip
        if (
            user is None
            or user.status != "active"
            or not verify_password(user.password_hash, password)
        ):
            error = _("Wrong login or password.")
        else:
            return _sign_in(user.id)
    return render_template("auth/login.html", error=error), 400 if error else 200


def _sign_in(user_id: int) -> Any:
    # A new session id at every sign-in: a session fixed before sign-in is worth nothing after.
    lang = session.get("lang")
    session.clear()
    sid = secrets.token_urlsafe(32)
    now = datetime.now(UTC)
    with _db().write() as s:
        s.execute(insert(SignInSession).values(
            id=sid, user_id=user_id, created_at=now, last_seen_at=now,
            user_agent=(request.user_agent.string or "")[:300], address=request.remote_addr))  # fmt: skip
    session["sid"] = sid
    if lang:
        session["lang"] = lang
    user = load_user(str(user_id))
    login_user(user)
    # Only local paths: an open redirect would let a link send people elsewhere after sign-in.
    return redirect(local_path(request.args.get("next")) or url("workbench.index"))


@bp.post("/logout")
@login_required
def logout() -> Any:
    """Sign out this browser."""
    _end(current_user.sid, datetime.now(UTC))
    logout_user()
    lang = session.get("lang")
    session.clear()
    if lang:
        session["lang"] = lang
    flash(_("You have signed out."))
    return redirect(url("auth.login"))


@bp.post("/lang")
def language() -> Any:
    """Switch the page language (zh / en) and go back to the page the person was on."""
    code = request.form.get("lang", "")
    if code in ("zh", "en"):
        session["lang"] = code
    return redirect(local_path(request.form.get("next")) or url("workbench.index"))
