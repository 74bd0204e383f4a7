"""Benchmark 2: does an action get slower as its flow's history grows?

A contract review is started (draft → dept_review) and then bounced between dept_review and draft:
the department head returns it (``return_``), the initiator forwards it again (``forward``), 50
actions in all, each visiting one more step (52 visits, 50+ work items and 100+ audit events on the
flow by the end). Each action is timed on its own (wall clock and this process's CPU time).

So that a change in machine load cannot pass for a trend, POOL flows are bounced side by side at
staggered ages (0, 5, 10 … 45 actions done): every round advances each by one action, and a flow
that has done its 50 is replaced by a new one. Actions 1–5 and 46–50 are thus sampled throughout
the run. Printed: their mean times and the ratio (a flat engine gives about 1), the mean by block
of ten, and the statement counts of early and late actions (a growing count would show a query
per history row).
"""

from __future__ import annotations

import statistics
import tempfile
import time
from pathlib import Path

from common import CONTRACT, counting, fig, header, record, setup, target

from workflow.engine import Engine

BOUNCES = 50
POOL = 10
TARGET_RATIO = 1.3


class Bouncer:
    """One flow being bounced dept_review ⇄ draft; ``step()`` does its next action."""

    def __init__(self, eng: Engine, p: dict[str, int]) -> None:
        self.eng, self.head, self.author = eng, p["qianxuejun"], p["huangyong"]
        self.item = eng.start(self.author, "contract_review", CONTRACT).delivered[0]
        self.done = 0

    def step(self) -> tuple[int, float, float]:
        """Do the next action: (its number, wall seconds, CPU seconds)."""
        t, c = time.perf_counter(), time.process_time()
        if self.done % 2 == 0:
            out = self.eng.return_(self.head, self.item, opinion="请补充附件")
        else:
            out = self.eng.forward(self.author, self.item, opinion="已补充")
        wall, cpu = time.perf_counter() - t, time.process_time() - c
        self.item, self.done = out.delivered[0], self.done + 1
        return self.done, wall, cpu


def run(quick: bool = False) -> None:
    samples_per_action = 8 if quick else 30
    rounds = samples_per_action * BOUNCES // POOL
    header(
        f"2. Per-action cost as history grows: flows bounced dept_review ⇄ draft {BOUNCES} times "
        f"(return_ / forward), {POOL} side by side, {samples_per_action} samples per action number"
    )
    with tempfile.TemporaryDirectory(prefix="banli-bench-") as tmp:
        st = setup(Path(tmp) / "history.db")
        eng, p = st.engine, st.people
        warm = Bouncer(eng, p)
        while warm.done < BOUNCES:
            warm.step()
        pool = []
        for k in range(POOL):  # staggered ages 0, 5, … 45 (not timed)
            b = Bouncer(eng, p)
            while b.done < k * BOUNCES // POOL:
                b.step()
            pool.append(b)
        by_n: dict[int, list[tuple[float, float]]] = {n: [] for n in range(1, BOUNCES + 1)}
        for _ in range(rounds):
            for i, b in enumerate(pool):
                n, wall, cpu = b.step()
                by_n[n].append((wall, cpu))
                if b.done == BOUNCES:
                    pool[i] = Bouncer(eng, p)

        def stats(lo: int, hi: int) -> tuple[float, float, float]:
            """Mean wall, median wall and mean CPU µs of actions lo..hi (1-based)."""
            sample = [m for n in range(lo, hi + 1) for m in by_n[n]]
            wall = [w for w, _ in sample]
            return (
                statistics.mean(wall) * 1e6,
                statistics.median(wall) * 1e6,
                statistics.mean(c for _, c in sample) * 1e6,
            )

        first, last = stats(1, 5), stats(BOUNCES - 4, BOUNCES)
        for name, (mean, med, cpu) in (("1–5", first), (f"{BOUNCES - 4}–{BOUNCES}", last)):
            print(
                f"  actions {name:>5}: mean {mean:6.0f} µs   median {med:6.0f} µs   "
                f"mean CPU {cpu:6.0f} µs"
            )
        ratio = last[0] / first[0]
        print(
            f"  ratio ({BOUNCES - 4}–{BOUNCES} / 1–5, means): {ratio:.2f}  (medians: "
            f"{last[1] / first[1]:.2f}, CPU: {last[2] / first[2]:.2f})   "
            f"{target(ratio <= TARGET_RATIO, f'≤ {TARGET_RATIO:g}')}"
        )
        record(
            "history",
            {
                "first_5_mean_us": fig(first[0], "µs"),
                "last_5_mean_us": fig(last[0], "µs"),
                "last_over_first": fig(
                    ratio, "ratio", f"≤ {TARGET_RATIO:g}", ratio <= TARGET_RATIO
                ),
            },
        )
        blocks = [f"{b}–{b + 9}: {stats(b, b + 9)[2]:.0f}" for b in range(1, BOUNCES, 10)]
        print(f"  mean CPU µs by block of ten actions: {'; '.join(blocks)}")

        counted = Bouncer(eng, p)
        with counting(st.db) as log:
            while counted.done < BOUNCES:
                log.begin(f"action {counted.done + 1}")
                counted.step()
        counts = [len(log.by_label[f"action {n}"][0]) for n in (1, 2, BOUNCES - 1, BOUNCES)]
        print(
            f"  SQL statements: action 1 (return) {counts[0]}, action 2 (forward) {counts[1]}, "
            f"action {BOUNCES - 1} (return) {counts[2]}, action {BOUNCES} (forward) {counts[3]}"
        )
        for n, what in ((1, "return_"), (2, "forward draft → dept_review")):
            print(f"  the statements of action {n} ({what}):")
            for sql in log.by_label[f"action {n}"][0]:
                print(f"       {sql[:150]}{' …' if len(sql) > 150 else ''}")
        st.db.dispose()
