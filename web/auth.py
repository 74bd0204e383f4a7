"""Signing in and out: argon2 passwords, throttled failures, a fresh session id each time, idle expiry."""

from __future__ import annotations

import math
from dataclasses import dataclass, field
from datetime import UTC, datetime
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

from web import engine, local_path
from workflow import sessions, signin
from workflow.org import devices

bp = Blueprint("auth", __name__)
login_manager = LoginManager()


@dataclass
class WebUser(UserMixin):
    """The signed-in person as pages need them: id, names, unit, roles."""

    id: int
    login: str
    name: str
    unit: str
    sid: str
    roles: set[str] = field(default_factory=set)
    #: workflow.access.is_admin (the main administrator), asked once per request
    admin: bool = False
    #: the capabilities they administer somewhere (workflow.access.admin_scope)
    capabilities: frozenset[str] = frozenset()
    #: those they administer over the whole company
    company: frozenset[str] = frozenset()

    def get_id(self) -> str:
        return str(self.id)

    @property
    def is_admin(self) -> bool:
        """The main administrator: powers over every flow."""
        return self.admin

    @property
    def administers(self) -> bool:
        """Whether they hold any administrative capability (the 管理 navigation)."""
        return bool(self.capabilities)

    def may(self, capability: str) -> bool:
        """Whether they hold ``capability`` somewhere (pages then ask the engine per unit)."""
        return capability in self.capabilities

    def may_everywhere(self, capability: str) -> bool:
        """Whether they hold ``capability`` over the whole company."""
        return capability in self.company


def init_app(app: Flask) -> None:
    login_manager.init_app(app)
    login_manager.login_view = "auth.login"
    login_manager.login_message = None
    app.jinja_env.globals["languages"] = ("zh", "en")


def _db() -> Any:
    return current_app.extensions["banli"].db


@login_manager.user_loader
def load_user(user_id: str) -> WebUser | None:
    """The person of this browser session, if that sign-in session is still open and not idle.

    A session ended elsewhere (登录设备, or by an administrator) sends this browser to sign-in
    with a notice, once: the session id is dropped from the cookie."""
    sid = session.get("sid")
    if not sid or not user_id.isdigit():
        return None
    idle = current_app.config["IDLE_TIMEOUT"]
    found = sessions.look_up(_db(), sid, int(user_id), datetime.now(UTC), idle, engine().tz)
    if found is None:
        if devices.was_ended(_db(), sid, int(user_id), idle):
            flash(_("This session was ended from another device or by an administrator. "
                    "Please sign in again."))  # fmt: skip
        session.pop("sid", None)
        return None
    return WebUser(found.user_id, found.login, found.name, found.unit, sid, found.roles,
                   found.admin, found.capabilities, found.company)  # fmt: skip


@bp.route("/login", methods=["GET", "POST"])
def login() -> Any:
    """Sign in with login and password; failures are throttled per account and per address."""
    if current_user.is_authenticated:
        return redirect(url("workbench.index"))
    if request.method != "POST":  # GET, and HEAD (which Flask routes here too): no attempt
        return render_template("auth/login.html", error=None, wait=None)
    out = signin.sign_in(_db(), request.form.get("login", ""), request.form.get("password", ""),
                         request.remote_addr, request.user_agent.string,
                         engine().clock())  # fmt: skip
    if out.user_id is not None:
        return _sign_in(out.user_id)
    # One sentence for a wrong password, an unknown login and a removed account alike; the
    # right password of a removed account says so (only its owner can know that password).
    error = _("Wrong login or password.") if out.refused == "wrong" else None
    if out.refused == "removed":
        error = _("This account has been closed: the person has left the organisation. Ask "
                  "your administrator if this is a mistake.")  # fmt: skip
    page = render_template("auth/login.html", error=error, wait=_wait_sentence(out.wait))
    if out.refused != "blocked":
        return page, 400
    retry_after = max(1, math.ceil((out.wait.until - engine().clock()).total_seconds()))
    return page, 429, {"Retry-After": str(retry_after)}


def _wait_sentence(wait: signin.Wait | None) -> str | None:
    """When the next attempt is accepted, in the organisation's local time."""
    if wait is None:
        return None
    if wait.locked:
        at = engine().local(wait.until)
        if wait.scope == signin.ADDRESS:
            return _(
                "Too many failed sign-ins from your network address: signing in from it is "
                "locked until %(time)s. An administrator can lift the lock sooner.",
                time=at,
            )
        return _("Too many failed sign-ins: this login is locked until %(time)s. An administrator "
                 "can lift the lock sooner.", time=at)  # fmt: skip
    at = engine().stamp(wait.until)
    if wait.scope == signin.ADDRESS:
        return _("Too many failed sign-ins from your network address: the next attempt is "
                 "accepted after %(time)s.", time=at)  # fmt: skip
    return _("Too many failed sign-ins: the next attempt is accepted after %(time)s.", time=at)


def _sign_in(user_id: int) -> Any:
    # A new session id at every sign-in: a session fixed before sign-in is worth nothing after.
    lang = session.get("lang")
    session.clear()
    sid = sessions.open_session(_db(), user_id, datetime.now(UTC), request.user_agent.string,
                                request.remote_addr, engine().tz)  # fmt: skip
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
    sessions.end_session(_db(), current_user.sid, datetime.now(UTC))
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
