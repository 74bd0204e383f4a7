"""Starting a flow: the form validated, the flow created at its first step, and forwarded unless a draft."""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from workflow.busy import retried
from workflow.engine import assign, sql
from workflow.engine.context import Action, ActionInput, Outcome
from workflow.engine.forms import validate_form
from workflow.errors import Forbidden, FormInvalid
from workflow.limits import opinion_problem
from workflow.refusals import Label

if TYPE_CHECKING:
    from workflow.engine.core import Engine


class Starting:
    """The engine's ``start`` and ``begin``: a part of :class:`~workflow.engine.core.Engine`."""

    db: Any
    registry: Any

    @retried  # a deadlock or serialization failure: the whole start once more (workflow.busy)
    def start(
        self: Engine,
        actor_id: int,
        definition: str,
        form: dict[str, Any],
        *,
        submit: bool = True,
        to: str | None = None,
        host: int | None = None,
        handlers: list[int] | None = None,
        co_signers: list[int] | None = None,
        opinion: str | None = None,
    ) -> Outcome:
        """Start a flow of ``definition`` as ``actor_id`` and, unless ``submit`` is False, forward it.

        Args:
            form: the values of the definition's form fields, validated field by field.
            submit: forward from the first step at once (else the draft waits in the inbox).
            to, host, handlers, co_signers, opinion: as for :meth:`forward`.
        Returns:
            The new flow's id, state and version, and the work items delivered.
        Raises:
            NotFound, Forbidden (not among the starters), FormInvalid, InvalidAction, PeopleInvalid.
        """
        too_long = opinion_problem(opinion)
        with self.db.transaction() as s:
            a = Action(self, s, actor_id, self.clock())
            try:
                self.begin(a, definition, form)
            except FormInvalid as exc:  # every field's problem at once, the opinion's too
                raise FormInvalid({**exc.errors, **too_long}) from None
            if too_long:
                raise FormInvalid(too_long)
            if submit:
                a.input = ActionInput(opinion=opinion, people=(host, handlers, co_signers))
                a.fire("forward", to=to or assign.only_next(a))
            return a.write_flow()

    def begin(self: Engine, a: Action, definition: str, form: dict[str, Any]) -> None:
        """Create a flow of ``definition`` started by ``a``'s actor, at its first step, in ``a``'s
        transaction: the part of :meth:`start` that other actions (a message's reply) reuse."""
        actor_id = a.actor_id
        a.load_actor()
        a.compiled = compiled = self.registry.latest(a.tx, definition)
        spec = compiled.spec
        if (
            spec.starters is not None
            and actor_id not in assign.resolve(a.tx, spec.starters, actor_id).ids
        ):
            raise Forbidden("start_forbidden", name=Label(zh=spec.name.zh, en=spec.name.en))
        clean = validate_form(a.tx, spec, form)
        first = spec.first_step
        a.flow = {
            "id": None,
            "definition_id": compiled.version_id,
            "state": first,
            "version": 1,
            "form": clean,
            "initiator_id": actor_id,
            "current_visit_id": None,
            "audit_seq": 0,
            "audit_head": "",
            "title": assign.title(spec, clean),
        }
        a.flow["id"] = a.conn.execute(sql.INSERT_FLOW, {
            "definition_id": compiled.version_id, "title": a.flow["title"], "form": clean,
            "initiator_id": actor_id, "state": first, "started_at": a.now, "version": 1,
            "audit_seq": 0, "audit_head": "", "kind": spec.kind}).scalar_one()  # fmt: skip
        # title and kind too: the replay (workflow.replay) derives the whole flow row from here
        a.event("start", definition=spec.id, version=compiled.version_id, form=clean,
                title=a.flow["title"], flow_kind=spec.kind)  # fmt: skip
        a.enter(first, "start", assign.Assignment(actor_id), confirmed=True)
        a.item = {
            "id": a.delivered[0],
            "user_id": actor_id,
            "role": "sender" if spec.kind == "message" else "host",
            "delivered_at": a.now,
            "confirmed_at": a.now,
            "user_name": a.actor_name,
        }
        a.delivered.clear()
