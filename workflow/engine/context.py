"""One action in progress: the rows it loaded, the machine it fires, the rows and events it writes."""

from __future__ import annotations

import math
from dataclasses import dataclass, field
from datetime import datetime
from typing import TYPE_CHECKING, Any

from sqlalchemy import Connection
from transitions import MachineError

from workflow.audit import GENESIS, PendingEvent, chain_rows
from workflow.engine import sql
from workflow.engine.hooks import entered
from workflow.engine.people import unit_of
from workflow.errors import (
    AlreadyHandled,
    FlowClosed,
    InvalidAction,
    NotFound,
    NotYourItem,
    RoleNotAllowed,
    StaleVersion,
    WaitingRuleUnmet,
)
from workflow.machine import CompiledDefinition, FlowModel
from workflow.refusals import Either, Term
from workflow.spec.model import CLOSED_STATES
from workflow.store.db import Tx

if TYPE_CHECKING:
    from workflow.engine.core import Engine

#: On a message flow the host is its sender and the handlers are its recipients.
MESSAGE_ROLES = {"host": "sender", "handler": "recipient"}
ROLE_OF = {"sender": "host", "recipient": "handler"}


@dataclass
class Outcome:
    """What an action did: the flow's new state and version, and the work items it delivered."""

    flow_id: int
    state: str
    version: int
    item_id: int | None = None
    delivered: list[int] = field(default_factory=list)


@dataclass
class Assignment:
    host: int
    handlers: list[int] = field(default_factory=list)
    co_signers: list[int] = field(default_factory=list)

    def rows(self) -> list[tuple[int, str]]:
        return (
            [(self.host, "host")]
            + [(u, "handler") for u in self.handlers]
            + [(u, "co_signer") for u in self.co_signers]
        )


#: the people an actor chose for the next step: host, handlers, co-signers (None: the rule's own)
People = tuple[int | None, list[int] | None, list[int] | None]


@dataclass
class ActionInput:
    """What the actor asked for: what the machine's guards and callbacks read of the request."""

    opinion: str | None = None
    #: forward (and start): the people chosen for the next step
    people: People = (None, None, None)
    #: forward / return: the step chosen
    to: str | None = None
    #: end: approved | rejected
    outcome: str | None = None
    #: sign: approve | reject
    decision: str | None = None
    #: a message recipient's part (reply, relay, delete), recorded instead of the trigger's name
    action: str | None = None


