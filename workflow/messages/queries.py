"""What people see: the received and sent lists, the unread count, one message as its viewer sees it."""

from __future__ import annotations

import math
from dataclasses import dataclass, field
from datetime import datetime
from typing import TYPE_CHECKING, Any

from sqlalchemy import Integer, and_, bindparam, exists, func, select

from workflow.engine import sql
from workflow.engine.sql import FLOWS, ITEMS, USERS, VISITS
from workflow.errors import Hidden, NotFound
from workflow.messages.common import MESSAGE, attachments_of, pending_ding, sent_time
from workflow.messages.hooks import revoke_until

if TYPE_CHECKING:
    from workflow.engine.core import Engine


@dataclass
class MessageRow:
    """One line of a message list."""

    flow_id: int
    item_id: int | None
    subject: str
    category: str | None
    sender: str
    sent_at: datetime
    files: int
    revoked: bool
    #: received: the person's item (unread / read / handled); sent: counts over recipients
    unread: bool = False
    action: str | None = None
    ding_pending: bool = False
    recipients: int = 0
    read: int = 0
    failed: int = 0


@dataclass
class MessageList:
    box: str  # received | sent
    rows: list[MessageRow]
    total: int
    page: int
    per_page: int

    @property
    def pages(self) -> int:
        return max(1, math.ceil(self.total / self.per_page))


@dataclass
class MessageView:
    """A message as one person sees it (the text is withheld from recipients once revoked)."""

    flow_id: int
    version: int
    subject: str
    body: str | None
    attachments: list[dict[str, Any]]
    category: str | None
    sender_id: int
    sender: str
    sent_at: datetime
    revoked: bool
    revoked_at: datetime | None
    reply_to: int | None
    relayed_from: int | None
    is_sender: bool
    recipients: int
    #: the viewer's own item as a recipient (None for the sender)
    item_id: int | None = None
    item_status: str | None = None
    confirmed_at: datetime | None = None
    action: str | None = None
    #: a DING to the viewer waits for their 确认收到
    ding_pending: bool = False
    #: until when the sender may revoke it (None: no longer, or not the sender)
    revoke_until: datetime | None = None
    unconfirmed: list[str] = field(default_factory=list)


def received(
    engine: Engine,
    user_id: int,
    *,
    page: int = 1,
    per_page: int = 20,
    query: str | None = None,
    unread: bool = False,
) -> MessageList:
    """Messages sent to the person and not deleted by them, newest first."""
    page, per_page = max(1, page), min(max(1, per_page), 100)
    sender = USERS.alias("sender")
    where = [ITEMS.c.user_id == user_id, ITEMS.c.role == sql.RECIPIENT, ITEMS.c.hidden.is_(False)]
    if unread:
        where += [ITEMS.c.confirmed_at.is_(None), ITEMS.c.status == "open"]
    if query and query.strip():
        where.append(FLOWS.c.title.ilike(f"%{_escape(query.strip())}%", escape="/"))
    joined = ITEMS.join(FLOWS, FLOWS.c.id == ITEMS.c.flow_id)
    with engine.db.read() as s:
        c = s.connection()
        # without a subject search the count needs no flow: the items' own index serves it
        counted = joined if query and query.strip() else ITEMS
        total = c.execute(select(func.count()).select_from(counted).where(*where)).scalar_one()
        rows = c.execute(
            select(
                ITEMS.c.id, ITEMS.c.status, ITEMS.c.confirmed_at, ITEMS.c.action,
                FLOWS.c.id.label("flow_id"), FLOWS.c.title, FLOWS.c.form, FLOWS.c.state,
                sender.c.name.label("sender"), VISITS.c.entered_at,
                pending_ding().label("ding_pending"),
            )
            .select_from(joined.join(sender, sender.c.id == FLOWS.c.initiator_id)
                         .join(VISITS, VISITS.c.id == ITEMS.c.visit_id))
            .where(*where)
            .order_by(ITEMS.c.id.desc())
            .limit(per_page)
            .offset((page - 1) * per_page)
        ).all()  # fmt: skip
    out = [
        MessageRow(
            flow_id=r.flow_id,
            item_id=r.id,
            subject=r.title,
            category=r.form.get("category"),
            sender=r.sender,
            sent_at=r.entered_at,
            files=len(attachments_of(r.form)),
            revoked=r.state == "withdrawn",
            unread=r.confirmed_at is None and r.state != "withdrawn",
            action=r.action,
            ding_pending=bool(r.ding_pending) and r.state != "withdrawn",
        )
        for r in rows
    ]
    return MessageList("received", out, total, page, per_page)


