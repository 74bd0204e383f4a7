"""Messages and DINGs (Art. 19-20): flows of ``definitions/message.yaml`` on the same engine.

A message is one flow. :func:`send` starts it and forwards it at once to its ``sent`` step,
which delivers one work item per recipient (users, and the active members of units and of the
units below them, expanded at send time). A recipient's item carries the life-cycle as the
three legal effects of Art. 6:

- *sent*: the item exists, ``delivered_at`` empty;
- *delivered*: :func:`mark_delivered` (the person's device fetched their messages) or a channel
  accepted a DING to them (:func:`ding_delivered`);
- *failed*: a channel delivery failed for good (:func:`ding_failed`): the reason is kept in
  ``failure``, and it is never a delivery effect;
- *confirmed* (已读): opened (:func:`read`), a file downloaded, or a DING confirmed;
- *handled*: replied (:func:`reply`), relayed (:func:`relay`) or deleted (:func:`delete`).

The sender may :func:`revoke` (撤回) within the step's ``revoke_within``; recipients then see
"已撤回" instead of the text. :func:`ding` fires the step's ``ding`` transition, whose guard
takes one of the sender's daily DINGs in the database (``workflow.dings``, shared with urging) and whose
callback queues one channel delivery per recipient. Every change appends to the flow's audit
chain, in the same transaction as the change.
"""

from __future__ import annotations

import math
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from typing import TYPE_CHECKING, Any

from sqlalchemy import Connection, Integer, and_, bindparam, exists, func, select, update
from sqlalchemy import delete as delete_
from sqlalchemy.dialects.postgresql import insert as pg_insert
from sqlalchemy.dialects.sqlite import insert as sqlite_insert

from workflow import calendar, dings
from workflow.access import may_see_receipts
from workflow.channels import KINDS
from workflow.engine import sql
from workflow.engine.context import Action, Outcome
from workflow.engine.history import dings_of
from workflow.engine.hooks import Trigger, register_trigger
from workflow.engine.people import _subtree
from workflow.engine.records import DingState
from workflow.engine.sql import FLOWS, ITEMS, UNITS, USERS, VISITS
from workflow.errors import FlowClosed, Forbidden, FormInvalid, Hidden, InvalidAction, NotFound
from workflow.limits import MESSAGE_BODY_MAX, NOTE_MAX, SUBJECT_MAX, too_long, without_bidi
from workflow.refusals import Duration, quoted
from workflow.store.models import Ding, RequestKey

if TYPE_CHECKING:
    from workflow.engine.core import Engine

DINGS = Ding.__table__
KEYS = RequestKey.__table__
MESSAGE = "message"
SENT = "sent"
#: The most people one message may reach (units are expanded to their members).
MAX_RECIPIENTS = 5000
#: how long a compose form's one-time key is remembered against a second send
KEY_KEPT = timedelta(days=7)


class RevokeExpired(InvalidAction):
    """The time the definition allows for revoking a message has passed."""


class NobodyToDing(InvalidAction):
    """Every recipient asked for has already confirmed the message (or none is left)."""


# --- records -----------------------------------------------------------------------------------


@dataclass
class Receipt:
    """One recipient's state as the sender sees it."""

    item_id: int
    user_id: int
    name: str
    unit: str
    #: revoked | deleted | replied | relayed | read | delivered | failed | sent
    status: str
    delivered_at: datetime | None
    confirmed_at: datetime | None
    handled_at: datetime | None
    action: str | None
    failure: str | None
    ding: DingState | None = None


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


# --- sending -----------------------------------------------------------------------------------


