"""Choosing where a flow goes and who works there, checked against the definition's candidates."""

from __future__ import annotations

from string import Formatter
from typing import TYPE_CHECKING, Any

from sqlalchemy import select

from workflow.engine.context import Assignment
from workflow.engine.people import Candidates, resolve
from workflow.engine.sql import ITEMS, NOT_REASSIGNED, USERS, VISITS
from workflow.errors import InvalidAction, PeopleInvalid
from workflow.limits import TITLE_MAX, without_bidi
from workflow.refusals import Step, Term
from workflow.spec.model import Definition

if TYPE_CHECKING:
    from workflow.engine.context import Action

__all__ = [
    "Assignment",
    "assign",
    "only_next",
    "people_of_last_visit",
    "previous_step",
    "resolve",
    "title",
]


def title(spec: Definition, form: dict[str, Any]) -> str:
    """The flow's title from the definition's template, else its ``title`` field, else its name."""
    if spec.title:
        keys = {name for _, name, _, _ in Formatter().parse(spec.title) if name}
        made = spec.title.format(**{k: form.get(k, "") for k in keys})
    else:
        made = str(form.get("title") or spec.name.zh)
    # bidi controls could make a title read differently from what it holds (a forged extension)
    return without_bidi(made)[:TITLE_MAX]


def only_next(a: Action) -> str:
    """The next step when the host did not say: allowed only if exactly one is possible."""
    options = a.compiled.next_steps(a.visit["step"], a.form)  # type: ignore[union-attr]
    if len(options) == 1:
        return options[0]
    if not options:
        raise InvalidAction("next_step_none", step=_step(a, a.visit["step"]))
    raise InvalidAction("next_step_choose", options=options)


def previous_step(a: Action) -> str:
    """Where a plain 'return' goes: the latest earlier visited step that leads to this one.

    After a return to this step, the step that returned it is not "previous": it comes later on
    the flow's path, so it is skipped for the step before this one on the path.
    """
    ancestors = a.compiled.ancestors[a.visit["step"]]  # type: ignore[union-attr]
    for step in a.tx.scalars(
        select(VISITS.c.step)
        .where(VISITS.c.flow_id == a.flow["id"], VISITS.c.seq < a.visit["seq"])
        .order_by(VISITS.c.seq.desc())
    ):
        if step in ancestors:
            return step
    raise InvalidAction("return_first_step")


def _names(a: Action, ids: list[int] | tuple[int, ...]) -> list[str]:
    """People by name as shown (a refusal's param: each door joins them its own way)."""
    rows = a.tx.execute(select(USERS.c.id, USERS.c.name).where(USERS.c.id.in_(ids))).all()
    names = dict(rows)
    return [names.get(i, str(i)) for i in ids]


def _step(a: Action, step_id: str) -> Step:
    """The step as a refusal names it: its id (Chinese readers read its name)."""
    return Step(step_id, a.compiled.step(step_id).name.zh)  # type: ignore[union-attr]


def _candidates(a: Action, ids: list[int] | tuple[int, ...]) -> list[str] | Term:
    return _names(a, ids) or Term("nobody")


def _pick_one(a: Action, step: str, cands: Candidates, chosen: int | None) -> int:
    if chosen is not None:
        if chosen not in cands.ids:
            raise PeopleInvalid(
                "host_not_candidate", names=_names(a, [chosen]), step=_step(a, step),
                candidates=_candidates(a, cands.ids),
            )  # fmt: skip
        return chosen
    if len(cands.ids) == 1:
        return cands.ids[0]
    if not cands.ids:
        raise PeopleInvalid("host_nobody", step=_step(a, step), rule=cands.rule)
    raise PeopleInvalid("host_choose", step=_step(a, step), candidates=_names(a, cands.ids))


def _pick_many(
    a: Action, step: str, what: str, cands: Candidates, chosen: list[int] | None
) -> list[int]:
    if not cands.choose:
        if chosen is not None and sorted(set(chosen)) != sorted(cands.ids):
            raise PeopleInvalid(
                "people_set_by_definition", what=Term(what), step=_step(a, step), rule=cands.rule
            )
        if cands.rule != "nobody" and not cands.ids:
            raise PeopleInvalid(
                "people_nobody_matches", step=_step(a, step), what=Term(what), rule=cands.rule
            )
        return list(cands.ids)
    picked = list(dict.fromkeys(chosen or []))
    outside = [p for p in picked if p not in cands.ids]
    if outside:
        raise PeopleInvalid(
            "people_not_candidates", names=_names(a, outside), what=Term(what), step=_step(a, step),
            candidates=_candidates(a, cands.ids),
        )  # fmt: skip
    if len(picked) < cands.min or (cands.max is not None and len(picked) > cands.max):
        counts = {
            "min": cands.min,
            "what": Term(what),
            "step": _step(a, step),
            "chosen": len(picked),
        }
        if cands.max:
            raise PeopleInvalid("people_count_range", max=cands.max, **counts)
        raise PeopleInvalid("people_count_min", **counts)
    return picked


def assign(
    a: Action,
    step_id: str,
    host: int | None,
    handlers: list[int] | None,
    co_signers: list[int] | None,
) -> Assignment:
    """The people of ``step_id`` for this forward: chosen ones checked, fixed ones resolved."""
    step = a.compiled.step(step_id)  # type: ignore[union-attr]
    init = a.flow["initiator_id"]
    the_host = _pick_one(a, step_id, resolve(a.tx, step.host, init), host)
    hs = _pick_many(a, step_id, "handlers", resolve(a.tx, step.handlers, init), handlers)
    cs = _pick_many(a, step_id, "co-signers", resolve(a.tx, step.co_signers, init), co_signers)
    # One person, one part: the host does not also countersign their own step.
    hs = [u for u in hs if u != the_host]
    cs = [u for u in cs if u != the_host and u not in hs]
    return Assignment(the_host, hs, cs)


def people_of_last_visit(a: Action, step_id: str) -> Assignment:
    """A returned-to step gets the people it had on its latest visit."""
    last = (
        select(VISITS.c.id)
        .where(VISITS.c.flow_id == a.flow["id"], VISITS.c.step == step_id)
        .order_by(VISITS.c.seq.desc())
        .limit(1)
        .scalar_subquery()
    )
    rows = a.tx.execute(
        select(ITEMS.c.user_id, ITEMS.c.role, USERS.c.name, USERS.c.status)
        .join(USERS, USERS.c.id == ITEMS.c.user_id)
        # a reassigned item's successor has the part now (their item is in the same visit)
        .where(ITEMS.c.visit_id == last, NOT_REASSIGNED)
        .order_by(ITEMS.c.id)
    ).all()
    host = next((r for r in rows if r.role == "host"), None)
    if host is not None and host.status != "active":
        # the step's host has left since (Art. 12): nobody to give it back to
        step = a.compiled.step(step_id) if a.compiled is not None else None
        raise InvalidAction(
            "return_host_left", name=host.name, step=step.name.zh if step else step_id
        )
    people = Assignment(host.user_id if host is not None else a.flow["initiator_id"])
    # handlers and co-signers who have left since are not asked again
    active = [r for r in rows if r.status == "active"]
    people.handlers = [r.user_id for r in active if r.role == "handler"]
    people.co_signers = [r.user_id for r in active if r.role == "co_signer"]
    return people
