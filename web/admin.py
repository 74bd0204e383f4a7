"""Administration: system jobs (系统任务) and sign-in security (登录安全), administrators only.

Thin over ``workflow.jobs``: the counts by status, the dead-lettered jobs newest first with their
last error, and ``retry``; over ``workflow.signin``: refused sign-ins newest first, the accounts
and addresses that must wait or are locked, and ``lift``. Both acts are recorded on the ``admin``
audit chain. System jobs need the capability ``jobs``; sign-in security ``people`` over the whole company
(refused logins and addresses belong to no unit: ``workflow.access``); anyone else gets 403.
"""

from __future__ import annotations

from typing import Any

from flask import Blueprint, current_app, flash, redirect, render_template, request
from flask import url_for as url
from flask_babel import gettext as _
from flask_babel import lazy_gettext as _l
from flask_login import current_user

from web import engine
from web.messages import CHANNELS
from workflow import signin
from workflow.delivery import KIND as DELIVER
from workflow.delivery import recipient_names
from workflow.errors import Forbidden, InvalidAction, NotFound
from workflow.jobs import STATUSES, JobRecord, dead_jobs, job_counts, retry

bp = Blueprint("admin", __name__)
DEAD_SHOWN = 200  # the newest dead jobs the page lists
ATTEMPTS_SHOWN = 200  # the newest refused sign-ins the page lists
STATUS_LABELS = {
    "pending": _l("Pending"),
    "running": _l("Running"),
    "done": _l("Completed"),
    "dead": _l("Failed"),
}
KIND_LABELS = {
    DELIVER: _l("Delivery"),
    "remind": _l("Deadline reminder"),
    "timeout": _l("Timeout action"),
}


@bp.before_request
def _administrators_only() -> Any:
    if not current_user.is_authenticated:
        return current_app.login_manager.unauthorized()  # type: ignore[attr-defined]
    if request.endpoint in ("admin.jobs", "admin.retry_job"):
        if not current_user.may("jobs"):
            raise Forbidden("admin_only_jobs")
    elif not current_user.may_everywhere("people"):
        raise Forbidden("admin_only")
    return None


@bp.app_context_processor
def _nav() -> dict[str, Any]:
    """``dead_job_count()`` for the navigation badge (asked only for administrators)."""
    return {"dead_job_count": _dead_count}


def _dead_count() -> int:
    if not current_user.is_authenticated or not current_user.may("jobs"):
        return 0
    return job_counts(engine().db, ("dead",))["dead"]


@bp.get("/admin/jobs")
def jobs() -> Any:
    """The jobs by status and the dead-lettered ones, newest first, each with a retry button."""
    db = engine().db
    counts = job_counts(db)
    dead = dead_jobs(db, limit=DEAD_SHOWN)
    return render_template(
        "admin/jobs.html",
        counts=counts,
        statuses=STATUSES,
        status_labels=STATUS_LABELS,
        dead=dead,
        deliveries=_deliveries(dead),
        kind_labels=KIND_LABELS,
        shown=DEAD_SHOWN,
    )


@bp.post("/admin/jobs/<id:job_id>/retry")
def retry_job(job_id: int) -> Any:
    """重新执行: the dead job is pending again, due now; the page says so."""
    try:
        job = retry(engine().db, job_id, current_user.id, engine().clock())
    except InvalidAction as exc:  # not dead (any more): retried by someone else, or a stale page
        status = str(exc.params.get("status", ""))
        flash(_("Job %(id)s is not failed (it is %(status)s); nothing was changed.",
                id=job_id, status=STATUS_LABELS.get(status, status)))  # fmt: skip
        return redirect(url("admin.jobs"))
    flash(_("Job %(id)s will run again: it is pending, due now.", id=job.id))
    return redirect(url("admin.jobs"))


REASON_LABELS = {
    "unknown_login": _l("No such login"),
    "wrong_password": _l("Wrong password"),
    "inactive": _l("Account not active"),
    "too_soon": _l("Too soon after failures"),
    "locked": _l("Locked"),
}
SCOPE_LABELS = {signin.ACCOUNT: _l("Login"), signin.ADDRESS: _l("Network address")}


@bp.get("/admin/sign-ins")
def signins() -> Any:
    """登录安全: who must wait or is locked (with a button to lift it), and refused sign-ins."""
    now = engine().clock()
    return render_template(
        "admin/signins.html",
        waits=signin.current_waits(engine().db, now),
        attempts=signin.recent_attempts(engine().db, ATTEMPTS_SHOWN),
        reason_labels=REASON_LABELS,
        scope_labels=SCOPE_LABELS,
        shown=ATTEMPTS_SHOWN,
    )


@bp.post("/admin/sign-ins/lift")
def lift_lock() -> Any:
    """解除锁定: the account's or address's failures are forgotten; the page says so."""
    scope, key = request.form.get("scope", ""), request.form.get("key", "")
    label = SCOPE_LABELS.get(scope, scope)
    try:
        signin.lift(engine().db, scope, key, current_user.id, engine().clock())
    except NotFound:  # lifted by someone else, or the count expired meanwhile
        flash(_("%(scope)s %(key)s has no failed sign-ins counted; nothing was changed.",
                scope=label, key=key))  # fmt: skip
        return redirect(url("admin.signins"))
    flash(_("%(scope)s %(key)s may sign in again now.", scope=label, key=key))
    return redirect(url("admin.signins"))


def _deliveries(found: list[JobRecord]) -> dict[int, dict[str, Any]]:
    """For each ``deliver`` job (by id): the recipient's name, the channel and the subject."""
    payloads = {job.id: job.payload for job in found if job.kind == DELIVER}
    names = recipient_names(engine().db, found)
    out = {}
    for job_id, payload in payloads.items():
        user_id, channel = payload.get("user_id"), payload.get("kind")
        out[job_id] = {
            "user_id": user_id,
            # a mailbox that is no user's (the auditors') is shown by its address
            "name": names.get(user_id) if isinstance(user_id, int) else payload.get("address"),
            "channel": CHANNELS.get(channel, channel) if isinstance(channel, str) else None,
            "subject": payload.get("subject"),
        }
    return out
