"""The contract review driven through the engine, one engine call (one transaction) per action.

start → open+forward at dept_review (钱学军) → open+sign ×2 at countersign (杨帆 legal, 林晓燕
finance) → open+forward at countersign (李明, choosing 陈志强 for leader_review) → open+forward at
leader_review (amount < 500,000 → sealing) → open+end at sealing (孙丽): 13 actions per flow.
"""

from __future__ import annotations

from collections.abc import Callable

from common import CONTRACT

from workflow.engine import Engine

ACTIONS_PER_FLOW = 13

#: The action labels in the order a flow runs them (the statement counts are reported by these).
LABELS = [
    "start (draft → dept_review)",
    "open @dept_review",
    "forward dept_review → countersign",
    "open @countersign (co-signer)",
    "sign @countersign",
    "open @countersign (host)",
    "forward countersign → leader_review",
    "open @leader_review",
    "forward leader_review → sealing",
    "open @sealing",
    "end @sealing",
]


def _noop(label: str) -> None:
    pass


def engine_flow(eng: Engine, p: dict[str, int], mark: Callable[[str], None] = _noop) -> None:
    """One contract review from start to sealed; ``mark(label)`` is called before each action."""
    mark(LABELS[0])
    out = eng.start(p["huangyong"], "contract_review", CONTRACT)
    item = out.delivered[0]
    mark(LABELS[1])
    eng.open(p["qianxuejun"], item)
    mark(LABELS[2])
    out = eng.forward(p["qianxuejun"], item)
    # Delivered in Assignment.rows() order: the host, then the co-signers by user id.
    host_item, signer_items = out.delivered[0], out.delivered[1:]
    signers = sorted((p["yangfan"], p["linxiaoyan"]))
    for uid, it in zip(signers, signer_items, strict=True):
        mark(LABELS[3])
        eng.open(uid, it)
        mark(LABELS[4])
        eng.sign(uid, it, decision="approve", opinion="同意")
    mark(LABELS[5])
    eng.open(p["liming"], host_item)
    mark(LABELS[6])
    out = eng.forward(p["liming"], host_item, host=p["chenzhiqiang"], opinion="会签完毕")
    item = out.delivered[0]
    mark(LABELS[7])
    eng.open(p["chenzhiqiang"], item)
    mark(LABELS[8])
    out = eng.forward(p["chenzhiqiang"], item, opinion="同意")
    item = out.delivered[0]
    mark(LABELS[9])
    eng.open(p["sunli"], item)
    mark(LABELS[10])
    out = eng.end(p["sunli"], item, outcome="approved", opinion="已用印")
    assert out.state == "ended", out