def send(
    engine: Engine,
    sender_id: int,
    *,
    subject: str,
    body: str = "",
    to_users: Iterable[int] = (),
    to_units: Iterable[int] = (),
    attachments: list[dict[str, Any]] | None = None,
    category: str | None = None,
    ding: bool = False,
    channel: str | None = None,
    request_key: str | None = None,
) -> Outcome:
    """Send a message (one transaction): one flow, one work item per recipient.

    Args:
        to_users, to_units: user ids and unit ids; units are expanded to their active members
            (and those of the units below) now; the sender is left out; each person once.
        attachments: stored files (``workflow.files``), as the form's ``files`` field takes them.
        ding: send it as a DING at once (work arrangement, meeting, schedule): takes one of the
            sender's daily DINGs and queues a delivery to every recipient.
        channel: the DING's channel (sms, voice, email); default each recipient's own setting.
        request_key: the compose form's one-time key (at most 64 characters): sending with a
            key this sender used before sends nothing and returns the message sent then, even
            when both sends run at the same time.
    Raises:
        InvalidAction (no recipient, too many), FormInvalid (subject missing or too long),
        DingQuotaExceeded, NotFound (an unknown unit or user).
    """
    form = _form(subject, body, attachments, category)
    with engine.db.transaction() as s:
        if request_key is not None:
            earlier = _claim_key(s, sender_id, request_key, engine.clock())
            if earlier is not None:
                return earlier
        a = _start(engine, s, sender_id, form, to_users, to_units)
        if ding:
            _fire_ding(a, None, channel)
        out = a.write_flow()
        if request_key is not None:
            a.c.execute(
                update(KEYS)
                .where(KEYS.c.user_id == sender_id, KEYS.c.key == request_key)
                .values(flow_id=out.flow_id)
            )
        return out


def _claim_key(s: Any, user_id: int, key: str, now: datetime) -> Outcome | None:
    """Take ``key`` for this send, or return what the earlier send with it made.

    PostgreSQL: a second insert of the same key waits for the first transaction and then
    finds its row; SQLite: writers are serialised by BEGIN IMMEDIATE.
    """
    if not key or len(key) > 64:
        raise InvalidAction("request_key_invalid")
    conn = s if isinstance(s, Connection) else s.connection()
    # A form is sent within minutes of opening it: older keys of this sender can go.
    conn.execute(delete_(KEYS).where(KEYS.c.user_id == user_id, KEYS.c.created_at < now - KEY_KEPT))
    insert_ = pg_insert if conn.dialect.name == "postgresql" else sqlite_insert
    taken = conn.execute(
        insert_(KEYS)
        .values(user_id=user_id, key=key, created_at=now)
        .on_conflict_do_nothing(index_elements=["user_id", "key"])
        .returning(KEYS.c.key)
    ).first()
    if taken is not None:
        return None
    flow_id = conn.execute(
        select(KEYS.c.flow_id).where(KEYS.c.user_id == user_id, KEYS.c.key == key)
    ).scalar()
    flow = conn.execute(select(FLOWS.c.state, FLOWS.c.version).where(FLOWS.c.id == flow_id)).first()
    if flow is None:  # cannot happen: the key and its flow are written in one transaction
        raise InvalidAction("request_key_lost")
    return Outcome(flow_id, flow.state, flow.version)


def _form(
    subject: str,
    body: str,
    attachments: list[dict[str, Any]] | None,
    category: str | None,
    **links: int,
) -> dict[str, Any]:
    subject = without_bidi(subject) if isinstance(subject, str) else subject
    form: dict[str, Any] = {"subject": subject, "body": body or None}
    if attachments:
        form["attachments"] = attachments
    if category:
        form["category"] = category
    form.update(links)
    return form


def _start(
    engine: Engine,
    s: Any,
    sender_id: int,
    form: dict[str, Any],
    to_users: Iterable[int],
    to_units: Iterable[int],
) -> Action:
    a = Action(engine, s, sender_id, engine.clock())
    engine.begin(a, MESSAGE, form)
    ids = recipients(a.c, sender_id, to_users, to_units)
    a.params = {"people": (None, ids, None)}
    a.fire("forward", to=SENT)
    return a


