"""Read-only questions the start and flow pages ask: what one may start, names, who may withdraw."""

from __future__ import annotations

from dataclasses import dataclass, replace
from typing import TYPE_CHECKING, Any

from sqlalchemy import func, select

from workflow.engine.forms import validate_form
from workflow.engine.people import Candidates, resolve
from workflow.engine.records import FlowRecord
from workflow.errors import Forbidden, NotFound
from workflow.machine import CompiledDefinition
from workflow.org.presence import online_ids
from workflow.refusals import Label
from workflow.spec.model import CLOSED_STATES, Names
from workflow.store.models import DefinitionVersion, Unit, User

if TYPE_CHECKING:
    from workflow.engine.core import Engine

DEFS = DefinitionVersion.__table__


@dataclass(frozen=True)
class Startable:
    """An approval type a person may start, at its newest active version."""

    key: str
    name: Names
    description: Names | None


@dataclass(frozen=True)
class Person:
    id: int
    name: str
    unit: str
    #: seen within the last few minutes (asked only where a page shows it: the forward chooser)
    online: bool = False


def startable(engine: Engine, user_id: int) -> list[Startable]:
    """The approval types whose ``starters`` rule names this person, newest active version each."""
    with engine.db.read() as s:
        ids = s.scalars(
            select(func.max(DEFS.c.id))
            .where(DEFS.c.active.is_(True))
            .group_by(DEFS.c.key)
            .order_by(DEFS.c.key)
        ).all()
        out = []
        for vid in ids:
            spec = engine.registry.get(s, vid).spec
            if spec.kind != "approval":
                continue  # messages are sent from the message pages
            if spec.starters is None or user_id in resolve(s, spec.starters, user_id).ids:
                out.append(Startable(spec.id, spec.name, spec.description))
        return out


def for_start(engine: Engine, user_id: int, key: str) -> CompiledDefinition:
    """The newest active version of ``key`` if this person may start it.

    Raises:
        NotFound: no such approval type. Forbidden: not among its starters.
    """
    with engine.db.read() as s:
        compiled = engine.registry.latest(s, key)
        spec = compiled.spec
        if spec.kind != "approval":
            raise NotFound("approval_type_unknown", key=key)
        if spec.starters is not None and user_id not in resolve(s, spec.starters, user_id).ids:
            raise Forbidden("start_forbidden", name=Label(zh=spec.name.zh, en=spec.name.en))
        return compiled


def compiled(engine: Engine, definition_id: int) -> CompiledDefinition:
    """A definition version by id (a flow's ``definition_id``), compiled once."""
    with engine.db.read() as s:
        return engine.registry.get(s, definition_id)


def check_form(engine: Engine, compiled: CompiledDefinition, values: dict[str, Any]) -> None:
    """Validate a form without starting anything; raises ``FormInvalid`` like :meth:`Engine.start`."""
    with engine.db.read() as s:
        validate_form(s, compiled.spec, values)


def first_forward(
    engine: Engine, user_id: int, compiled: CompiledDefinition
) -> list[dict[str, Any]]:
    """The steps a new flow may go to from its first step, with their candidates, as
    ``available_actions`` gives them for a forward (conditions are judged once the form is in)."""
    spec = compiled.spec
    with engine.db.read() as s:
        out = []
        for nxt in spec.steps[spec.first_step].next:
            step = spec.steps[nxt.to]
            out.append(
                {
                    "step": nxt.to,
                    "name": step.name.zh,
                    "host": _cands(resolve(s, step.host, user_id), one=True),
                    "handlers": _cands(resolve(s, step.handlers, user_id)),
                    "co_signers": _cands(resolve(s, step.co_signers, user_id)),
                }
            )
        return out


def _cands(c: Candidates, one: bool = False) -> dict[str, Any]:
    if one:
        return {"ids": list(c.ids), "choose": len(c.ids) > 1, "min": 1, "max": 1}
    return {"ids": list(c.ids), "choose": c.choose, "min": c.min, "max": c.max}


def needs_choice(options: list[dict[str, Any]]) -> bool:
    """Whether a forward with these options asks the forwarding person to choose anything."""
    return len(options) > 1 or any(
        o[k]["choose"] for o in options for k in ("host", "handlers", "co_signers")
    )


def people(
    engine: Engine, ids: list[int] | None = None, *, online: bool = False
) -> dict[int, Person]:
    """People by id with their unit's name: the given ones (any status), or every active person.

    ``online``: also whether each is online now (Art. 16: the forward chooser shows it beside
    every candidate, clerks included), read in the same transaction from ``users.last_seen_at``.
    """
    stmt = select(User.id, User.name, Unit.name.label("unit")).join(Unit, Unit.id == User.unit_id)
    if ids is None:
        stmt = stmt.where(User.status == "active").order_by(User.unit_id, User.id)
    else:
        stmt = stmt.where(User.id.in_(set(ids)))
    with engine.db.read() as s:
        found = {r.id: Person(r.id, r.name, r.unit) for r in s.execute(stmt)}
        if not online or not found:
            return found
        here = online_ids(s, found, engine.clock())
    return {i: replace(p, online=i in here) for i, p in found.items()}


def units(engine: Engine) -> list[tuple[int, str, str]]:
    """Every open unit as (id, code, name), in order of creation: a closed one takes nobody
    new and leaves the choosers (it stays on the record)."""
    with engine.db.read() as s:
        stmt = select(Unit.id, Unit.code, Unit.name).where(Unit.closed_at.is_(None))
        return [tuple(r) for r in s.execute(stmt.order_by(Unit.id))]


def form_people(engine: Engine, compiled: CompiledDefinition, form: dict[str, Any]) -> dict:
    """The names a stored form refers to: ``{"users": {id: name}, "units": {id: name}}``."""
    user_ids: list[int] = []
    unit_ids: list[int] = []
    for field in compiled.spec.form:
        value = form.get(field.key)
        if value is None:
            continue
        if field.type == "user":
            user_ids.append(value)
        elif field.type == "users":
            user_ids.extend(value)
        elif field.type == "unit":
            unit_ids.append(value)
    users = {p.id: p.name for p in people(engine, user_ids).values()} if user_ids else {}
    with engine.db.read() as s:
        found = (
            s.execute(select(Unit.id, Unit.name).where(Unit.id.in_(unit_ids))) if unit_ids else []
        )
        return {"users": users, "units": dict(tuple(r) for r in found)}


def attachment(compiled: CompiledDefinition, form: dict[str, Any], sha256: str) -> dict | None:
    """The attachment with this hash among the flow form's file fields, if the form lists it."""
    for field in compiled.spec.form:
        if field.type == "files":
            for f in form.get(field.key) or ():
                if f.get("sha256") == sha256:
                    return f
    return None


def open_item(record: FlowRecord, user_id: int) -> int | None:
    """This person's open work item in the flow, if any (newest first)."""
    for visit in reversed(record.visits):
        for p in visit.people:
            if p.user_id == user_id and p.status == "open":
                return p.item_id
    return None


def may_withdraw(record: FlowRecord, user_id: int) -> bool:
    """Whether the engine would let this person withdraw the flow now: the initiator, while the
    flow is open and nobody else at its current step has opened their item."""
    if record.initiator_id != user_id or record.state in CLOSED_STATES or not record.visits:
        return False
    current = record.visits[-1]
    return not any(p.confirmed_at and p.user_id != user_id for p in current.people)
