"""The hook interface: features (messages, DING, urging, deadlines) plug their guards and callbacks
into the engine's machines here; the engine core itself knows no feature.

A feature registers, when its module is imported (``workflow.features`` imports them all, and
``workflow/__init__`` imports ``workflow.features``, so no machine compiles before):

- a :class:`Trigger` for a definition kind (``approval`` or ``message``): its name, the steps
  that get it, its destination (``None``: the flow stays at the step) and its guard and callback,
  both called with the action in progress (:class:`workflow.engine.context.Action`);
- an on-enter hook, called with the action, the new visit's id and its step each time a step is
  entered (the deadlines' ``remind`` and ``timeout`` jobs).

:func:`machine_hooks` gives the hooks a kind's machines are compiled with: the core's own
bookkeeping plus the triggers registered for that kind.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import TYPE_CHECKING, Literal

from transitions import EventData

from workflow.machine import FeatureTrigger, Hooks
from workflow.spec.model import Step

if TYPE_CHECKING:
    from workflow.engine.context import Action

Kind = Literal["approval", "message"]
KINDS: tuple[Kind, ...] = ("approval", "message")
Guard = Callable[["Action"], bool]
Callback = Callable[["Action"], None]
OnEnter = Callable[["Action", int, str], None]


@dataclass(frozen=True)
class Trigger:
    """A trigger a feature adds to the machines of one definition kind."""

    name: str
    #: which steps have it (e.g. those with ``revoke_within``)
    where: Callable[[Step], bool]
    #: raises the refusal the actor sees, or returns True
    guard: Guard
    #: the feature's bookkeeping after the transition (None: only the core's, e.g. closing)
    after: Callback | None = None
    #: a closed state, or None for an internal transition (the flow stays at its step)
    dest: str | None = None


_TRIGGERS: dict[tuple[Kind, str], Trigger] = {}
_ON_ENTER: list[OnEnter] = []
#: set once a machine has been compiled: registering later would leave that machine without it
_compiled = False


def register_trigger(kind: Kind, trigger: Trigger) -> None:
    """Add ``trigger`` to every machine of ``kind`` compiled from now on (call at import time)."""
    if kind not in KINDS:
        raise ValueError(f"unknown definition kind {kind!r}; known: {', '.join(KINDS)}")
    _refuse_if_compiled(f"trigger {trigger.name!r}")
    _TRIGGERS[(kind, trigger.name)] = trigger


def register_on_enter(hook: OnEnter) -> None:
    """Call ``hook(action, visit_id, step)`` whenever a step is entered, in the action's transaction."""
    _refuse_if_compiled(f"on-enter hook {hook.__qualname__}")
    if hook not in _ON_ENTER:
        _ON_ENTER.append(hook)


def _refuse_if_compiled(what: str) -> None:
    if _compiled:
        raise RuntimeError(
            f"{what} registered after a machine was compiled: register features when their "
            "module is imported, from workflow.features"
        )


def triggers(kind: str) -> list[Trigger]:
    """The triggers registered for ``kind``, in registration order."""
    return [t for (k, _), t in _TRIGGERS.items() if k == kind]


def entered(a: Action, visit_id: int, step: str) -> None:
    """Run the on-enter hooks for a step just entered."""
    for hook in _ON_ENTER:
        hook(a, visit_id, step)


def _ctx(event: EventData) -> Action:
    return event.model.ctx


def _guard(fn: Guard) -> Callable[[EventData], bool]:
    return lambda e: fn(_ctx(e))


def _after(fn: Callback) -> Callable[[EventData], None]:
    return lambda e: fn(_ctx(e))


def machine_hooks(kind: str) -> Hooks:
    """The hooks a machine of ``kind`` is compiled with: the core's and the kind's features'."""
    global _compiled
    _compiled = True
    features = tuple(
        FeatureTrigger(
            t.name, t.where, t.dest, _guard(t.guard), _after(t.after) if t.after else None
        )
        for t in triggers(kind)
    )
    return Hooks(
        enter_step=lambda e: _ctx(e).engine.on_enter(_ctx(e), e),
        close_flow=lambda e: _ctx(e).engine.on_close(_ctx(e), e),
        waiting_met=lambda e: _ctx(e).waiting_met(e.event.name),
        end_allowed=lambda e: _ctx(e).end_allowed(),
        visited=lambda e: _ctx(e).engine.visited(_ctx(e), e.transition.dest),
        nobody_opened=lambda e: _ctx(e).engine.nobody_opened(_ctx(e)),
        part_done=lambda e: _ctx(e).engine.on_part_done(_ctx(e), e),
        features=features,
    )
