"""A definition of 3,000 steps in a chain: stored, compiled at once, run, returned from."""

from __future__ import annotations

from tests.spec.test_loader_limits import chain
from workflow.engine.registry import store_definition


def transitions(compiled, trigger: str) -> int:
    return sum(len(ts) for ts in compiled.machine.events[trigger].transitions.values())


def test_a_chain_of_3000_steps_runs_and_returns(engine, people, item_of, tmp_path):
    path = tmp_path / "big.yaml"
    path.write_text(chain(3000), encoding="utf-8")
    with engine.db.write() as s:
        assert store_definition(s, path, engine.clock()).new
    h = people
    fid = engine.start(h["huangyong"], "big", {}).flow_id
    for _ in range(3):  # s1 → s2 → s3, each hosted by 黄勇's department head
        engine.forward(h["qianxuejun"], item_of("qianxuejun", fid))
    engine.return_(h["qianxuejun"], item_of("qianxuejun", fid), to="s0", opinion="重新起草")
    record = engine.history(fid)
    assert [v.step for v in record.visits] == ["s0", "s1", "s2", "s3", "s4", "s0"]
    with engine.db.read() as s:
        compiled = engine.registry.latest(s, "big")
    # each step may go back to every earlier one: ~4.5 million transitions were built up front
    # (minutes); now only those of the steps a flow stood on, as it got there
    assert transitions(compiled, "forward") == 2999
    assert transitions(compiled, "return_") == sum(range(5))  # from s0…s4: 0+1+2+3+4
    assert compiled.ancestors["s2999"] == frozenset(f"s{i}" for i in range(2999))
