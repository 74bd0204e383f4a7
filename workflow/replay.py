"""Replay: a flow's audit events folded, in order, into the rows they imply (flow, visits, items, DINGs).

Each event kind has one small function that applies it to a :class:`Projection`, exactly as the
engine's action changed the rows when it appended the event (``workflow.engine.context``,
``core``, ``timeouts``, ``workflow.messages``, ``workflow.urge``). Every expected value remembers
the sequence number of the event that set it, so a difference can be named by its event.
``workflow.integrity`` compares the projection with the stored rows.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any, Protocol


class Event(Protocol):
    """What the replay reads of an ``audit_events`` row."""

    seq: int
    at: datetime
    actor_id: int | None
    kind: str
    data: dict[str, Any]


@dataclass
class Expected:
    """One row as the events say it is: its values by column, and the event that set each."""

    born: int
    values: dict[str, Any]
    src: dict[str, int] = field(default_factory=dict)

    def set(self, seq: int, **values: Any) -> None:
        self.values.update(values)
        for key in values:
            self.src[key] = seq

    def seq_of(self, column: str) -> int:
        return self.src.get(column, self.born)

    def __getitem__(self, column: str) -> Any:
        return self.values[column]


@dataclass
class Projection:
    """A flow's rows as its events imply them: visits by seq, work items and DINGs by id."""

    flow_id: int
    flow: Expected | None = None
    visits: dict[int, Expected] = field(default_factory=dict)
    items: dict[int, Expected] = field(default_factory=dict)
    dings: dict[int, Expected] = field(default_factory=dict)
    #: the seq of the flow's current visit
    current: int | None = None
    #: events whose data could not be applied (only a rewritten chain has them): (seq, why)
    unreadable: list[tuple[int, str]] = field(default_factory=list)


# --- the flow and its visits ---------------------------------------------------------------------


def _start(p: Projection, ev: Event) -> None:
    d = ev.data
    p.flow = Expected(ev.seq, {
        "definition_id": d.get("version"), "title": d.get("title"), "kind": d.get("flow_kind"),
        "form": d.get("form"), "initiator_id": ev.actor_id, "state": None, "outcome": None,
        "current_visit": None, "started_at": ev.at, "ended_at": None})  # fmt: skip


def _deliver(p: Projection, ev: Event) -> None:
    """A step entered (a new visit and its items), or, on an escalation, an item added to it."""
    d = ev.data
    seq, via = d["visit"], d.get("via")
    if seq not in p.visits:
        p.visits[seq] = Expected(ev.seq, {
            "step": d["step"], "via": via, "entered_at": ev.at, "entered_by": ev.actor_id,
            "left_at": None, "left_by": None, "rejected": False})  # fmt: skip
        p.current = seq
        if p.flow is not None:
            p.flow.set(ev.seq, state=d["step"], current_visit=seq)
    items = d.get("items", ())
    # the unit each person was in, [id, name] by item (Art. 11); an event without it (made
    # before units were recorded) leaves unit_id unchecked
    units = d.get("units") or [None] * len(items)
    for (item_id, user_id, role), unit in zip(items, units, strict=False):
        # Context.enter: a recipient is sent, not delivered; the initiator's first item and a
        # sender's item are confirmed at once.
        confirmed = via == "start" or role == "sender"
        p.items[item_id] = Expected(ev.seq, {
            "visit": seq, "user_id": user_id, "role": role, "status": "open",
            "delivered_at": None if role == "recipient" else ev.at,
            "confirmed_at": ev.at if confirmed else None, "handled_at": None, "closed_at": None,
            "closed_by": None, "action": None, "decision": None, "opinion": None,
            "hidden": False, "failure": None})  # fmt: skip
        if unit is not None:
            p.items[item_id].values["unit_id"] = unit[0]


def _leave(p: Projection, ev: Event) -> None:
    visit = p.visits.get(p.current) if p.current is not None else None
    if visit is not None:
        visit.set(ev.seq, left_at=ev.at, left_by=ev.actor_id)


def _close(p: Projection, ev: Event, state: str, outcome: str | None) -> None:
    _leave(p, ev)
    if p.flow is not None:
        p.flow.set(ev.seq, state=state, outcome=outcome, ended_at=ev.at)