def recipients(
    conn: Connection, sender_id: int, to_users: Iterable[int], to_units: Iterable[int]
) -> list[int]:
    """The people a message goes to: the users named and the active members of the units named
    (with the units below them), without the sender, each once, in the order named."""
    users, units = list(dict.fromkeys(to_users)), list(dict.fromkeys(to_units))
    found: dict[int, None] = {}
    if users:
        rows = dict(
            conn.execute(select(USERS.c.id, USERS.c.status).where(USERS.c.id.in_(users))).all()
        )
        missing = [u for u in users if u not in rows]
        if missing:
            raise NotFound("user_not_found", user=missing[0])
        for u in users:
            if rows[u] != "active":
                raise InvalidAction("recipient_inactive", user=u)
            found[u] = None
    if units:
        codes = dict(
            conn.execute(select(UNITS.c.id, UNITS.c.code).where(UNITS.c.id.in_(units))).all()
        )
        missing = [u for u in units if u not in codes]
        if missing:
            raise NotFound("unit_not_found", unit=missing[0])
        for unit in units:
            tree = _subtree(conn, codes[unit])
            members = conn.execute(
                select(USERS.c.id)
                .where(USERS.c.unit_id.in_(tree), USERS.c.status == "active")
                .order_by(USERS.c.id)
            ).scalars()
            found.update(dict.fromkeys(members))
    found.pop(sender_id, None)
    if not found:
        raise InvalidAction("message_no_recipient")
    if len(found) > MAX_RECIPIENTS:
        raise InvalidAction("message_too_many_recipients", max=MAX_RECIPIENTS, count=len(found))
    return list(found)


# --- the recipient's actions -------------------------------------------------------------------


def read(engine: Engine, user_id: int, item_id: int) -> Outcome:
    """The recipient opened the message: confirmation (已读) and, if not yet, delivery."""
    return engine.open(user_id, item_id)


def confirm_ding(engine: Engine, user_id: int, item_id: int) -> int:
    """The person clicked 确认收到 on a DING of their work item (a message's DING, or an urge
    on an approval step): every open DING of the item is confirmed, and the item is confirmed
    (read) if it was not. Returns how many DINGs it confirmed (0 if none was waiting: a second
    click changes nothing)."""
    with engine.db.transaction() as s:
        a = Action(engine, s, user_id, engine.clock())
        a.load_item(item_id)
        assert a.item is not None
        waiting = DINGS.c.item_id == item_id, DINGS.c.confirmed_at.is_(None)
        confirmed = (
            a.c.execute(
                update(DINGS).where(*waiting).values(confirmed_at=a.now).returning(DINGS.c.id)
            )
            .scalars()
            .all()
        )
        if not confirmed:
            return 0
        if a.item["confirmed_at"] is None:
            a.c.execute(sql.CONFIRM, {"b_item": item_id, "b_at": a.now})
        a.event("ding_confirm", item=item_id, dings=list(confirmed))
        a.bump = False
        a.write_flow()
        return len(confirmed)


def reply(
    engine: Engine,
    user_id: int,
    item_id: int,
    *,
    body: str,
    attachments: list[dict[str, Any]] | None = None,
) -> Outcome:
    """Reply to the sender (one transaction): a new message to them, linked by ``reply_to``;
    the recipient's item is handled (replied) if it was still open."""
    if not (body or "").strip() and not attachments:
        raise InvalidAction("reply_empty")
    with engine.db.transaction() as s:
        a = _own_message_item(engine, s, user_id, item_id)
        original, sender = a.flow, a.flow["initiator_id"]
        _handle(a, "reply")
        a.write_flow()
        subject = _prefixed("回复：", original["form"].get("subject") or original["title"])
        form = _form(subject, body, attachments, None, reply_to=original["id"])
        return _start(engine, s, user_id, form, [sender], []).write_flow()


