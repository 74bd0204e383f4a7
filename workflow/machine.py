"""A definition compiled once into a shared ``transitions`` machine; flows bind to it per action."""

from __future__ import annotations

from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from functools import cached_property
from threading import Lock
from typing import Any

from transitions import EventData, Machine

from workflow.spec.expr import Condition, compiled_conditions
from workflow.spec.model import CLOSED_STATES, Definition, Step

#: Every machine ever built in this process, so a test can prove they are shared, not per flow.
MACHINES_BUILT = 0
_count_lock = Lock()

FLOW_TRIGGERS = ("forward", "end", "return_", "withdraw", "finish", "sign", "revoke", "ding")


class FlowModel:
    """A stored flow as the machine sees it for one action: its state and the action's context."""

    def __init__(self, state: str, ctx: Any) -> None:
        self.state = state
        self.ctx = ctx


@dataclass(frozen=True)
class FeatureTrigger:
    """A trigger a feature adds on the steps ``where`` picks, with its guard and callback."""

    trigger: str
    where: Callable[[Step], bool]
    #: a closed state (the core's close_flow runs after the feature's callback) or None (internal)
    dest: str | None
    guard: Callable[[EventData], bool]
    after: Callable[[EventData], None] | None


@dataclass
class Hooks:
    """The engine's bookkeeping, called by the machine: guards and after-transition callbacks."""

    enter_step: Callable[[EventData], None]
    close_flow: Callable[[EventData], None]
    waiting_met: Callable[[EventData], bool]
    end_allowed: Callable[[EventData], bool]
    visited: Callable[[EventData], bool]
    nobody_opened: Callable[[EventData], bool]
    part_done: Callable[[EventData], None]
    #: the triggers features add (revoke, ding…): see workflow.engine.hooks
    features: tuple[FeatureTrigger, ...] = ()


@dataclass
class CompiledDefinition:
    """One definition version: the validated spec, its parsed conditions and its machine."""

    version_id: int
    spec: Definition
    conditions: dict[tuple[str, str], Condition]
    machine: Machine
    #: the hooks of the return transitions, added per step on first use (see ensure_returns)
    hooks: Hooks | None = None
    _returns_from: set[str] = field(default_factory=set)
    _returns_lock: Lock = field(default_factory=Lock)

    @property
    def key(self) -> str:
        return self.spec.id

    def step(self, step_id: str) -> Step:
        return self.spec.steps[step_id]

    @cached_property
    def ancestors(self) -> dict[str, frozenset[str]]:
        """For each step, the steps from which it can be reached: where a return may go.

        Filled per step as asked: all at once would cost n² for a chain of n steps.
        """
        return _Ancestors(self.spec)

    def ensure_returns(self, step_id: str) -> None:
        """Add the ``return_`` transitions from ``step_id`` to the machine, once.

        A chain of n steps has about n²/2 of them (each step may go back to every earlier one):
        built up front, a 3,000-step chain took minutes; a step's own are a few milliseconds.
        """
        if step_id in self._returns_from or step_id not in self.spec.steps or self.hooks is None:
            return
        with self._returns_lock:  # taken for adding only, never while a callback runs
            if step_id in self._returns_from:
                return
            order = {s: i for i, s in enumerate(self.spec.steps)}
            for target in sorted(self.ancestors[step_id], key=order.__getitem__):
                self.machine.add_transition(
                    "return_", step_id, target,
                    conditions=[_chosen(target), self.hooks.visited], after=self.hooks.enter_step,
                )  # fmt: skip
            self._returns_from.add(step_id)

    def next_steps(self, step_id: str, form: dict[str, Any]) -> list[str]:
        """The next steps of ``step_id`` whose condition holds for this form, in declared order."""
        out = []
        for nxt in self.step(step_id).next:
            cond = self.conditions.get((step_id, nxt.to))
            if cond is None or cond.evaluate(form, self.fields):
                out.append(nxt.to)
        return out

    @cached_property
    def fields(self) -> dict[str, Any]:
        return {f.key: f for f in self.spec.form}

    @contextmanager
    def bound(self, model: FlowModel) -> Iterator[FlowModel]:
        """Attach ``model`` to the shared machine at its stored state for the span of one action."""
        # No process lock here: actions hold database locks while the machine runs their callbacks,
        # and a second lock taken in another order would deadlock. add_model/remove_model only
        # append to and remove from a list (atomic under the GIL); per-flow order comes from the
        # flow row lock.
        self.ensure_returns(model.state)
        self.machine.add_model(model, initial=model.state)
        try:
            yield model
        finally:
            self.machine.remove_model(model)


class _Ancestors(dict[str, frozenset[str]]):
    """Step → the steps it can be reached from, each computed when first asked for."""

    def __init__(self, spec: Definition) -> None:
        super().__init__()
        self._parents = _parents(spec)

    def __missing__(self, step: str) -> frozenset[str]:
        found = self[step] = frozenset(_reaching(self._parents, step))
        return found


def _parents(spec: Definition) -> dict[str, set[str]]:
    parents: dict[str, set[str]] = {s: set() for s in spec.steps}
    for sid, step in spec.steps.items():
        for nxt in step.next:
            parents.setdefault(nxt.to, set()).add(sid)
    return parents


