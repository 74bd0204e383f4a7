"""What a person may do with a work item now: the buttons a page shows, with the candidates."""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from sqlalchemy import select

from workflow.engine import assign
from workflow.engine.context import Action
from workflow.engine.people import resolve
from workflow.engine.sql import VISITS
from workflow.errors import BanliError
from workflow.spec.model import CLOSED_STATES

if TYPE_CHECKING:
    from workflow.engine.core import Engine


class Available:
    """The engine's answer to "which buttons": read-only, one read transaction per call."""

    db: Any
    registry: Any

    def available_actions(self: Engine, user_id: int, item_id: int) -> list[dict[str, Any]]:
        """What ``user_id`` may do with this work item now: what a page shows as buttons."""
        with self.db.read() as s:
            a = Action(self, s, user_id, self.clock())
            a.load_item(item_id)
            if a.item["status"] != "open" or a.flow["state"] in CLOSED_STATES:
                return []
            triggers = set(a.compiled.machine.get_triggers(a.flow["state"]))
            role = a.item["role"]
            if role == "handler":
                return [{"action": "finish"}] if "finish" in triggers else []
            if role == "co_signer":
                return [{"action": "sign", "decisions": ["approve", "reject"]}]
            return self._host_actions(a, triggers)

    def _host_actions(self: Engine, a: Action, triggers: set[str]) -> list[dict[str, Any]]:
        out: list[dict[str, Any]] = []
        try:
            ready, waiting = a.waiting_met("forward"), None
        except BanliError as exc:
            ready, waiting = False, exc.message
        step_id = a.visit["step"]
        if "forward" in triggers:
            options = []
            for to in a.compiled.next_steps(step_id, a.form):
                step = a.compiled.step(to)
                init = a.flow["initiator_id"]
                options.append(
                    {
                        "step": to,
                        "name": step.name.zh,
                        "host": _cands(resolve(a.tx, step.host, init), one=True),
                        "handlers": _cands(resolve(a.tx, step.handlers, init)),
                        "co_signers": _cands(resolve(a.tx, step.co_signers, init)),
                    }
                )
            if options:
                out.append(
                    {"action": "forward", "ready": ready, "waiting": waiting, "options": options}
                )
        can_end = a.compiled.step(step_id).can_end
        if "end" in triggers and (can_end or a.visit.get("rejected")):
            outcomes = ["approved", "rejected"] if ready and can_end else ["rejected"]
            out.append({"action": "end", "ready": ready, "waiting": waiting, "outcomes": outcomes})
        earlier = [
            v
            for v in a.tx.scalars(
                select(VISITS.c.step)
                .where(VISITS.c.flow_id == a.flow["id"], VISITS.c.seq < a.visit["seq"])
                .order_by(VISITS.c.seq.desc())
            )
            if v in a.compiled.ancestors[step_id]
        ]
        if earlier:
            try:
                default = assign.previous_step(a)
            except BanliError:
                default = earlier[0]
            out.append(
                {"action": "return", "default": default, "options": list(dict.fromkeys(earlier))}
            )
        return out


def _cands(c: Any, one: bool = False) -> dict[str, Any]:
    """Candidates as a page needs them; a host among several is always a choice of one."""
    if one:
        return {"ids": list(c.ids), "choose": len(c.ids) > 1, "min": 1, "max": 1}
    return {"ids": list(c.ids), "choose": c.choose, "min": c.min, "max": c.max}