def relay(
    engine: Engine,
    user_id: int,
    item_id: int,
    *,
    to_users: Iterable[int] = (),
    to_units: Iterable[int] = (),
    note: str = "",
) -> Outcome:
    """Relay (转发) a received message to others (one transaction): a new message with the same
    subject, text and files after the person's note; their item is handled (relayed)."""
    problem = too_long(note or "", NOTE_MAX)
    if problem:
        raise FormInvalid({"note": problem})
    with engine.db.transaction() as s:
        a = _own_message_item(engine, s, user_id, item_id)
        original = a.flow
        form_in = original["form"]
        sender = a.c.execute(sql.USER_NAME, {"b_user": original["initiator_id"]}).scalar()
        sent_at = _sent_at(a.c, original["id"])
        quoted = (
            f"———— 转发的消息 ————\n发件人：{sender}\n时间：{engine.local(sent_at)}\n"
            f"主题：{form_in.get('subject') or original['title']}\n\n{form_in.get('body') or ''}"
        )
        body = f"{note.strip()}\n\n{quoted}" if (note or "").strip() else quoted
        _handle(a, "relay")
        a.write_flow()
        subject = _prefixed("转发：", form_in.get("subject") or original["title"])
        form = _form(
            subject, body[:MESSAGE_BODY_MAX], form_in.get("attachments"), form_in.get("category"),
            relayed_from=original["id"],
        )  # fmt: skip
        return _start(engine, s, user_id, form, to_users, to_units).write_flow()


def delete(engine: Engine, user_id: int, item_id: int) -> Outcome:
    """Delete a message from the person's own list (for them only). An open recipient item is
    handled (deleted); the sender's items are only hidden. Deleting twice changes nothing."""
    with engine.db.transaction() as s:
        a = Action(engine, s, user_id, engine.clock())
        a.load_item(item_id)
        _require_message(a)
        assert a.item is not None
        if a.item["role"] == "recipient" and a.item["status"] == "open":
            a.params = {"action": "delete"}
            a.fire("finish")
        elif _hidden(a.c, item_id):
            return Outcome(a.flow["id"], a.flow["state"], a.flow["version"], item_id)
        else:
            a.event("delete", item=item_id)
        a.bump = False  # for that person only: the sender's page is not stale
        if a.item["role"] == "sender":
            mine = and_(ITEMS.c.flow_id == a.flow["id"], ITEMS.c.user_id == user_id,
                        ITEMS.c.role == "sender")  # fmt: skip
        else:
            mine = ITEMS.c.id == item_id
        a.c.execute(update(ITEMS).where(mine).values(hidden=True))
        return a.write_flow()


def delete_sent(engine: Engine, sender_id: int, flow_id: int) -> Outcome:
    """The sender deletes a message from their sent list (recipients keep theirs)."""
    with engine.db.read() as s:
        item = s.scalar(
            select(ITEMS.c.id)
            .where(ITEMS.c.flow_id == flow_id, ITEMS.c.user_id == sender_id,
                   ITEMS.c.role == "sender")
            .order_by(ITEMS.c.id.desc())
            .limit(1)
        )  # fmt: skip
    if item is None:
        raise NotFound("message_not_sent_by_you", message=flow_id)
    return delete(engine, sender_id, item)


def _own_message_item(engine: Engine, s: Any, user_id: int, item_id: int) -> Action:
    a = Action(engine, s, user_id, engine.clock())
    a.load_item(item_id)
    _require_message(a)
    assert a.item is not None
    if a.item["role"] != "recipient":
        raise InvalidAction("reply_not_recipient")
    if a.flow["state"] == "withdrawn":
        raise a._moved_on()
    return a


def _handle(a: Action, action: str) -> None:
    """The recipient's handling effect, once: a second reply or relay leaves the item as it is."""
    assert a.item is not None
    if a.item["status"] == "open":
        a.params = {"action": action}
        a.fire("finish")
    else:
        a.event(action, item=a.item["id"])
    # A recipient's part leaves the message as its sender's page shows it (revocable): no bump.
    a.bump = False


def _prefixed(prefix: str, subject: str) -> str:
    subject = subject if subject.startswith(prefix) else prefix + subject
    return subject[:SUBJECT_MAX]


def _require_message(a: Action) -> None:
    if a.compiled is None or a.compiled.spec.kind != MESSAGE:
        raise InvalidAction("not_a_message", flow=a.flow["id"])