class Action:
    """The state of one engine action inside its transaction."""

    def __init__(self, engine: Engine, session: Tx, actor_id: int, now: datetime) -> None:
        self.engine, self.tx, self.actor_id, self.now = engine, session, actor_id, now
        # Core statements run on the session's connection: same transaction, less overhead.
        self.conn = session if isinstance(session, Connection) else session.connection()
        self.actor_name: str | None = None
        self.flow: dict[str, Any] = {}
        self.visit: dict[str, Any] = {}
        self.item: dict[str, Any] | None = None
        self.compiled: CompiledDefinition | None = None
        self.events: list[PendingEvent] = []
        self.input = ActionInput()
        #: a feature's own typed request, read by its hooks (e.g. workflow.dings.DingRequest)
        self.feature: object | None = None
        self.delivered: list[int] = []
        self.bump = True

    # --- loading -------------------------------------------------------------------------------

    @property
    def form(self) -> dict[str, Any]:
        return self.flow["form"]

    @property
    def _locks_rows(self) -> bool:
        # SQLite: BEGIN IMMEDIATE already serialises writers. PostgreSQL: lock the flow row first,
        # so the reads that follow see whatever a concurrent action on this flow committed.
        return self.conn.dialect.name != "sqlite"

    def load_item(self, item_id: int) -> None:
        """Lock the item's flow, then read item, flow and step visit as they are now."""
        status = None
        if self._locks_rows:  # the actor's row, then the flow's: one round trip with psycopg 3
            status = sql.lock_actor_and_flow_of_item(self.conn, self.actor_id, item_id)
        row = self.conn.execute(sql.LOAD_ITEM, {"b_item": item_id}).mappings().first()
        if row is None:
            raise NotFound("item_not_found", item=item_id)
        if row["user_id"] == self.actor_id and (status or row["user_status"]) != "active":
            # removed (a leaver) or not yet enrolled: checked under the flow's lock, so a
            # reassignment of this item and the person's own action never both land
            raise NotFound("actor_not_active", user=self.actor_id)
        self.flow = {c.name: row[c.name] for c in sql.FLOW_COLS}
        self.item = {"id": item_id, **{k: row[k] for k in sql.ITEM_KEYS}}
        self.visit = {"id": row["visit_id"], **{k: row[k] for k in sql.VISIT_KEYS}}
        if row["user_id"] != self.actor_id:
            raise NotYourItem("item_not_yours", item=item_id, owner=row["user_name"])
        self.actor_name = row["user_name"]
        self.compiled = self.engine.registry.get(self.tx, self.flow["definition_id"])

    def load_flow(self, flow_id: int) -> None:
        """Lock and read a flow and its current step visit (for actions on the flow itself)."""
        self._lock_actor()
        if self._locks_rows:
            self.conn.execute(sql.LOCK_FLOW, {"b_flow": flow_id})
        row = self.conn.execute(sql.LOAD_FLOW, {"b_flow": flow_id}).mappings().first()
        if row is None:
            raise NotFound("flow_not_found", flow=flow_id)
        self.flow = dict(row)
        v = (
            self.conn.execute(sql.LOAD_VISIT, {"b_visit": row["current_visit_id"]})
            .mappings()
            .first()
        )
        self.visit = dict(v) if v else {}
        self.compiled = self.engine.registry.get(self.tx, self.flow["definition_id"])
        self.load_actor()

    def _lock_actor(self) -> str | None:
        """PostgreSQL: share-lock the actor's row before the flow's (a removal updates that row
        first, then locks flows: the same order, so no deadlock); their status. SQLite: None."""
        if not self._locks_rows or self.actor_id is None:
            return None
        return self.conn.execute(sql.LOCK_ACTOR, {"b_user": self.actor_id}).scalar()

    def load_actor(self) -> None:
        row = self.conn.execute(sql.LOAD_USER, {"b_user": self.actor_id}).first()
        if row is None or row.status != "active":
            raise NotFound("actor_not_active", user=self.actor_id)
        self.actor_name = row.name

    # --- checks --------------------------------------------------------------------------------

    def require_open(self, version: int | None) -> None:
        """Refuse a handled item, a closed flow, or a page that saw an older version."""
        item = self.item
        if item is not None and item["status"] == "done":
            raise AlreadyHandled(
                "item_already_handled",
                by=item["user_name"],
                at=item["handled_at"].astimezone(self.engine.tz),
            )
        if (item is not None and item["status"] == "cancelled") or self.flow[
            "state"
        ] in CLOSED_STATES:
            raise self._moved_on()
        if version is not None and version != self.flow["version"]:
            raise StaleVersion(
                "stale_version", flow=self.flow["id"], seen=version, now=self.flow["version"]
            )

    def _moved_on(self) -> AlreadyHandled | FlowClosed:
        """The error for an item whose step moved on, naming who moved it and when."""
        item = self.item
        if item is not None and item.get("closed_at"):  # closed_by NULL: the system closed it
            by, at = item["closed_by"], item["closed_at"]
        else:
            by, at = self.visit.get("left_by"), self.visit.get("left_at")
        name = (
            self.conn.execute(sql.USER_NAME, {"b_user": by}).scalar() if by else Term("the system")
        )
        when = at.astimezone(self.engine.tz) if at else Term("an unknown time")
        if self.flow["state"] in CLOSED_STATES:
            if self.flow["state"] == "ended":
                return FlowClosed("flow_ended", by=name, at=when)
            if self.compiled is not None and self.compiled.spec.kind == "message":  # its 撤回
                return FlowClosed("message_revoked", by=name, at=when)
            return FlowClosed("flow_withdrawn", by=name, at=when)
        return AlreadyHandled("step_already_handled", by=name, at=when)

    def require_role(self, *roles: str) -> None:
        assert self.item is not None
        role = ROLE_OF.get(self.item["role"], self.item["role"])
        if role not in roles:
            words = {"host": "the host", "handler": "a handler", "co_signer": "a co-signer",
                     "reader": "a reader"}  # fmt: skip
            if self.compiled is not None and self.compiled.spec.kind == "message":
                words.update(host="the sender", handler="a recipient")
            raise RoleNotAllowed(
                "role_not_allowed",
                allowed=Either(Term(words[r]) for r in roles),
                role=Term(words.get(role, role)),
            )

    # --- the machine ---------------------------------------------------------------------------

    def fire(self, trigger: str, **kwargs: Any) -> None:
        """Run ``trigger`` through the definition's shared machine; the hooks do the writing."""
        assert self.compiled is not None
        model = FlowModel(self.flow["state"], self)
        with self.compiled.bound(model):
            try:
                done = model.trigger(trigger, **kwargs)
            except MachineError:
                done = False
        if not done:
            raise self.engine.why_not(self, trigger, kwargs)
        self.flow["state"] = model.state

    def event(self, kind: str, **data: Any) -> None:
        self.events.append(PendingEvent(self.now, self.actor_id, self.actor_name, kind, data))

    # --- bookkeeping called by the machine -----------------------------------------------------

    def handle_item(self, action: str, decision: str | None = None) -> None:
        """Record the actor's handling effect on their item."""
        item = self.item
        assert item is not None
        at = max([self.now, *(t for t in (item["delivered_at"], item["confirmed_at"]) if t)])
        params = {"b_item": item["id"], "b_at": at, "b_actor": self.actor_id,
                  "b_action": action, "b_opinion": self.input.opinion}  # fmt: skip
        if decision is None:
            self.conn.execute(sql.HANDLE, params)
        else:
            self.conn.execute(sql.HANDLE_DECIDED, {**params, "b_decision": decision})

    def cancel_open(self, others_only: bool = False) -> list[int]:
        """Close the open items of the current visit whose people no longer need to act."""
        stmt = sql.CANCEL_OTHERS if others_only else sql.CANCEL_OPEN
        params = {"b_visit": self.visit["id"], "b_at": self.now, "b_actor": self.actor_id}
        return list(self.conn.execute(stmt, params).scalars())

    def leave_visit(self) -> list[int]:
        """Close the current visit, cancelling open items where anyone besides the host has one."""
        step = self.compiled.step(self.visit["step"])  # type: ignore[union-attr]
        shared = step.handlers is not None or step.co_signers is not None
        cancelled = self.cancel_open() if shared or self.item is None else []
        self.conn.execute(sql.LEAVE_VISIT, {"b_visit": self.visit["id"], "b_at": self.now,
                                         "b_actor": self.actor_id})  # fmt: skip
        return cancelled

    def enter(self, step: str, via: str, people: Assignment, confirmed: bool = False) -> None:
        """Activate ``step``: a new visit, one delivered work item per person."""
        seq = (self.visit.get("seq") or 0) + 1
        vid = self.conn.execute(sql.INSERT_VISIT, {
            "flow_id": self.flow["id"], "seq": seq, "step": step, "entered_at": self.now,
            "via": via, "entered_by": self.actor_id, "rejected": False}).scalar_one()  # fmt: skip
        base = {"flow_id": self.flow["id"], "visit_id": vid, "status": "open",
                "delivered_at": self.now, "confirmed_at": self.now if confirmed else None}  # fmt: skip
        rows = people.rows()
        message = self.compiled is not None and self.compiled.spec.kind == "message"
        if message:
            rows = [(uid, MESSAGE_ROLES.get(role, role)) for uid, role in rows]
        units = unit_of(self.conn, [uid for uid, _ in rows])
        values = []
        for uid, role in rows:
            one = {**base, "user_id": uid, "role": role, "unit_id": units[uid][0]}
            if role == "recipient":
                # Sent, not yet delivered: delivered when the person's device fetches it or a
                # channel accepts it (workflow.messages).
                one["delivered_at"] = None
            elif role == "sender":
                one["confirmed_at"] = self.now
            values.append(one)
        if len(values) == 1:
            ids = [self.conn.execute(sql.INSERT_ITEM, values[0]).scalar_one()]
        else:
            # One multi-row INSERT … RETURNING on both dialects. The visit is new, so its items
            # are exactly these, numbered in insertion order: sorted, the ids follow ``values``.
            ids = sorted(self.conn.execute(sql.INSERT_ITEMS, values).scalars())
        self.delivered.extend(ids)
        self.flow["current_visit_id"] = vid
        self.visit = {"id": vid, "step": step, "seq": seq, "rejected": False}
        # via: the visit's start | forward | return, so the replay can rebuild the visit row
        # units: each person's unit then, [id, name] in the order of items (Art. 11)
        self.event("send" if message and via != "start" else "deliver", step=step, visit=seq,
                   via=via, items=[[i, u, r] for i, (u, r) in zip(ids, rows, strict=True)],
                   units=[list(units[u]) for u, _ in rows])  # fmt: skip
        entered(
            self, vid, step
        )  # the features' on-enter hooks (deadlines: workflow.engine.timeouts)

    def end_allowed(self) -> bool:
        """A step with can_end ends once the waiting rule allows; a vetoed one only as rejected."""
        step = self.compiled.step(self.visit["step"])  # type: ignore[union-attr]
        if step.can_end:
            return self.waiting_met("end")
        if self.visit.get("rejected") and self.input.outcome == "rejected":
            return True
        raise InvalidAction(
            "step_cannot_end_unless_vetoed", step=step.name.zh, step_id=self.visit["step"]
        )

    def waiting_met(self, trigger: str) -> bool:
        """Whether the host has waited enough for handlers and co-signers (raises if not)."""
        step = self.compiled.step(self.visit["step"])  # type: ignore[union-attr]
        if trigger == "end" and self.input.outcome == "rejected":
            return True
        if self.visit.get("rejected"):
            raise WaitingRuleUnmet("countersign_vetoed")
        if step.handlers is None and step.co_signers is None:
            return True
        rows = self.conn.execute(sql.WAITING, {"b_visit": self.visit["id"]}).all()
        total, done = len(rows), sum(r.status == "done" for r in rows)
        if step.wait == "none" or total == 0:
            return True
        need = 1 if step.wait == "any" else math.ceil(step.wait_share() * total)
        if done >= need:
            return True
        late = [r.user_id for r in rows if r.status != "done"]
        names = dict(self.conn.execute(sql.NAMES, {"b_ids": late}).all())
        raise WaitingRuleUnmet(
            "waiting_rule_unmet",
            step=step.name.zh,
            need=need,
            total=total,
            done=done,
            waiting=[names[u] for u in late],
        )

    def write_flow(self, **closing: Any) -> Outcome:
        """Append this action's events to the flow's chain and update the flow row, version-checked."""
        flow = self.flow
        rows, seq, head = chain_rows(
            f"flow:{flow['id']}",
            flow["id"],
            flow["audit_seq"],
            flow["audit_head"] or GENESIS,
            self.events,
        )
        if rows:
            self.conn.execute(sql.INSERT_EVENTS, rows)
        version = flow["version"] + (1 if self.bump else 0)
        params = {"b_flow": flow["id"], "b_version": flow["version"], "b_state": flow["state"],
                  "b_new_version": version, "b_visit": flow["current_visit_id"], "b_seq": seq,
                  "b_head": head}  # fmt: skip
        if closing:
            params.update(b_ended=self.now, b_outcome=closing.get("outcome"))
            result = self.conn.execute(sql.CLOSE_FLOW, params)
        else:
            result = self.conn.execute(sql.UPDATE_FLOW, params)
        if result.rowcount != 1:
            raise StaleVersion("stale_concurrent", flow=flow["id"])
        flow.update(version=version, audit_seq=seq, audit_head=head)
        return Outcome(
            flow["id"],
            flow["state"],
            version,
            self.item["id"] if self.item else None,
            self.delivered,
        )
