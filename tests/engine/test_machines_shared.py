"""One machine per definition version, shared by every flow; a new version leaves running flows alone."""

from __future__ import annotations

import time
from pathlib import Path

from sqlalchemy import select

import workflow.machine
from tests.conftest import DEFINITIONS
from workflow.engine import Engine
from workflow.engine.registry import store_definition
from workflow.store.models import DefinitionVersion

CONTRACT = {
    "title": "办公楼空调采购合同",
    "counterparty": "上海申能机电有限公司",
    "amount": "680000",
    "contract_type": "purchase",
    "summary": "采购空调 40 台",
}
SEAL = {"title": "租赁合同用印", "seal": "company", "copies": 2, "purpose": "签约"}
ARCHIVE = {"archive_name": "2019 年度会计凭证", "purpose": "copy", "reason": "审计"}


class Counter:
    """Calls engine actions and counts them."""

    def __init__(self, engine: Engine) -> None:
        self.engine, self.n = engine, 0

    def __getattr__(self, name: str):
        method = getattr(self.engine, name)

        def call(*args, **kwargs):
            self.n += 1
            return method(*args, **kwargs)

        return call


def _open_items(engine: Engine, flow_id: int) -> list:
    visit = engine.history(flow_id).visits[-1]
    return [p for p in visit.people if p.status == "open"]


def _host(engine: Engine, flow_id: int):
    return next(p for p in _open_items(engine, flow_id) if p.role == "host")


def contract_review(act: Counter, people: dict[str, int], amount: str, n: int) -> int:
    """A contract review from draft to sealing, everyone opening their item first."""
    e = act.engine
    flow = act.start(people["huangyong"], "contract_review", {**CONTRACT, "amount": amount}).flow_id
    h = _host(e, flow)  # dept_review
    act.open(h.user_id, h.item_id)
    act.forward(h.user_id, h.item_id, opinion=f"同意 {n}")
    items = _open_items(e, flow)  # countersign: host and two co-signers
    for p in items:
        act.open(p.user_id, p.item_id)
    for p in items:
        if p.role == "co_signer":
            act.sign(p.user_id, p.item_id, decision="approve", opinion="无意见")
    h = next(p for p in items if p.role == "host")
    act.forward(h.user_id, h.item_id, host=people["chenzhiqiang"])
    h = _host(e, flow)  # leader_review
    act.open(h.user_id, h.item_id)
    act.forward(h.user_id, h.item_id, opinion="同意")
    h = _host(e, flow)  # gm_review or sealing
    if h.user_id == people["zhangjianguo"]:
        act.open(h.user_id, h.item_id)
        act.forward(h.user_id, h.item_id, opinion="同意")
        h = _host(e, flow)
    act.open(h.user_id, h.item_id)
    act.end(h.user_id, h.item_id, outcome="approved", opinion="已用印")
    return flow


def test_a_thousand_actions_build_one_machine_per_definition_version(
    engine: Engine, people: dict[str, int]
) -> None:
    before = workflow.machine.MACHINES_BUILT
    act = Counter(engine)
    started = time.perf_counter()
    flows = []
    for n in range(80):
        flows.append(contract_review(act, people, "680000" if n % 2 else "120000", n))
        if n % 8 == 0:  # two more approval types in between
            f = act.start(people["gaofeng"], "seal_usage", SEAL).flow_id
            h = _host(engine, f)
            act.open(h.user_id, h.item_id)
            act.forward(h.user_id, h.item_id)
            f = act.start(people["caoyang"], "archive_use", ARCHIVE).flow_id
            act.withdraw(people["caoyang"], f, reason="不用了")
    elapsed = time.perf_counter() - started
    assert act.n >= 1000, act.n
    assert all(engine.history(f).state == "ended" for f in flows)
    assert workflow.machine.MACHINES_BUILT - before == 3, "one machine per definition version used"
    assert len(engine.registry) == 3
    for compiled in engine.registry._compiled.values():
        # flows are bound to the shared machine for one action only, never left attached
        assert compiled.machine.models == []
    print(f"{act.n} actions in {elapsed:.1f} s")


def _changed_copy(tmp_path: Path) -> Path:
    original = next(p for p in DEFINITIONS if p.name == "contract_review.yaml")
    source = original.read_text(encoding="utf-8")
    assert "name: {zh: 合同评审, en: Contract review}" in source
    changed = source.replace(
        "name: {zh: 合同评审, en: Contract review}",
        "name: {zh: 合同评审（新）, en: Contract review}",
    )
    path = tmp_path / "contract_review_v2.yaml"
    path.write_text(changed, encoding="utf-8")
    return path


def test_a_new_version_leaves_running_flows_on_theirs(
    engine: Engine, people: dict[str, int], tmp_path: Path, clock
) -> None:
    before = workflow.machine.MACHINES_BUILT
    act = Counter(engine)
    old = act.start(people["huangyong"], "contract_review", CONTRACT).flow_id
    h = _host(engine, old)
    act.forward(h.user_id, h.item_id)  # now at countersign, on version 1
    rec = engine.history(old)
    assert (rec.definition_version, rec.definition_name, rec.state) == (
        1,
        "合同评审",
        "countersign",
    )

    with engine.db.write() as s:
        loaded = store_definition(s, _changed_copy(tmp_path), clock())
    assert (loaded.key, loaded.version, loaded.new) == ("contract_review", 2, True)
    with engine.db.read() as s:
        versions = s.execute(
            select(DefinitionVersion.version, DefinitionVersion.name_zh)
            .where(DefinitionVersion.key == "contract_review")
            .order_by(DefinitionVersion.version)
        ).all()
    assert [tuple(v) for v in versions] == [(1, "合同评审"), (2, "合同评审（新）")]

    new = contract_review(act, people, "120000", 1)
    rec_new = engine.history(new)
    assert (rec_new.definition_version, rec_new.definition_name) == (2, "合同评审（新）")
    assert rec_new.state == "ended" and rec_new.outcome == "approved"

    # The old flow goes on, to its end, on version 1.
    for p in _open_items(engine, old):
        if p.role == "co_signer":
            act.sign(p.user_id, p.item_id, decision="approve")
    h = _host(engine, old)
    act.forward(h.user_id, h.item_id, host=people["liuhaitao"])
    assert engine.history(old).definition_version == 1
    h = _host(engine, old)
    assert h.user_id == people["liuhaitao"]
    act.forward(h.user_id, h.item_id)  # 680000: to the general manager
    h = _host(engine, old)
    assert h.user_id == people["zhangjianguo"]
    act.forward(h.user_id, h.item_id)
    h = _host(engine, old)
    act.end(h.user_id, h.item_id, outcome="approved")
    rec = engine.history(old)
    assert (rec.definition_version, rec.definition_name) == (1, "合同评审")
    assert (rec.state, rec.outcome) == ("ended", "approved")
    assert [v.step for v in rec.visits] == [
        "draft",
        "dept_review",
        "countersign",
        "leader_review",
        "gm_review",
        "sealing",
    ]
    # one machine for version 1, one for version 2: no more
    assert workflow.machine.MACHINES_BUILT - before == 2
    # storing the same text again is no new version, and new flows stay on version 2
    with engine.db.write() as s:
        again = store_definition(s, _changed_copy(tmp_path), clock())
    assert (again.version, again.new) == (2, False)
    third = act.start(people["gaofeng"], "contract_review", CONTRACT).flow_id
    assert engine.history(third).definition_version == 2
    assert workflow.machine.MACHINES_BUILT - before == 2
