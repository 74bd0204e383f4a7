"""The ``deliver`` job: send one message to one person through the channel for its kind.

Payload: ``{"user_id": int, "kind": "sms" | "voice" | "email", "subject": str, "body": str,
"key": str}``. The address comes from the user's row when the job runs (mobile for sms / voice,
e-mail for email), so a changed number is used (Art. 8) — unless the payload names an
``"address"`` (the code of a mobile change goes to the new number, workflow/org/mobile.py). A
mailbox that is no user's (the auditors', see workflow/anchors.py) is queued with
:func:`enqueue_mail_to`: its payload carries ``"address"`` and ``"to_name"`` instead of
``"user_id"``.

A :class:`~workflow.channels.ChannelError` propagates: the worker retries with back-off and
dead-letters after ``max_attempts`` (see :mod:`workflow.jobs`). A
:class:`~workflow.channels.PermanentFailure` is not retried: the handler dead-letters the job at
once with the reason as ``last_error`` (the worker then counts the job as ``refused``, as it
would for any job no longer leased to it).
"""

from __future__ import annotations

import logging
from collections.abc import Callable, Mapping
from datetime import datetime
from typing import Any

from sqlalchemy import select

from workflow.channels import KINDS, Channel, ChannelError, Outgoing, PermanentFailure, Receipt
from workflow.jobs import GiveUp, Handler, JobRecord, enqueue
from workflow.store.db import ConnectionOrSession, Database
from workflow.store.models import User

log = logging.getLogger(__name__)
KIND = "deliver"
ADDRESS = {"sms": "mobile", "voice": "mobile", "email": "email"}


def enqueue_delivery(
    tx: ConnectionOrSession,
    user_id: int,
    kind: str,
    subject: str,
    body: str,
    key: str,
    due_at: datetime,
    max_attempts: int = 5,
    now: datetime | None = None,
    extra: dict[str, Any] | None = None,
) -> bool:
    """Queue a delivery in the caller's transaction; False if ``key`` is queued already.

    The job key is ``deliver:<key>``; ``key`` itself travels to the channel (the e-mail's
    Message-ID) so that a resend after a lost acknowledgement is recognisable. ``extra`` goes
    into the payload for the handler's hooks (a DING's ``ding_id``).
    """
    if kind not in KINDS:
        raise ValueError(f"unknown delivery kind {kind!r}; expected one of {', '.join(KINDS)}")
    payload = {**(extra or {}), "user_id": user_id, "kind": kind, "subject": subject,
               "body": body, "key": key}  # fmt: skip
    return enqueue(tx, KIND, f"{KIND}:{key}", payload, due_at, max_attempts=max_attempts, now=now)


def enqueue_mail_to(
    tx: ConnectionOrSession,
    address: str,
    name: str,
    subject: str,
    body: str,
    key: str,
    due_at: datetime,
    now: datetime | None = None,
) -> bool:
    """Queue an e-mail to an address that is no user's; False if ``key`` is queued already."""
    payload = {"address": address, "to_name": name, "kind": "email", "subject": subject,
               "body": body, "key": key}  # fmt: skip
    return enqueue(tx, KIND, f"{KIND}:{key}", payload, due_at, now=now)


def outgoing_for(db: Database, payload: Mapping[str, Any], job_key: str) -> Outgoing:
    """The message the payload describes, addressed from the user's current row."""
    kind = payload.get("kind")
    if kind not in ADDRESS:
        raise PermanentFailure(f"unknown delivery kind {kind!r}")
    if "user_id" not in payload and kind == "email":  # a mailbox, not a person (enqueue_mail_to)
        address = str(payload.get("address") or "").strip()
        if not address:
            raise PermanentFailure("no e-mail address in the delivery")
        return Outgoing(
            to_user_id=None,
            to_name=str(payload.get("to_name") or ""),
            address=address,
            subject=str(payload.get("subject") or ""),
            body=str(payload.get("body") or ""),
            kind="email",
            key=str(payload.get("key") or job_key),
        )
    user_id = payload.get("user_id")
    with db.read() as s:
        user = s.get(User, user_id) if isinstance(user_id, int) else None
    if user is None:
        raise PermanentFailure(f"no user {user_id!r}")
    if user.status == "removed":
        raise PermanentFailure(f"user {user.id} ({user.name}) has been removed")
    # a code sent to a number not yet the person's (a mobile change, Art. 8) names it
    address = str(payload.get("address") or getattr(user, ADDRESS[kind]) or "").strip()
    if not address:
        raise PermanentFailure(f"user {user.id} ({user.name}) has no {ADDRESS[kind]} for {kind}")
    return Outgoing(
        to_user_id=user.id,
        to_name=user.name,
        address=address,
        subject=str(payload.get("subject") or ""),
        body=str(payload.get("body") or ""),
        kind=kind,
        key=str(payload.get("key") or job_key),
    )


def make_deliver_handler(
    db: Database,
    channels: Mapping[str, Channel],
    on_sent: Callable[[JobRecord, Receipt], None] | None = None,
    on_failed: Callable[[JobRecord, str], None] | None = None,
) -> Handler:
    """The ``deliver`` handler for ``Worker.handler("deliver")``, sending through ``channels``.

    ``on_sent`` (optional) hears of each accepted send, e.g. to record delivery on a message;
    ``on_failed`` of each delivery that fails for good (no retry left, or none can help), with
    the reason, before the worker dead-letters the job.
    """

    def deliver(job: JobRecord) -> None:
        try:
            message = outgoing_for(db, job.payload, job.key)
            channel = channels.get(message.kind)
            if channel is None:
                raise PermanentFailure(f"no channel configured for {message.kind}")
            receipt = channel.send(message)  # ChannelError propagates: retried with back-off
        except PermanentFailure as exc:  # no retry can mend it: dead-lettered at once
            if on_failed is not None:
                on_failed(job, str(exc))
            raise GiveUp(str(exc)) from exc
        except ChannelError as exc:
            if on_failed is not None and job.attempts >= job.max_attempts:
                on_failed(job, f"{exc} (after {job.attempts} attempts)")
            raise
        log.info("delivery job %s sent by %s: %s", job.id, receipt.channel, receipt.provider_id)
        if on_sent is not None:
            on_sent(job, receipt)

    return deliver


def recipient_names(db: Database, found: list[JobRecord]) -> dict[int, str]:
    """The names of the people ``deliver`` jobs among ``found`` are addressed to, by user id."""
    ids = {
        job.payload.get("user_id")
        for job in found
        if job.kind == KIND and isinstance(job.payload.get("user_id"), int)
    }
    if not ids:
        return {}
    with db.read() as s:
        return dict(s.execute(select(User.id, User.name).where(User.id.in_(ids))).all())
