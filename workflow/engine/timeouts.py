"""Step deadlines at work: a reminder before the deadline and the timeout action after it, as jobs.

When a step with ``remind_before`` or ``on_timeout`` is entered, :func:`schedule` queues, in the
entering action's own transaction, a ``remind`` job (key ``remind:<visit>``) at ``remind_before``
before the due time and a ``timeout`` job (key ``timeout:<visit>``) at the due time. ``banli
worker`` runs them with the handlers :func:`register` installs. Both are idempotent: a job for a
visit that is no longer its flow's current open visit (moved on, returned, ended, withdrawn) does
nothing, and running one twice does its work once.

A timeout is done by the system, through the definition's shared machine like a person's action:
a :class:`SystemAction` has no actor (``actor_id`` None, name 系统). It fires ``forward`` (to
``on_timeout.to`` or the only next step, with the people the definition names without a
choice) or ``end`` (approved), or hands the host's part to the host's superior (``escalate``).
The host's item is closed by the system (``closed_by`` NULL) without a handling effect, and the
audit event is ``timeout``. What the system cannot do — the next step needs a choice, the
waiting rule is unmet, nobody can host — becomes an escalation, with the reason recorded.
"""

from __future__ import annotations

from datetime import datetime
from typing import TYPE_CHECKING, Any

from sqlalchemy import bindparam, select, update
from sqlalchemy.orm import Session

from workflow.calendar import before, due_at
from workflow.delivery import enqueue_delivery
from workflow.engine import assign, sql
from workflow.engine.context import Action, ActionInput
from workflow.engine.hooks import register_on_enter
from workflow.engine.people import unit_of
from workflow.errors import BanliError, InvalidAction, NotFound
from workflow.jobs import GiveUp, JobRecord, Worker, enqueue
from workflow.spec.model import CLOSED_STATES, Step
from workflow.store.db import Tx

if TYPE_CHECKING:
    from workflow.engine.core import Engine

REMIND, TIMEOUT = "remind", "timeout"
#: the name the audit chain and the pages give the system
SYSTEM = "系统"
#: what the flow sheet and the messages call each timeout action
ACTION_ZH = {"forward": "超时自动转交", "end": "超时自动结束", "escalate": "超时上报"}
#: the people a reminder goes to: those with work on the step (not message roles, not readers)
WORK_ROLES = ("host", "handler", "co_signer")
#: who a host's part is escalated to: the head of their unit, or of the nearest unit above
SUPERIOR_ROLE = "unit_head"

CLOSE_BY_SYSTEM = (
    update(sql.ITEMS)
    .where(sql.ITEMS.c.id == bindparam("b_item"), sql.ITEMS.c.status == sql.OPEN)
    .values(status="cancelled", closed_at=sql.AT, closed_by=None)
)
OPEN_ITEMS = (
    select(sql.ITEMS.c.id, sql.ITEMS.c.user_id, sql.ITEMS.c.role, sql.ITEMS.c.delivered_at,
           sql.ITEMS.c.confirmed_at, sql.USERS.c.name)
    .join(sql.USERS, sql.USERS.c.id == sql.ITEMS.c.user_id)
    .where(sql.ITEMS.c.visit_id == bindparam("b_visit"), sql.ITEMS.c.status == sql.OPEN,
           sql.ITEMS.c.role.in_(WORK_ROLES))
    .order_by(sql.ITEMS.c.id)
)  # fmt: skip
ENTERED_AT = select(sql.VISITS.c.entered_at).where(sql.VISITS.c.id == bindparam("b_visit"))


# --- scheduling, when a step is entered ----------------------------------------------------------


def schedule(a: Action, visit_id: int, step_id: str) -> None:
    """Queue the ``remind`` and ``timeout`` jobs of a visit just entered, in the action's transaction."""
    step = a.compiled.spec.steps.get(step_id) if a.compiled is not None else None
    if step is None or step.deadline is None:
        return
    if step.remind_before is None and step.on_timeout is None:
        return
    due = due_at(a.now, step.deadline, a.engine.tz)
    payload = {"flow_id": a.flow["id"], "visit_id": visit_id, "step": step_id}
    if step.remind_before is not None:
        at = before(due, step.remind_before, a.engine.tz)
        if at > a.now:  # a reminder due before the step arrives would only repeat the delivery
            enqueue(a.conn, REMIND, f"{REMIND}:{visit_id}", payload, at, now=a.now)
    if step.on_timeout is not None:
        enqueue(a.conn, TIMEOUT, f"{TIMEOUT}:{visit_id}", payload, due, now=a.now)


register_on_enter(schedule)


# --- the system as actor -------------------------------------------------------------------------