def _hidden(conn: Connection, item_id: int) -> bool:
    return bool(conn.execute(select(ITEMS.c.hidden).where(ITEMS.c.id == item_id)).scalar())


# --- the sender's actions ----------------------------------------------------------------------


def revoke(engine: Engine, sender_id: int, flow_id: int, *, version: int | None = None) -> Outcome:
    """The sender takes the message back (撤回) within the definition's ``revoke_within``.

    Every open recipient item is closed; recipients see "已撤回" and no longer the text.
    Raises: Forbidden (not the sender), FlowClosed (revoked already), RevokeExpired.
    """
    with engine.db.transaction() as s:
        a = _senders_action(engine, s, sender_id, flow_id, "revoke", version)
        a.fire("revoke")
        return a.write_flow(ended_at=a.now, outcome="revoked")


def _senders_action(
    engine: Engine, s: Any, sender_id: int, flow_id: int, verb: str, version: int | None
) -> Action:
    """The sender's action on their message, locked and checked: theirs, not revoked, current."""
    a = Action(engine, s, sender_id, engine.clock())
    a.load_flow(flow_id)
    _require_message(a)
    if a.flow["initiator_id"] != sender_id:
        raise Forbidden("revoke_not_sender" if verb == "revoke" else "ding_not_sender")
    if a.flow["state"] == "withdrawn":
        raise a._moved_on()
    a.require_open(version)
    return a


def revoke_until(engine: Engine, conn: Connection, flow: dict[str, Any]) -> datetime | None:
    """Until when the message may be revoked; None once closed or where it may not be."""
    compiled = engine.registry.get(conn, flow["definition_id"])
    step = compiled.spec.steps.get(flow["state"])
    if step is None or step.revoke_within is None:
        return None
    return calendar.due_at(_sent_at(conn, flow["id"]), step.revoke_within, engine.tz)


def revoke_allowed(a: Action) -> bool:
    """Guard of ``revoke``: within ``revoke_within`` of sending (raises RevokeExpired if not)."""
    until = revoke_until(a.engine, a.c, a.flow)
    if until is None or a.now > until:
        step = a.compiled.step(a.visit["step"])  # type: ignore[union-attr]
        if until is None:
            raise RevokeExpired("revoke_closed")
        raise RevokeExpired(
            "revoke_expired",
            within=Duration(step.revoke_within),
            until=until.astimezone(a.engine.tz),
        )
    return True


@dataclass
class DingResult:
    """What a DING did: the people it went to and the sender's DINGs used today."""

    user_ids: list[int]
    used: int


def ding(
    engine: Engine,
    sender_id: int,
    flow_id: int,
    *,
    user_ids: Sequence[int] | None = None,
    channel: str | None = None,
) -> DingResult:
    """Turn the message into a DING (钉) for recipients who have not confirmed it.

    One DING of the sender's daily quota, whatever the number of people. ``user_ids``: some of
    the recipients (default: all who have not confirmed). ``channel``: sms, voice or email
    (default: each person's own setting). Raises Forbidden (not the sender), FlowClosed,
    NobodyToDing, DingQuotaExceeded.
    """
    with engine.db.transaction() as s:
        a = _senders_action(engine, s, sender_id, flow_id, "DING", None)
        _fire_ding(a, user_ids, channel)
        a.write_flow()
        return DingResult([t[1] for t in a.params["ding_targets"]], a.params["ding_used"])


def _fire_ding(a: Action, user_ids: Sequence[int] | None, channel: str | None) -> None:
    if channel is not None and channel not in KINDS:
        raise InvalidAction("channel_unknown", value=quoted(channel), allowed=list(KINDS))
    a.params = {"user_ids": user_ids, "channel": channel}
    a.fire("ding")
    a.bump = False


