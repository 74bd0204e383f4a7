"""Sending a message: a new one, a reply to its sender, a relay to others; who it goes to."""

from __future__ import annotations

from collections.abc import Iterable
from typing import TYPE_CHECKING, Any

from sqlalchemy import Connection, select, update

from workflow.engine import sql
from workflow.engine.context import Action, ActionInput, Outcome
from workflow.engine.people import _subtree
from workflow.engine.sql import UNITS, USERS
from workflow.errors import FormInvalid, InvalidAction, NotFound
from workflow.limits import MESSAGE_BODY_MAX, NOTE_MAX, SUBJECT_MAX, too_long, without_bidi
from workflow.messages.actions import fire_ding
from workflow.messages.common import MAX_RECIPIENTS, MESSAGE, SENT, require_message, sent_time
from workflow.messages.keys import KEYS, claim_key

if TYPE_CHECKING:
    from workflow.engine.core import Engine


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
            earlier = claim_key(s, sender_id, request_key, engine.clock())
            if earlier is not None:
                return earlier
        a = _start(engine, s, sender_id, form, to_users, to_units)
        if ding:
            fire_ding(a, None, channel)
        out = a.write_flow()
        if request_key is not None:
            a.conn.execute(
                update(KEYS)
                .where(KEYS.c.user_id == sender_id, KEYS.c.key == request_key)
                .values(flow_id=out.flow_id)
            )
        return out


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
    ids = recipients(a.conn, sender_id, to_users, to_units)
    a.input = ActionInput(people=(None, ids, None))
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
        sender = a.conn.execute(sql.USER_NAME, {"b_user": original["initiator_id"]}).scalar()
        sent_at = sent_time(a.conn, original["id"])
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


def _own_message_item(engine: Engine, s: Any, user_id: int, item_id: int) -> Action:
    a = Action(engine, s, user_id, engine.clock())
    a.load_item(item_id)
    require_message(a)
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
        a.input = ActionInput(action=action)
        a.fire("finish")
    else:
        a.event(action, item=a.item["id"])
    # A recipient's part leaves the message as its sender's page shows it (revocable): no bump.
    a.bump = False


def _prefixed(prefix: str, subject: str) -> str:
    subject = subject if subject.startswith(prefix) else prefix + subject
    return subject[:SUBJECT_MAX]
