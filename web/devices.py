"""登录设备 (Art. 14-15): my open sessions, ending one or all others; an administrator ends all
of a person's sessions. Thin over ``workflow.org.devices``; an ended session's browser is sent to
sign-in with a notice on its next request (``web.auth.load_user``)."""

from __future__ import annotations

from typing import Any

from flask import Blueprint, current_app, flash, redirect, render_template, request
from flask import url_for as url
from flask_babel import gettext as _
from flask_login import current_user

from web import engine, local_path
from workflow.org import devices

bp = Blueprint("devices", __name__)


@bp.before_request
def _signed_in() -> Any:
    if not current_user.is_authenticated:
        return current_app.login_manager.unauthorized()  # type: ignore[attr-defined]
    return None


def _idle() -> Any:
    return current_app.config["IDLE_TIMEOUT"]


def device_label(device: devices.Device) -> str:
    """ "Chrome 120 · Windows", "微信 · iPhone": the browser, then the device or system."""
    browser = _("WeChat") if device.browser == "WeChat" else device.browser
    parts = [browser or _("Unknown browser"), device.system or _("unknown device")]
    return " · ".join(parts)


@bp.get("/me/devices")
def index() -> Any:
    """My open sessions, this one first and marked, each with 结束 and 全部退出 for the others."""
    found = devices.my_devices(engine().db, current_user.id, engine().clock(), _idle(),
                               current_sid=current_user.sid)  # fmt: skip
    return render_template("account/devices.html", devices=found, label=device_label)


@bp.post("/me/devices/<handle>/end")
def end(handle: str) -> Any:
    """End one of my sessions (not this one: that is 退出登录); another's handle is 404."""
    devices.end_mine(engine().db, current_user.id, handle[:64], engine().clock())
    flash(_("That session was ended; its browser will be asked to sign in again."))
    return redirect(url("devices.index"))


@bp.post("/me/devices/end-others")
def end_others() -> Any:
    """Sign out everywhere else: every session of mine but this one ends."""
    n = devices.end_others(engine().db, current_user.id, current_user.sid, engine().clock())
    flash(_("%(n)s other session(s) were ended; only this one stays signed in.", n=n))
    return redirect(url("devices.index"))


@bp.post("/admin/people/<id:user_id>/sessions/end")
def end_all_for(user_id: int) -> Any:
    """结束全部登录: an administrator with ``people`` over the person's unit ends all of their
    sessions (recorded on the admin chain); a person outside the scope is 404."""
    n = devices.end_all_for(engine().db, current_user.id, user_id, engine().clock())
    flash(_("%(n)s session(s) of this person were ended.", n=n))
    back = local_path(request.form.get("next"))
    if back:
        return redirect(back)
    if "org.person" in current_app.view_functions:
        return redirect(url("org.person", user_id=user_id))
    return redirect(url("devices.index"))