def ding_allowed(a: Action) -> bool:
    """Guard of ``ding``: someone is left to DING, and the sender has a DING left today."""
    rows = a.c.execute(
        select(ITEMS.c.id, ITEMS.c.user_id, ITEMS.c.confirmed_at, USERS.c.ding_channel)
        .join(USERS, USERS.c.id == ITEMS.c.user_id)
        .where(
            ITEMS.c.visit_id == a.visit["id"],
            ITEMS.c.role == "recipient",
            ITEMS.c.status != "cancelled",
        )
        .order_by(ITEMS.c.id)
    ).all()
    wanted = a.params.get("user_ids")
    if wanted is not None:
        known = {r.user_id for r in rows}
        strangers = [u for u in wanted if u not in known]
        if strangers:
            raise InvalidAction("ding_not_recipient", user=strangers[0])
        rows = [r for r in rows if r.user_id in set(wanted)]
    targets = [r for r in rows if r.confirmed_at is None]
    if not targets:
        raise NobodyToDing("nobody_to_ding")
    a.params["ding_targets"] = [
        (r.id, r.user_id, a.params.get("channel") or r.ding_channel or "sms") for r in targets
    ]
    a.params["ding_used"] = dings.take(a)
    return True


def dinged(a: Action) -> None:
    """After ``ding``: one DING record and one queued channel delivery per person, one event."""
    title = a.flow["title"]
    body = f"{a.actor_name}给您发了一条钉消息：「{title}」。请打开 Banli 查看，并点击“确认收到”。"
    sent = []
    for item_id, user_id, channel in a.params["ding_targets"]:
        ding_id = dings.record(
            a, item_id, user_id, channel, f"【DING】{title}", body, "ding:{ding}"
        )
        sent.append([item_id, user_id, channel, ding_id])
    a.event("ding", step=a.visit["step"], to=sent, used=a.params["ding_used"])


# --- delivery and its failure ------------------------------------------------------------------


def mark_delivered(engine: Engine, user_id: int, limit: int = 500) -> int:
    """The person's device fetched their messages: every message sent to them and not yet
    delivered now has its delivery effect. Cheap when there is none (one indexed read)."""
    with engine.db.read() as s:
        pending = s.execute(_UNDELIVERED, {"b_user": user_id, "b_limit": limit}).all()
    if not pending:
        return 0
    done = 0
    with engine.db.transaction() as s:
        by_flow: dict[int, list[int]] = {}
        for item_id, flow_id in pending:
            by_flow.setdefault(flow_id, []).append(item_id)
        for flow_id, items in sorted(by_flow.items()):
            a = Action(engine, s, user_id, engine.clock())
            a.load_flow(flow_id)
            changed = a.c.execute(
                update(ITEMS)
                .where(ITEMS.c.id.in_(items), ITEMS.c.delivered_at.is_(None),
                       ITEMS.c.status != "cancelled")
                .values(delivered_at=a.now)
                .returning(ITEMS.c.id)
            ).scalars().all()  # fmt: skip
            if changed:
                a.event("delivered", items=list(changed), via="app")
                a.bump = False
                a.write_flow()
                done += len(changed)
    return done


_UNDELIVERED = (
    select(ITEMS.c.id, ITEMS.c.flow_id)
    .where(ITEMS.c.user_id == bindparam("b_user"), ITEMS.c.delivered_at.is_(None))
    .order_by(ITEMS.c.id)
    .limit(bindparam("b_limit"))
)


def ding_delivered(engine: Engine, ding_id: int, via: str, at: datetime | None = None) -> bool:
    """A channel accepted the DING: it is delivered, and so is the message if it was not yet."""
    return _ding_outcome(engine, ding_id, at, via=via)


def ding_failed(engine: Engine, ding_id: int, reason: str, at: datetime | None = None) -> bool:
    """The DING's delivery failed for good: shown as failed with the reason; no delivery effect."""
    return _ding_outcome(engine, ding_id, at, failure=reason)


