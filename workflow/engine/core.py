"""The engine's actions: start, open, forward, finish, sign, end, return, withdraw — one transaction each.

Starting a flow (``start``, and ``begin`` that a message's reply reuses) is in
:mod:`workflow.engine.starting`, a part of :class:`Engine` like the query mixins.
"""

from __future__ import annotations

from collections.abc import Callable
from datetime import UTC, datetime
from typing import Any

from sqlalchemy import select
from transitions import EventData

from workflow.access import Access
from workflow.busy import retried
from workflow.engine import assign, sql
from workflow.engine.available import Available
from workflow.engine.context import Action, ActionInput, Outcome
from workflow.engine.history import History
from workflow.engine.lists import Lists
from workflow.engine.registry import Registry
from workflow.engine.sql import FLOWS, ITEMS, USERS, VISITS
from workflow.engine.starting import Starting
from workflow.errors import Forbidden, InvalidAction, NotFound, PeopleInvalid
from workflow.limits import check_opinion
from workflow.refusals import Step, Term, quoted
from workflow.settings import Settings
from workflow.store.db import Database


def utcnow() -> datetime:
    return datetime.now(UTC)


class Engine(Starting, Lists, History, Available, Access):
    """Banli's engine: one database, a registry of compiled definitions, a clock, the settings."""

    def __init__(
        self,
        db: Database,
        *,
        clock: Callable[[], datetime] = utcnow,
        settings: Settings | None = None,
    ) -> None:
        self.db = db
        self.registry = Registry()
        self.clock = clock
        #: the start-up settings (time zone, DING limit, files, anchors…); the defaults if none
        self.settings = Settings.defaults() if settings is None else settings
        self.tz = self.settings.tz

    def local(self, at: datetime) -> str:
        """A time as people read it: in the organisation's time zone, to the minute."""
        return at.astimezone(self.tz).strftime("%Y-%m-%d %H:%M")

    def stamp(self, at: datetime) -> str:
        """A time as a record shows it (the flow sheet): local time to the second."""
        return at.astimezone(self.tz).strftime("%Y-%m-%d %H:%M:%S")

    # --- actions -------------------------------------------------------------------------------

    @retried
    def open(self, actor_id: int, item_id: int) -> Outcome:
        """Record the confirmation effect of the actor's first look at their work item (idempotent)."""
        with self.db.transaction() as s:
            a = Action(self, s, actor_id, self.clock())
            a.load_item(item_id)
            assert a.item is not None
            if a.item["confirmed_at"] is not None or a.item["status"] == "cancelled":
                # Already confirmed, or closed before the person looked: nothing to record.
                return Outcome(a.flow["id"], a.flow["state"], a.flow["version"], item_id)
            at = max(a.now, a.item["delivered_at"] or a.now)
            a.conn.execute(sql.CONFIRM, {"b_item": item_id, "b_at": at})
            a.event("confirm", item=item_id, step=a.visit["step"])
            a.bump = False
            return a.write_flow()

    def forward(
        self,
        actor_id: int,
        item_id: int,
        *,
        to: str | None = None,
        host: int | None = None,
        handlers: list[int] | None = None,
        co_signers: list[int] | None = None,
        opinion: str | None = None,
        version: int | None = None,
    ) -> Outcome:
        """The host moves the flow to a next step the definition allows, with its people.

        Args:
            to: the next step; may be omitted when exactly one is allowed for this form.
            host, handlers, co_signers: user ids, checked against the next step's candidates;
                omitted where the definition names them without a choice.
            version: the flow version the actor's page showed; a different one is refused.
        Raises:
            NotYourItem, RoleNotAllowed, AlreadyHandled, FlowClosed, StaleVersion, WaitingRuleUnmet,
            InvalidAction (not a next step, condition false), PeopleInvalid.
        """
        return self._item_action(
            "forward",
            "host",
            actor_id,
            item_id,
            version,
            opinion,
            people=(host, handlers, co_signers),
            to=to,
        )

    def end(
        self,
        actor_id: int,
        item_id: int,
        *,
        outcome: str = "approved",
        opinion: str | None = None,
        version: int | None = None,
    ) -> Outcome:
        """The host ends the flow at a step that may end it, approved (waits) or rejected (does not)."""
        if outcome not in ("approved", "rejected"):
            raise InvalidAction("outcome_unknown", value=quoted(outcome))
        return self._item_action(
            "end", "host", actor_id, item_id, version, opinion, outcome=outcome
        )

    def return_(
        self,
        actor_id: int,
        item_id: int,
        *,
        to: str | None = None,
        opinion: str | None = None,
        version: int | None = None,
    ) -> Outcome:
        """The host sends the flow back to the previous (or an earlier visited) step."""
        return self._item_action("return_", "host", actor_id, item_id, version, opinion, to=to)

    def finish(
        self, actor_id: int, item_id: int, *, opinion: str | None = None, version: int | None = None
    ) -> Outcome:
        """A handler finishes their part of the step, with an opinion."""
        return self._item_action("finish", "handler", actor_id, item_id, version, opinion)

    def sign(
        self,
        actor_id: int,
        item_id: int,
        *,
        decision: str = "approve",
        opinion: str | None = None,
        version: int | None = None,
    ) -> Outcome:
        """A co-signer signs their countersign opinion: approve or reject."""
        if decision not in ("approve", "reject"):
            raise InvalidAction("decision_unknown", value=quoted(decision))
        return self._item_action(
            "sign", "co_signer", actor_id, item_id, version, opinion, decision=decision
        )

    @retried
    def withdraw(
        self, actor_id: int, flow_id: int, *, reason: str | None = None, version: int | None = None
    ) -> Outcome:
        """The initiator takes back a flow while nobody at its current step has opened it."""
        with self.db.transaction() as s:
            a = Action(self, s, actor_id, self.clock())
            a.load_flow(flow_id)
            if a.flow["initiator_id"] != actor_id:
                raise Forbidden("withdraw_not_initiator")
            a.require_open(version)
            check_opinion(reason)  # after who and when: a stranger learns nothing from it
            a.input = ActionInput(opinion=reason)
            a.fire("withdraw")
            return a.write_flow(ended_at=a.now)

    @retried  # a deadlock or serialization failure: the whole action once more (workflow.busy)
    def _item_action(
        self,
        trigger: str,
        role: str,
        actor_id: int,
        item_id: int,
        version: int | None,
        opinion: str | None,
        **params: Any,
    ) -> Outcome:
        """One action on one's own work item: lock, check, fire the trigger, write; one transaction."""
        with self.db.transaction() as s:
            a = Action(self, s, actor_id, self.clock())
            a.load_item(item_id)
            a.require_open(version)
            a.require_role(role)
            check_opinion(opinion)  # after who and when: a stranger learns nothing from it
            a.input = ActionInput(opinion=opinion, **params)
            kwargs: dict[str, Any] = {}
            if trigger == "forward":
                kwargs["to"] = a.input.to or assign.only_next(a)
            elif trigger == "return_":
                kwargs["to"] = a.input.to or assign.previous_step(a)
            a.fire(trigger, **kwargs)
            closing = {"ended_at": a.now, "outcome": a.input.outcome} if trigger == "end" else {}
            return a.write_flow(**closing)

    # --- hooks the machine calls (see workflow.engine.hooks) ---------------------------

    def on_enter(self, a: Action, e: EventData) -> None:
        """Forward or return: the host's item handled, the visit left, the next step entered."""
        dest, kind = e.transition.dest, ("forward" if e.event.name == "forward" else "return")
        people = (
            assign.assign(a, dest, *a.input.people)
            if kind == "forward"
            else assign.people_of_last_visit(a, dest)
        )
        from_step = a.visit["step"]
        a.handle_item(kind)
        cancelled = a.leave_visit()
        a.event(
            kind,
            item=a.item["id"],
            step=from_step,
            to=dest,
            opinion=a.input.opinion,
            cancelled=cancelled,
        )
        a.enter(dest, kind, people)

    def on_close(self, a: Action, e: EventData) -> None:
        """End or withdraw: the actor's item handled (if any), every open item cancelled."""
        kind = e.event.name  # end, withdraw or revoke
        step = a.visit["step"]
        if kind == "end":
            a.handle_item("end")
        cancelled = a.leave_visit()
        a.event(
            kind,
            item=a.item["id"] if a.item else None,
            step=step,
            opinion=a.input.opinion,
            outcome=a.input.outcome,
            cancelled=cancelled,
        )

    def on_part_done(self, a: Action, e: EventData) -> None:
        """A handler finished or a co-signer signed; a veto marks the step rejected."""
        decision = a.input.decision
        extra = {"decision": decision} if decision else {}
        # a message recipient's part is done by replying, relaying or deleting
        kind = a.input.action or e.event.name
        a.handle_item(kind, decision)
        step = a.compiled.step(a.visit["step"])  # type: ignore[union-attr]
        vetoed = decision == "reject" and step.on_reject == "veto"
        cancelled: list[int] = []
        if vetoed:
            a.conn.execute(sql.VETO_VISIT, {"b_visit": a.visit["id"]})
            cancelled = a.cancel_open(others_only=True)
        a.event(
            kind,
            item=a.item["id"],
            step=a.visit["step"],
            **extra,
            opinion=a.input.opinion,
            vetoed=vetoed,
            cancelled=cancelled,
        )

    def visited(self, a: Action, step: str) -> bool:
        return (
            a.tx.scalar(
                select(VISITS.c.id)
                .where(VISITS.c.flow_id == a.flow["id"], VISITS.c.step == step)
                .limit(1)
            )
            is not None
        )

    def nobody_opened(self, a: Action) -> bool:
        row = a.tx.execute(
            select(USERS.c.name, ITEMS.c.confirmed_at)
            .join(USERS, USERS.c.id == ITEMS.c.user_id)
            .where(
                ITEMS.c.visit_id == a.visit["id"],
                ITEMS.c.confirmed_at.is_not(None),
                ITEMS.c.user_id != a.actor_id,
            )
            .limit(1)
        ).first()
        if row is not None:
            raise InvalidAction(
                "withdraw_too_late", name=row.name, at=row.confirmed_at.astimezone(self.tz)
            )
        return True

    def why_not(self, a: Action, trigger: str, kwargs: dict[str, Any]) -> Exception:
        """The reason a trigger found no transition, as the error the actor sees."""
        step_id = a.visit["step"]
        step = a.compiled.step(step_id)  # type: ignore[union-attr]
        to = kwargs.get("to")
        if trigger == "forward":
            if to not in [n.to for n in step.next]:
                allowed = [n.to for n in step.next] or Term("none (it can only end the flow)")
                return InvalidAction(
                    "not_a_next_step", to=to, step=Step(step_id, step.name.zh), allowed=allowed
                )
            cond = next(n.when for n in step.next if n.to == to)
            return InvalidAction("condition_false", to=to, condition=repr(cond))
        if trigger == "end":
            return InvalidAction("step_cannot_end", step=step.name.zh, step_id=step_id)
        if trigger == "return_":
            return InvalidAction("return_not_visited", to=to)
        return InvalidAction(
            "trigger_not_possible", trigger=trigger, step=Step(step_id, step.name.zh)
        )

    def get_flow_id(self, item_id: int) -> int:
        with self.db.read() as s:
            fid = s.scalar(select(ITEMS.c.flow_id).where(ITEMS.c.id == item_id))
        if fid is None:
            raise NotFound("item_not_found", item=item_id)
        return fid

    def kind_of(self, flow_id: int) -> str:
        """The kind of a flow: approval, or message (shown by the message pages, not as a flow)."""
        with self.db.read() as s:
            kind = s.scalar(select(FLOWS.c.kind).where(FLOWS.c.id == flow_id))
        if kind is None:
            raise NotFound("flow_not_found", flow=flow_id)
        return str(kind)


__all__ = ["Engine", "Outcome", "PeopleInvalid"]