# --- work items ----------------------------------------------------------------------------------


def _handle(p: Projection, ev: Event, item_id: int | None, action: str) -> None:
    """Context.handle_item: the handling effect, at the latest of now, delivery and confirmation."""
    it = p.items.get(item_id) if item_id is not None else None
    if it is None:
        return
    d = ev.data
    delivered, confirmed = it["delivered_at"], it["confirmed_at"]
    at = max([ev.at, *(t for t in (delivered, confirmed) if t is not None)])
    it.set(ev.seq, status="done", handled_at=at, closed_at=at, closed_by=ev.actor_id,
           action=action, opinion=d.get("opinion"), decision=d.get("decision"))  # fmt: skip
    if confirmed is None:
        it.set(ev.seq, confirmed_at=at)
    if delivered is None:
        it.set(ev.seq, delivered_at=at)


def _cancel(p: Projection, ev: Event, ids: Iterable[int], by: int | None) -> None:
    for item_id in ids:
        it = p.items.get(item_id)
        if it is not None:
            it.set(ev.seq, status="cancelled", closed_at=ev.at, closed_by=by)


def _confirm_item(p: Projection, ev: Event, it: Expected, at: datetime) -> None:
    it.set(ev.seq, confirmed_at=at)
    if it["delivered_at"] is None:
        it.set(ev.seq, delivered_at=at)


# --- one function per event kind -----------------------------------------------------------------


def _move(p: Projection, ev: Event) -> None:
    """forward, return: the host's item handled, the others cancelled, the visit left."""
    d = ev.data
    _handle(p, ev, d.get("item"), ev.kind)
    _cancel(p, ev, d.get("cancelled", ()), ev.actor_id)
    _leave(p, ev)


def _end(p: Projection, ev: Event) -> None:
    d = ev.data
    _handle(p, ev, d.get("item"), "end")
    _cancel(p, ev, d.get("cancelled", ()), ev.actor_id)
    _close(p, ev, "ended", d.get("outcome"))


def _withdraw(p: Projection, ev: Event) -> None:
    _cancel(p, ev, ev.data.get("cancelled", ()), ev.actor_id)
    _close(p, ev, "withdrawn", "revoked" if ev.kind == "revoke" else None)


def _part(p: Projection, ev: Event) -> None:
    """finish, sign; a message recipient's reply, relay, delete: their part of the step done.

    A second reply or relay records a bare ``{item}`` event that changes no row.
    """
    d = ev.data
    it = p.items.get(d.get("item"))
    if "cancelled" in d:
        _handle(p, ev, d.get("item"), ev.kind)
        if d.get("vetoed") and it is not None:
            visit = p.visits.get(it["visit"])
            if visit is not None:
                visit.set(ev.seq, rejected=True)
        _cancel(p, ev, d["cancelled"], ev.actor_id)
    if ev.kind == "delete" and it is not None:
        # messages.delete: a recipient's own item, or every sender item of that person
        if it["role"] == "sender":
            for other in p.items.values():
                if other["role"] == "sender" and other["user_id"] == it["user_id"]:
                    other.set(ev.seq, hidden=True)
        else:
            it.set(ev.seq, hidden=True)


def _timeout(p: Projection, ev: Event) -> None:
    """The system's action at a deadline: the host's item closed (no handling effect), then as
    forward or end; an escalation only closes it (its ``deliver`` event follows)."""
    d = ev.data
    it = p.items.get(d.get("item"))
    if it is not None and it["status"] == "open":
        it.set(ev.seq, status="cancelled", closed_at=ev.at, closed_by=None)
    if d.get("action") == "escalate":
        return
    _cancel(p, ev, d.get("cancelled", ()), ev.actor_id)
    if d.get("action") == "end":
        _close(p, ev, "ended", d.get("outcome"))
    else:
        _leave(p, ev)


def _confirm(p: Projection, ev: Event) -> None:
    it = p.items.get(ev.data.get("item"))
    if it is not None:
        delivered = it["delivered_at"]
        _confirm_item(p, ev, it, max(ev.at, delivered) if delivered is not None else ev.at)