def _ding_outcome(
    engine: Engine, ding_id: int, at: datetime | None, via: str = "", failure: str | None = None
) -> bool:
    with engine.db.transaction() as s:
        conn = s if isinstance(s, Connection) else s.connection()
        row = conn.execute(select(DINGS).where(DINGS.c.id == ding_id)).first()
        # A job runs at least once: record each outcome once. A DING that failed may still be
        # delivered later (an administrator retried its dead job): success then wins.
        if row is None or row.status == "delivered" or (failure and row.status == "failed"):
            return False
        a = Action(engine, s, row.user_id, at or engine.clock())
        a.load_flow(row.flow_id)
        if failure is None:
            values: dict[str, Any] = {"status": "delivered", "delivered_at": a.now, "failure": None}
        else:
            values = {"status": "failed", "failure": failure[:1000]}
        a.c.execute(update(DINGS).where(DINGS.c.id == ding_id).values(**values))
        if failure is None:
            first = a.c.execute(
                update(ITEMS)
                .where(ITEMS.c.id == row.item_id, ITEMS.c.delivered_at.is_(None))
                .values(delivered_at=a.now)
            ).rowcount
            a.event("delivered", items=[row.item_id] if first else [], ding=ding_id, via=via)
        else:
            a.c.execute(
                update(ITEMS)
                .where(ITEMS.c.id == row.item_id, ITEMS.c.delivered_at.is_(None))
                .values(failure=failure[:1000])
            )
            a.event("delivery_failed", item=row.item_id, ding=ding_id, reason=failure[:1000])
        a.bump = False
        a.write_flow()
        return True


# --- what people see ---------------------------------------------------------------------------


def _sent_at(conn: Connection, flow_id: int) -> datetime:
    """When the message was sent: when it entered its ``sent`` step."""
    at = conn.execute(
        select(VISITS.c.entered_at)
        .where(VISITS.c.flow_id == flow_id, VISITS.c.step == SENT)
        .order_by(VISITS.c.id)
        .limit(1)
    ).scalar()
    if at is None:
        raise NotFound("message_never_sent", message=flow_id)
    return at


def _files(form: dict[str, Any]) -> list[dict[str, Any]]:
    files = form.get("attachments")
    return list(files) if isinstance(files, list) else []


