"""Benchmark 2: does an action get slower as its flow's history grows?

A contract review is started (draft → dept_review) and then bounced between dept_review and draft:
the department head returns it (``return_``), the initiator forwards it again (``forward``), 50
actions in all, each visiting one more step (52 visits, 50+ work items and 100+ audit events on the
flow at the end). Each action is timed on its own; the mean time of actions 1–5 is compared with
that of actions 46–50 over several flows. A flat engine gives a ratio of about 1. The statements
of action 1 and action 50 are counted too (a growing count would show a per-history query).
"""

from __future__ import annotations

import statistics
import tempfile
import time
from pathlib import Path

from common import CONTRACT, counting, header, setup, target

from workflow.engine import Engine

BOUNCES = 50
TARGET_RATIO = 1.3


def bounce_flow(eng: Engine, p: dict[str, int], marks: list[float] | None = None, log=None) -> None:
    """Start one flow and bounce it BOUNCES times; append each action's duration to ``marks``."""
    head, author = p["qianxuejun"], p["huangyong"]
    item = eng.start(author, "contract_review", CONTRACT).delivered[0]
    at_dept = True
    for n in range(1, BOUNCES + 1):
        if log is not None:
            log.begin(f"action {n}")
        t = time.perf_counter()
        if at_dept:
            out = eng.return_(head, item, opinion="请补充附件")
        else:
            out = eng.forward(author, item, opinion="已补充")
        if marks is not None:
            marks.append(time.perf_counter() - t)
        item, at_dept = out.delivered[0], not at_dept
    assert out.state == "dept_review", out


def run(quick: bool = False) -> None:
    flows = 5 if quick else 20
    header(
        f"2. Per-action cost as history grows: {flows} flows, each bounced dept_review ⇄ draft "
        f"{BOUNCES} times (return_ / forward)"
    )
    with tempfile.TemporaryDirectory(prefix="banli-bench-") as tmp:
        st = setup(Path(tmp) / "history.db")
        eng, p = st.engine, st.people
        bounce_flow(eng, p)  # warm-up
        per_flow: list[list[float]] = []
        for _ in range(flows):
            marks: list[float] = []
            bounce_flow(eng, p, marks)
            per_flow.append(marks)
        first = [m for f in per_flow for m in f[:5]]
        last = [m for f in per_flow for m in f[-5:]]
        mean1, mean2 = statistics.mean(first) * 1e6, statistics.mean(last) * 1e6
        med1, med2 = statistics.median(first) * 1e6, statistics.median(last) * 1e6
        ratio = mean2 / mean1
        print(f"  actions  1–5 : mean {mean1:7.0f} µs   median {med1:7.0f} µs")
        print(f"  actions 46–50: mean {mean2:7.0f} µs   median {med2:7.0f} µs")
        print(
            f"  ratio (46–50 / 1–5, means): {ratio:.2f}  (medians: {med2 / med1:.2f})   "
            f"{target(ratio <= TARGET_RATIO, f'≤ {TARGET_RATIO:g}')}"
        )
        blocks = []
        for b in range(0, BOUNCES, 10):
            blk = [m for f in per_flow for m in f[b : b + 10]]
            blocks.append(f"{b + 1}–{b + 10}: {statistics.median(blk) * 1e6:.0f}")
        print(f"  median µs by block of ten actions: {'; '.join(blocks)}")
        with counting(st.db) as log:
            bounce_flow(eng, p, log=log)
        counts = [len(log.by_label[f"action {n}"][0]) for n in (1, 2, BOUNCES - 1, BOUNCES)]
        print(
            f"  SQL statements: action 1 (return) {counts[0]}, action 2 (forward) {counts[1]}, "
            f"action {BOUNCES - 1} (return) {counts[2]}, action {BOUNCES} (forward) {counts[3]}"
        )
        print("  the return's statements (action 1):")
        for sql in log.by_label["action 1"][0]:
            print(f"       {sql[:150]}{' …' if len(sql) > 150 else ''}")
        st.db.dispose()