class SystemAction(Action):
    """An action nobody took: the system's, with no actor, whose closing of items is no handling."""

    def __init__(self, engine: Engine, session: Tx, now: datetime) -> None:
        super().__init__(engine, session, None, now)  # type: ignore[arg-type]
        self.actor_name = SYSTEM
        #: why the system escalated instead of doing the definition's action (None: it did it)
        self.reason: str | None = None

    def load_actor(self) -> None:
        self.actor_name = SYSTEM

    def handle_item(self, action: str, decision: str | None = None) -> None:
        """The host did not act: their item is closed by the system, with no handling effect."""
        assert self.item is not None
        self.conn.execute(CLOSE_BY_SYSTEM, {"b_item": self.item["id"], "b_at": self.now})

    def event(self, kind: str, **data: Any) -> None:
        """The machine's ``forward`` and ``end`` events are the system's ``timeout``."""
        if kind in ("forward", "end"):
            data.pop("opinion", None)
            data = {"action": kind, "step": data.pop("step"), "visit": self.visit["seq"],
                    "to": data.pop("to", None), **data}  # fmt: skip
            kind = TIMEOUT
        super().event(kind, **data)

    def load_current(self, payload: dict[str, Any]) -> bool:
        """Lock the job's flow; whether the job's visit is still the flow's current open visit."""
        try:
            self.load_flow(int(payload["flow_id"]))
        except NotFound:
            return False
        return (
            self.flow["state"] not in CLOSED_STATES
            and self.flow["current_visit_id"] == payload["visit_id"]
            and self.visit.get("left_at") is None
        )

    def due(self) -> datetime | None:
        """When the current visit is due (None if its step has no deadline)."""
        step = self.compiled.step(self.visit["step"])  # type: ignore[union-attr]
        if step.deadline is None:
            return None
        entered = self.conn.execute(ENTERED_AT, {"b_visit": self.visit["id"]}).scalar_one()
        return due_at(entered, step.deadline, self.engine.tz)


# --- the jobs ------------------------------------------------------------------------------------


def register(worker: Worker, engine: Engine) -> None:
    """Install the ``remind`` and ``timeout`` handlers on ``worker``, acting through ``engine``."""
    worker.handler(REMIND)(lambda job: remind(engine, job))
    worker.handler(TIMEOUT)(lambda job: timeout(engine, job))


def remind(engine: Engine, job: JobRecord) -> list[int]:
    """Queue an SMS to everyone still open on the visit; the items reminded (none if moved on)."""
    with engine.db.transaction() as conn:
        a = SystemAction(engine, conn, engine.clock())
        if not a.load_current(job.payload):
            return []
        step = a.compiled.step(a.visit["step"])  # type: ignore[union-attr]
        due = a.due()
        title = a.flow["title"]
        when = f"将于{engine.local(due)}到期" if due else "即将到期"
        body = f"您有待办事项「{title}」的“{step.name.zh}”步骤{when}，请尽快办理。"
        sent = [
            row.id
            for row in conn.execute(OPEN_ITEMS, {"b_visit": a.visit["id"]})
            if enqueue_delivery(
                conn,
                row.user_id,
                "sms",
                f"【办理提醒】{title}",
                body,
                f"{REMIND}:{a.visit['id']}:{row.id}",
                a.now,
                now=a.now,
            )
        ]
        if sent:  # a second run queues nothing and records nothing
            a.event(REMIND, step=a.visit["step"], visit=a.visit["seq"], items=sent, due=due)
            a.bump = False
            a.write_flow()
        return sent


def timeout(engine: Engine, job: JobRecord) -> str | None:
    """Do the step's ``on_timeout`` action as the system; what was done (None: nothing to do).

    Raises:
        GiveUp: neither the action nor an escalation is possible (nobody above the host).
    """
    with engine.db.transaction() as conn:
        a = SystemAction(engine, conn, engine.clock())
        if not a.load_current(job.payload) or _timed_out_before(a):
            return None
        step = a.compiled.step(a.visit["step"])  # type: ignore[union-attr]
        rule = step.on_timeout
        a.item = _host_item(a)
        if rule is None or a.item is None:
            return None
        if rule.action == "forward":
            to = _forward_target(a, step, rule.to)
            if to is not None:
                a.input = ActionInput()
                a.fire("forward", to=to)
                a.write_flow()
                return "forward"
        elif rule.action == "end" and _may_end(a, step):
            a.input = ActionInput(outcome="approved")
            a.fire("end")
            a.write_flow(ended_at=a.now, outcome="approved")
            return "end"
        _escalate(a, step, planned=rule.action)
        a.write_flow()
        return "escalate"