def _pending_ding() -> Any:
    return exists().where(DINGS.c.item_id == ITEMS.c.id, DINGS.c.confirmed_at.is_(None))


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
                _pending_ding().label("ding_pending"),
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
            files=len(_files(r.form)),
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
                files=len(_files(f.form)),
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
                   _pending_ding().label("ding_pending"))
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
        sent_at = _sent_at(c, flow_id)
    form = flow["form"]
    withheld = revoked and not is_sender
    return MessageView(
        flow_id=flow_id,
        version=flow["version"],
        subject=flow["title"],
        body=None if withheld else form.get("body"),
        attachments=[] if withheld else _files(form),
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


def receipts(engine: Engine, viewer_id: int, flow_id: int) -> list[Receipt]:
    """Per recipient: sent, failed (with the reason), delivered, read, handled, and their DING.

    Only the sender and administrators see them. Raises NotFound, Forbidden.
    """
    with engine.db.read() as s:
        c = s.connection()
        flow = c.execute(
            select(FLOWS.c.initiator_id, FLOWS.c.kind, FLOWS.c.state).where(FLOWS.c.id == flow_id)
        ).first()
        if flow is None or not engine.may_see(s, viewer_id, flow_id):
            raise Hidden("message_hidden", message=flow_id)
        if flow.kind != MESSAGE:
            raise NotFound("message_not_found", message=flow_id)
        if not may_see_receipts(c, viewer_id, flow.initiator_id):
            raise Forbidden("receipts_not_sender")
        rows = c.execute(
            select(ITEMS.c.id, ITEMS.c.user_id, ITEMS.c.status, ITEMS.c.delivered_at,
                   ITEMS.c.confirmed_at, ITEMS.c.handled_at, ITEMS.c.action, ITEMS.c.failure,
                   USERS.c.name, UNITS.c.name.label("unit"))
            .join(USERS, USERS.c.id == ITEMS.c.user_id)
            .join(UNITS, UNITS.c.id == USERS.c.unit_id)
            .where(ITEMS.c.flow_id == flow_id, ITEMS.c.role == "recipient")
            .order_by(ITEMS.c.id)
        ).all()  # fmt: skip
        dings = dings_of(c, flow_id)
    return [
        Receipt(
            item_id=r.id,
            user_id=r.user_id,
            name=r.name,
            unit=r.unit,
            status=_status(r, flow.state),
            delivered_at=r.delivered_at,
            confirmed_at=r.confirmed_at,
            handled_at=r.handled_at,
            action=r.action,
            failure=r.failure if r.delivered_at is None else None,
            ding=dings.get(r.id),
        )
        for r in rows
    ]


HANDLED = {"reply": "replied", "relay": "relayed", "delete": "deleted"}


def _status(r: Any, state: str) -> str:
    if r.status == "done":
        return HANDLED.get(r.action, "read")
    if r.status == "cancelled" and state == "withdrawn" and r.confirmed_at is None:
        return "revoked"
    if r.confirmed_at is not None:
        return "read"
    if r.delivered_at is not None:
        return "delivered"
    return "failed" if r.failure else "sent"


__all__ = [
    "DingResult",
    "FlowClosed",
    "MessageList",
    "MessageRow",
    "MessageView",
    "NobodyToDing",
    "Receipt",
    "RevokeExpired",
    "confirm_ding",
    "delete",
    "delete_sent",
    "ding",
    "ding_delivered",
    "ding_failed",
    "mark_delivered",
    "read",
    "received",
    "recipients",
    "relay",
    "reply",
    "revoke",
    "send",
    "sent",
    "unread_count",
    "view",
]  # fmt: skip


def delivery_hooks(engine: Engine) -> dict[str, Any]:
    """``on_sent`` / ``on_failed`` for :func:`workflow.delivery.make_deliver_handler`: record a
    DING's delivery or failure on the message (a delivery without ``ding_id`` is left alone)."""

    def on_sent(job: Any, receipt: Any) -> None:
        ding_id = job.payload.get("ding_id")
        if isinstance(ding_id, int):
            ding_delivered(engine, ding_id, receipt.channel)

    def on_failed(job: Any, reason: str) -> None:
        ding_id = job.payload.get("ding_id")
        if isinstance(ding_id, int):
            ding_failed(engine, ding_id, reason)

    return {"on_sent": on_sent, "on_failed": on_failed}


# --- the person's own settings -----------------------------------------------------------------


def ding_channel(engine: Engine, user_id: int) -> str:
    """How DINGs reach the person when the sender leaves the channel to them (sms, voice, email)."""
    with engine.db.read() as s:
        found = s.execute(select(USERS.c.ding_channel).where(USERS.c.id == user_id)).scalar()
    if found is None:
        raise NotFound("user_not_found", user=user_id)
    return found if found in KINDS else "sms"


def set_ding_channel(engine: Engine, user_id: int, channel: str) -> str:
    """Choose how DINGs reach the person (``sms``, ``voice`` or ``email``); returns it.

    Raises InvalidAction (unknown channel), NotFound (no such person).
    """
    if channel not in KINDS:
        raise InvalidAction("channel_unknown", value=quoted(channel), allowed=list(KINDS))
    with engine.db.transaction() as conn:
        changed = conn.execute(
            update(USERS).where(USERS.c.id == user_id).values(ding_channel=channel)
        ).rowcount
    if not changed:
        raise NotFound("user_not_found", user=user_id)
    return channel


# --- the message machine's triggers (see workflow.engine.hooks) --------------------------------

register_trigger(
    "message",
    Trigger("revoke", where=lambda step: step.revoke_within is not None,
            guard=revoke_allowed, dest="withdrawn"),
)  # fmt: skip
register_trigger("message", Trigger("ding", where=lambda step: step.ding, guard=ding_allowed,
                                    after=dinged))  # fmt: skip
