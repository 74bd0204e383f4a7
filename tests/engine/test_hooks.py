"""Features plug into the machines through workflow.engine.hooks: registered on import, before the
first machine compiles, whichever door builds the engine."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import pytest

from tests.conftest import DEFINITIONS
from workflow.engine import hooks
from workflow.engine.hooks import Trigger, machine_hooks, register_on_enter, register_trigger
from workflow.machine import Hooks, compile_definition
from workflow.spec.loader import load_file

ROOT = Path(__file__).resolve().parents[2]
MESSAGE = next(p for p in DEFINITIONS if p.stem == "message")
CONTRACT = next(p for p in DEFINITIONS if p.stem == "contract_review")


def test_an_engine_used_alone_has_messages_dinging_and_urging() -> None:
    """A fresh process that imports only the Engine compiles machines with every feature."""
    code = (
        "from workflow.engine import Engine\n"
        "from workflow.engine.hooks import machine_hooks\n"
        "from workflow.machine import compile_definition\n"
        "from workflow.spec.loader import load_file\n"
        f"m = load_file({str(MESSAGE)!r}); c = load_file({str(CONTRACT)!r})\n"
        "msg = compile_definition(1, m, machine_hooks(m.kind)).machine\n"
        "con = compile_definition(2, c, machine_hooks(c.kind)).machine\n"
        "print(sorted(msg.get_triggers('sent')), sorted(con.get_triggers(c.first_step)))\n"
    )
    out = subprocess.run(
        [sys.executable, "-c", code], cwd=ROOT, capture_output=True, text=True, check=True
    ).stdout
    message, contract = out.strip().split("] [")
    assert "'ding'" in message and "'revoke'" in message
    assert "'ding'" in contract and "'revoke'" not in contract  # urging: a ding on every step


def test_the_kinds_declare_their_feature_triggers() -> None:
    assert sorted(t.name for t in hooks.triggers("message")) == ["ding", "revoke"]
    assert [t.name for t in hooks.triggers("approval")] == ["ding"]


def test_a_definition_needing_an_unregistered_trigger_does_not_compile() -> None:
    spec = load_file(MESSAGE)
    bare = machine_hooks("approval")  # the approval kind has no revoke
    with pytest.raises(RuntimeError, match="needs the 'revoke' trigger"):
        compile_definition(99, spec, Hooks(**{**bare.__dict__, "features": ()}))


def test_registering_after_a_machine_compiled_is_refused() -> None:
    machine_hooks("approval")  # a machine may now exist without what comes next
    with pytest.raises(RuntimeError, match="after a machine was compiled"):
        register_trigger("approval", Trigger("nudge", where=lambda step: True, guard=bool))
    with pytest.raises(RuntimeError, match="after a machine was compiled"):
        register_on_enter(lambda a, visit, step: None)
    assert "nudge" not in [t.name for t in hooks.triggers("approval")]