def _reaching(parents: dict[str, set[str]], target: str) -> set[str]:
    seen: set[str] = set()
    todo = list(parents.get(target, ()))
    while todo:
        s = todo.pop()
        if s not in seen:
            seen.add(s)
            todo.extend(parents.get(s, ()))
    seen.discard(target)
    return seen


def vetoable(step: Step) -> bool:
    """Whether a co-signer's rejection on this step is a veto."""
    return step.co_signers is not None and step.on_reject == "veto"


def _chosen(dest: str) -> Callable[[EventData], bool]:
    def check(event: EventData) -> bool:
        return event.kwargs.get("to") == dest

    return check


def _holds(cond: Condition | None) -> Callable[[EventData], bool]:
    def check(event: EventData) -> bool:
        if cond is None:
            return True
        model = event.model
        return cond.evaluate(model.ctx.form, model.ctx.compiled.fields)

    return check


def _transitions(spec: Definition, conds: dict[tuple[str, str], Condition], h: Hooks) -> list[dict]:
    out: list[dict[str, Any]] = []
    steps = list(spec.steps)
    for sid, step in spec.steps.items():
        for nxt in step.next:
            out.append(
                {
                    "trigger": "forward",
                    "source": sid,
                    "dest": nxt.to,
                    "conditions": [
                        _chosen(nxt.to),
                        _holds(conds.get((sid, nxt.to))),
                        h.waiting_met,
                    ],
                    "after": h.enter_step,
                }
            )
        if step.can_end or vetoable(step):
            # A vetoed countersign may always be ended as rejected, even where the step
            # cannot otherwise end the flow.
            out.append(
                {
                    "trigger": "end",
                    "source": sid,
                    "dest": "ended",
                    "conditions": h.end_allowed,
                    "after": h.close_flow,
                }
            )
        for ft in h.features:
            if not ft.where(step):
                continue
            after = [ft.after] if ft.after else []
            if ft.dest is not None:
                after.append(h.close_flow)
            out.append(
                {"trigger": ft.trigger, "source": sid, "dest": ft.dest, "conditions": ft.guard,
                 "after": after}
            )  # fmt: skip
        if step.handlers is not None:
            out.append({"trigger": "finish", "source": sid, "dest": None, "after": h.part_done})
        if step.co_signers is not None:
            out.append({"trigger": "sign", "source": sid, "dest": None, "after": h.part_done})
        out.append(
            {
                "trigger": "withdraw",
                "source": sid,
                "dest": "withdrawn",
                "conditions": h.nobody_opened,
                "after": h.close_flow,
            }
        )
    # return_: the event now, its transitions per step when a flow is first bound there
    out.append({"trigger": "return_", "source": [], "dest": steps[0]})
    return out


def compile_definition(version_id: int, spec: Definition, hooks: Hooks) -> CompiledDefinition:
    """Build the one machine for this definition version.

    States are the steps plus ``ended`` and ``withdrawn``; triggers are the engine's actions;
    guards are the definition's conditions and waiting rules; callbacks are ``hooks``. A step
    that asks for a feature (``revoke_within``, ``ding``) whose trigger no feature registered for
    the definition's kind is refused here, not found missing at the first revoke.
    """
    _require_features(spec, hooks)
    global MACHINES_BUILT
    conditions = compiled_conditions(spec)
    machine = Machine(
        model=None,
        states=[*spec.steps, *CLOSED_STATES],
        transitions=_transitions(spec, conditions, hooks),
        initial=spec.first_step,
        auto_transitions=False,
        send_event=True,
        name=f"{spec.id}@{version_id}",
    )
    with _count_lock:
        MACHINES_BUILT += 1
    return CompiledDefinition(version_id, spec, conditions, machine, hooks)


#: step fields that only work with a feature's trigger
_NEEDS = {"revoke": lambda step: step.revoke_within is not None, "ding": lambda step: step.ding}


def _require_features(spec: Definition, hooks: Hooks) -> None:
    have = {ft.trigger for ft in hooks.features}
    for trigger, needs in _NEEDS.items():
        step = next((sid for sid, st in spec.steps.items() if needs(st)), None)
        if step is not None and trigger not in have:
            raise RuntimeError(
                f"{spec.id}: step {step} needs the {trigger!r} trigger, which no feature "
                f"registered for kind {spec.kind!r} (is workflow.features imported?)"
            )


def mermaid(compiled: CompiledDefinition, current: str | None = None) -> str:
    """A Mermaid state diagram of the definition (the web page draws it), current step marked."""
    lines = ["stateDiagram-v2", f"    [*] --> {compiled.spec.first_step}"]
    for sid, step in compiled.spec.steps.items():
        lines.append(f"    {sid}: {step.name.zh}")
        for nxt in step.next:
            label = f" : {nxt.when}" if nxt.when else ""
            lines.append(f"    {sid} --> {nxt.to}{label}")
        if step.can_end:
            lines.append(f"    {sid} --> [*]")
    if current in compiled.spec.steps:
        lines.append("    classDef current fill:#fde68a,stroke:#b45309")
        lines.append(f"    class {current} current")
    return "\n".join(lines)