def _timed_out_before(a: SystemAction) -> bool:
    """Whether the system already acted on this visit (an escalation leaves the visit current)."""
    stmt = select(sql.EVENTS.c.data).where(
        sql.EVENTS.c.chain == f"flow:{a.flow['id']}", sql.EVENTS.c.kind == TIMEOUT
    )
    return any(data.get("visit") == a.visit["seq"] for data in a.conn.execute(stmt).scalars())


def _host_item(a: SystemAction) -> dict[str, Any] | None:
    row = next((r for r in a.conn.execute(OPEN_ITEMS, {"b_visit": a.visit["id"]})
                if r.role == "host"), None)  # fmt: skip
    if row is None:
        return None
    return {"id": row.id, "user_id": row.user_id, "role": "host", "status": "open",
            "delivered_at": row.delivered_at, "confirmed_at": row.confirmed_at,
            "user_name": row.name}  # fmt: skip


def _forward_target(a: SystemAction, step: Step, to: str | None) -> str | None:
    """The step to forward to, if the system can forward there now; else None, with the reason."""
    try:
        target = to or assign.only_next(a)
        if target not in a.compiled.next_steps(a.visit["step"], a.form):  # type: ignore[union-attr]
            raise InvalidAction("timeout_target_invalid", to=target, step=a.visit["step"])
        assign.assign(a, target, None, None, None)  # raises where the host would have to choose
        a.waiting_met("forward")
    except BanliError as exc:
        a.reason = f"cannot forward: {exc.message}"
        return None
    return target


def _may_end(a: SystemAction, step: Step) -> bool:
    if not step.can_end:
        a.reason = f"cannot end: step '{step.name.zh}' cannot end the flow"
        return False
    a.input = ActionInput(outcome="approved")
    try:
        return a.waiting_met("end")
    except BanliError as exc:
        a.reason = f"cannot end: {exc.message}"
        return False


def superior(conn: Tx, user_id: int) -> int | None:
    """The head of the person's unit; if they head it themselves, of the nearest unit above."""
    rows = conn.execute(sql.ROLE_IN_CHAIN, {"b_role": SUPERIOR_ROLE, "b_user": user_id}).all()
    heads: dict[int, list[int]] = {}
    for row in rows:
        heads.setdefault(row.depth, []).append(row.user_id)
    return next((ids[0] for _, ids in sorted(heads.items()) if user_id not in ids), None)


def _escalate(a: SystemAction, step: Step, planned: str) -> None:
    """Close the host's item and deliver a new host item on the same visit to their superior."""
    host = a.item
    assert host is not None
    boss = superior(a.conn, host["user_id"])
    if boss is None:
        why = f"{a.reason}; " if a.reason else ""
        raise GiveUp(
            f"timeout of step '{step.name.zh}' in flow {a.flow['id']}: {why}nobody to escalate "
            f"to: {host['user_name']} has no {SUPERIOR_ROLE} above them"
        )
    a.conn.execute(CLOSE_BY_SYSTEM, {"b_item": host["id"], "b_at": a.now})
    unit = unit_of(a.conn, [boss])[boss]
    new = a.conn.execute(sql.INSERT_ITEM, {
        "flow_id": a.flow["id"], "visit_id": a.visit["id"], "user_id": boss, "role": "host",
        "unit_id": unit[0], "status": "open", "delivered_at": a.now,
        "confirmed_at": None}).scalar_one()  # fmt: skip
    a.delivered.append(new)
    fallback = {"planned": planned, "reason": a.reason} if a.reason else {}
    a.event(TIMEOUT, action="escalate", step=a.visit["step"], visit=a.visit["seq"], to=None,
            item=host["id"], host=host["user_id"], superior=boss, delivered=[new],
            **fallback)  # fmt: skip
    a.event("deliver", step=a.visit["step"], visit=a.visit["seq"], via="escalate",
            items=[[new, boss, "host"]], units=[list(unit)])  # fmt: skip
    title = a.flow["title"]
    enqueue_delivery(
        a.conn,
        boss,
        "sms",
        f"【{ACTION_ZH['escalate']}】{title}",
        f"「{title}」的“{step.name.zh}”步骤已超过办理期限，{host['user_name']}未办理，"
        "现转由您主办，请尽快办理。",
        f"escalate:{new}",
        a.now,
        now=a.now,
    )


# --- what the record shows -----------------------------------------------------------------------


def marks(s: Session, flow_id: int) -> dict[int, str]:
    """What the system did when a visit's deadline passed, by visit seq: forward, end or escalate."""
    stmt = (
        select(sql.EVENTS.c.data)
        .where(sql.EVENTS.c.chain == f"flow:{flow_id}", sql.EVENTS.c.kind == TIMEOUT)
        .order_by(sql.EVENTS.c.seq)
    )
    return {data["visit"]: data["action"] for data in s.scalars(stmt)}