def _new_ding(p: Projection, ev: Event, ding: int, item: int, user: int, channel: str) -> None:
    p.dings[ding] = Expected(ev.seq, {
        "item_id": item, "user_id": user, "sender_id": ev.actor_id, "channel": channel,
        "sent_at": ev.at, "status": "sent", "delivered_at": None, "failure": None,
        "confirmed_at": None})  # fmt: skip


def _urge(p: Projection, ev: Event) -> None:
    d = ev.data
    if d.get("ding") is not None:
        _new_ding(p, ev, d["ding"], d["item"], d["to"], d["channel"])


def _ding(p: Projection, ev: Event) -> None:
    for item, user, channel, ding in ev.data.get("to", ()):
        _new_ding(p, ev, ding, item, user, channel)


def _ding_confirm(p: Projection, ev: Event) -> None:
    d = ev.data
    for ding_id in d.get("dings", ()):
        ding = p.dings.get(ding_id)
        if ding is not None:
            ding.set(ev.seq, confirmed_at=ev.at)
    it = p.items.get(d.get("item"))
    if it is not None and it["confirmed_at"] is None:
        _confirm_item(p, ev, it, ev.at)


def _delivered(p: Projection, ev: Event) -> None:
    d = ev.data
    for item_id in d.get("items", ()):
        it = p.items.get(item_id)
        if it is not None:
            it.set(ev.seq, delivered_at=ev.at)
    ding = p.dings.get(d.get("ding"))
    if ding is not None:
        ding.set(ev.seq, status="delivered", delivered_at=ev.at, failure=None)


def _delivery_failed(p: Projection, ev: Event) -> None:
    d = ev.data
    ding = p.dings.get(d.get("ding"))
    if ding is not None:
        ding.set(ev.seq, status="failed", failure=d.get("reason"))
    it = p.items.get(d.get("item"))
    if it is not None and it["delivered_at"] is None:  # a delivered item keeps no failure
        it.set(ev.seq, failure=d.get("reason"))


def _reassign(p: Projection, ev: Event) -> None:
    """workflow.engine.reassign: the old item closed by the administrator (no handling effect);
    the successor's item delivered in the same visit, unless they kept one of that role there."""
    d = ev.data
    it = p.items.get(d["item"])
    if it is not None:
        it.set(
            ev.seq, status="cancelled", closed_at=ev.at, closed_by=ev.actor_id, action="reassign"
        )
    if not d.get("kept"):
        p.items[d["new"]] = Expected(ev.seq, {
            "visit": d["visit"], "user_id": d["to"], "role": d["role"], "status": "open",
            "delivered_at": ev.at, "confirmed_at": None, "handled_at": None, "closed_at": None,
            "closed_by": None, "action": None, "decision": None, "opinion": None,
            "hidden": False, "failure": None})  # fmt: skip
        if "to_unit" in d:  # the successor's unit when the item was made (Art. 11)
            p.items[d["new"]].values["unit_id"] = d["to_unit"]


def _nothing(p: Projection, ev: Event) -> None:
    """Events that change no row of the flow (a reminder queues deliveries only)."""


APPLY: dict[str, Callable[[Projection, Event], None]] = {
    "start": _start,
    "deliver": _deliver,
    "send": _deliver,
    "confirm": _confirm,
    "forward": _move,
    "return": _move,
    "end": _end,
    "withdraw": _withdraw,
    "revoke": _withdraw,
    "finish": _part,
    "sign": _part,
    "reply": _part,
    "relay": _part,
    "delete": _part,
    "timeout": _timeout,
    "urge": _urge,
    "ding": _ding,
    "ding_confirm": _ding_confirm,
    "delivered": _delivered,
    "delivery_failed": _delivery_failed,
    "remind": _nothing,
    "reassign": _reassign,
}


def replay(flow_id: int, events: Iterable[Event]) -> Projection:
    """Fold a flow's events (in chain order) into the rows they imply; unknown kinds change nothing."""
    p = Projection(flow_id)
    for ev in events:
        try:
            APPLY.get(ev.kind, _nothing)(p, ev)
        except (KeyError, TypeError, ValueError, AttributeError) as exc:
            # The engine never writes such an event: report it rather than stop the whole check.
            p.unreadable.append((ev.seq, f"{ev.kind} event cannot be replayed ({exc!r})"))
    return p