def sent(
    engine: Engine, user_id: int, *, page: int = 1, per_page: int = 20, query: str | None = None
) -> MessageList:
    """Messages the person sent and did not delete, newest first, with read and failed counts;
    ``query``: part of the subject, any case."""
    page, per_page = max(1, page), min(max(1, per_page), 100)
    hidden = exists().where(
        ITEMS.c.flow_id == FLOWS.c.id, ITEMS.c.user_id == user_id, ITEMS.c.role == "sender",
        ITEMS.c.hidden.is_(True),
    )  # fmt: skip
    where = [FLOWS.c.initiator_id == user_id, FLOWS.c.kind == MESSAGE, ~hidden]
    if query and query.strip():
        where.append(FLOWS.c.title.ilike(f"%{_escape(query.strip())}%", escape="/"))
    with engine.db.read() as s:
        c = s.connection()
        total = c.execute(select(func.count(FLOWS.c.id)).where(*where)).scalar_one()
        flows = c.execute(
            select(FLOWS.c.id, FLOWS.c.title, FLOWS.c.form, FLOWS.c.state, FLOWS.c.started_at)
            .where(*where)
            .order_by(FLOWS.c.id.desc())
            .limit(per_page)
            .offset((page - 1) * per_page)
        ).all()
        ids = [f.id for f in flows]
        counts = {
            r.flow_id: r
            for r in c.execute(
                select(
                    ITEMS.c.flow_id,
                    func.count().label("n"),
                    func.count(ITEMS.c.confirmed_at).label("read"),
                    func.sum(
                        and_(ITEMS.c.failure.is_not(None), ITEMS.c.delivered_at.is_(None)).cast(
                            Integer
                        )
                    ).label("failed"),
                )
                .where(ITEMS.c.flow_id.in_(ids), ITEMS.c.role == "recipient")
                .group_by(ITEMS.c.flow_id)
            )
        }
        name = c.execute(sql.USER_NAME, {"b_user": user_id}).scalar() or ""
    out = []
    for f in flows:
        n = counts.get(f.id)
        out.append(
            MessageRow(
                flow_id=f.id,
                item_id=None,
                subject=f.title,
                category=f.form.get("category"),
                sender=name,
                sent_at=f.started_at,
                files=len(attachments_of(f.form)),
                revoked=f.state == "withdrawn",
                recipients=n.n if n else 0,
                read=n.read if n else 0,
                failed=int(n.failed or 0) if n else 0,
            )
        )
    return MessageList("sent", out, total, page, per_page)


def _escape(text: str) -> str:
    return text.replace("/", "//").replace("%", "/%").replace("_", "/_")


def unread_count(engine: Engine, user_id: int) -> int:
    """Messages the person has not opened yet (revoked ones left out)."""
    with engine.db.read() as s:
        return s.connection().execute(_UNREAD, {"b_user": user_id}).scalar_one()


_UNREAD = (
    select(func.count())
    .select_from(ITEMS)
    .where(
        ITEMS.c.user_id == bindparam("b_user"),
        ITEMS.c.role == sql.RECIPIENT,
        ITEMS.c.confirmed_at.is_(None),
        # No hidden test: a deleted item is handled or cancelled, never open; and with one the
        # planner would walk the received index (user_id, hidden) instead of the small unread one.
        ITEMS.c.status == sql.OPEN,
    )
)


def view(engine: Engine, viewer_id: int, flow_id: int) -> MessageView:
    """The message as ``viewer_id`` sees it: its sender, a recipient, or an administrator.

    Raises NotFound if the flow is not a message or the viewer has no part in it.
    """
    with engine.db.read() as s:
        c = s.connection()
        flow = c.execute(
            select(*sql.FLOW_COLS, FLOWS.c.kind, FLOWS.c.started_at, FLOWS.c.ended_at,
                   USERS.c.name.label("sender"))
            .join(USERS, USERS.c.id == FLOWS.c.initiator_id)
            .where(FLOWS.c.id == flow_id)
        ).mappings().first()  # fmt: skip
        if flow is None or not engine.may_see(s, viewer_id, flow_id):
            raise Hidden("message_hidden", message=flow_id)
        if flow["kind"] != MESSAGE:
            raise NotFound("message_not_found", message=flow_id)
        item = c.execute(
            select(ITEMS.c.id, ITEMS.c.status, ITEMS.c.confirmed_at, ITEMS.c.action,
                   pending_ding().label("ding_pending"))
            .where(ITEMS.c.flow_id == flow_id, ITEMS.c.user_id == viewer_id,
                   ITEMS.c.role == "recipient")
            .order_by(ITEMS.c.id.desc())
            .limit(1)
        ).first()  # fmt: skip
        revoked = flow["state"] == "withdrawn"
        is_sender = flow["initiator_id"] == viewer_id
        recips = c.execute(
            select(ITEMS.c.confirmed_at, USERS.c.name)
            .join(USERS, USERS.c.id == ITEMS.c.user_id)
            .where(ITEMS.c.flow_id == flow_id, ITEMS.c.role == "recipient")
            .order_by(ITEMS.c.id)
        ).all()
        until = None
        if is_sender and not revoked:
            until = revoke_until(engine, c, dict(flow))
            if until is not None and engine.clock() > until:
                until = None
        sent_at = sent_time(c, flow_id)
    form = flow["form"]
    withheld = revoked and not is_sender
    return MessageView(
        flow_id=flow_id,
        version=flow["version"],
        subject=flow["title"],
        body=None if withheld else form.get("body"),
        attachments=[] if withheld else attachments_of(form),
        category=form.get("category"),
        sender_id=flow["initiator_id"],
        sender=flow["sender"],
        sent_at=sent_at,
        revoked=revoked,
        revoked_at=flow["ended_at"] if revoked else None,
        reply_to=form.get("reply_to"),
        relayed_from=form.get("relayed_from"),
        is_sender=is_sender,
        recipients=len(recips),
        item_id=item.id if item else None,
        item_status=item.status if item else None,
        confirmed_at=item.confirmed_at if item else None,
        action=item.action if item else None,
        ding_pending=bool(item and item.ding_pending) and not revoked,
        revoke_until=until,
        unconfirmed=[r.name for r in recips if r.confirmed_at is None] if is_sender else [],
    )
