"""Benchmark 1: actions per second for the contract review, engine versus hand-written Core.

Each of the 13 actions of a contract review (see ``flows``) is one call and one transaction
(BEGIN IMMEDIATE … COMMIT) on a SQLite file database in WAL mode, as a web request would make it.
Flows run one after another, after a warm-up, for a fixed time; every call counts as one action.
The same is done with ``baseline`` (hand-written SQLAlchemy Core writing the same rows) in a
database of its own; the two alternate in half-second slices so machine load hits both alike. Printed: actions/s for both, the ratio of time per action, a per-action-kind
breakdown of time and of SQL statements (counted with a ``before_cursor_execute`` listener in a
separate, untimed flow), and the engine's statements for each action kind.
"""

from __future__ import annotations

import statistics
import tempfile
import time
from collections import defaultdict
from collections.abc import Callable
from pathlib import Path

from baseline import Baseline, baseline_flow
from common import counting, fig, header, print_statements, record, setup, target
from flows import ACTIONS_PER_FLOW, LABELS, engine_flow

TARGET_RATE = 3000
TARGET_RATIO = 2.0

FlowRunner = Callable[[Callable[[str], None]], None]


class Timer:
    """Collects the duration of each labelled action from consecutive ``mark`` calls."""

    def __init__(self) -> None:
        self.per: dict[str, list[float]] = defaultdict(list)
        self._t: float | None = None
        self._label: str | None = None

    def mark(self, label: str | None) -> None:
        now = time.perf_counter()
        if self._label is not None:
            self.per[self._label].append(now - self._t)  # type: ignore[operator]
        self._t, self._label = now, label

    def mean_us(self, label: str) -> float:
        return statistics.mean(self.per[label]) * 1e6


class Runner:
    """Runs whole flows of one kind in time slices, accumulating actions, wall and CPU time."""

    def __init__(self, flow: FlowRunner, warmup_flows: int) -> None:
        self.flow, self.timer = flow, Timer()
        self.actions, self.wall, self.cpu = 0, 0.0, 0.0
        for _ in range(warmup_flows):
            flow(lambda label: None)

    def slice(self, seconds: float) -> None:
        t0, c0 = time.perf_counter(), time.process_time()
        deadline = t0 + seconds
        while time.perf_counter() < deadline:
            self.flow(self.timer.mark)
            self.timer.mark(None)
            self.actions += ACTIONS_PER_FLOW
        self.wall += time.perf_counter() - t0
        self.cpu += time.process_time() - c0


def run(quick: bool = False) -> None:
    seconds, warmup = (1.0, 10) if quick else (5.0, 40)
    header(
        f"1. Actions per second: contract review, SQLite file (WAL), one transaction per action "
        f"({ACTIONS_PER_FLOW} actions per flow, ~{seconds:g} s each)"
    )
    with tempfile.TemporaryDirectory(prefix="banli-bench-") as tmp:
        eng_setup = setup(Path(tmp) / "engine.db")
        base_setup = setup(Path(tmp) / "baseline.db")
        eng, p = eng_setup.engine, eng_setup.people
        base = Baseline(base_setup.db.engine, base_setup.contract_version)

        def eflow(mark: Callable[[str], None]) -> None:
            engine_flow(eng, p, mark)

        def bflow(mark: Callable[[str], None]) -> None:
            baseline_flow(base, base_setup.people, mark)

        # Alternate half-second slices so that a change in machine load hits both alike.
        e_run, b_run = Runner(eflow, warmup), Runner(bflow, warmup)
        for _ in range(int(seconds / 0.5)):
            e_run.slice(0.5)
            b_run.slice(0.5)
        e_n, e_t, e_cpu, e_timer = e_run.actions, e_run.wall, e_run.cpu, e_run.timer
        b_n, b_t, b_cpu, b_timer = b_run.actions, b_run.wall, b_run.cpu, b_run.timer
        e_rate, b_rate = e_n / e_t, b_n / b_t
        ratio = (e_t / e_n) / (b_t / b_n)
        cpu_ratio = (e_cpu / e_n) / (b_cpu / b_n)
        print(
            f"  engine:   {e_n:>7,} actions in {e_t:5.2f} s = {e_rate:7,.0f} actions/s "
            f"({1e6 / e_rate:5.0f} µs/action; CPU {1e6 * e_cpu / e_n:5.0f} µs)   "
            f"{target(e_rate >= TARGET_RATE, f'≥ {TARGET_RATE:,} actions/s')}"
        )
        print(
            f"  baseline: {b_n:>7,} actions in {b_t:5.2f} s = {b_rate:7,.0f} actions/s "
            f"({1e6 / b_rate:5.0f} µs/action; CPU {1e6 * b_cpu / b_n:5.0f} µs)   "
            "(hand-written Core, same rows)"
        )
        print(
            f"  engine time / baseline time per action: {ratio:.2f} (CPU time: {cpu_ratio:.2f})   "
            f"{target(ratio <= TARGET_RATIO, f'≤ {TARGET_RATIO:g}')}"
        )
        record(
            "actions",
            {
                "engine_actions_per_s": fig(
                    e_rate, "actions/s", f"≥ {TARGET_RATE}", e_rate >= TARGET_RATE
                ),
                "engine_cpu_us_per_action": fig(1e6 * e_cpu / e_n, "µs"),
                "baseline_actions_per_s": fig(b_rate, "actions/s"),
                "engine_over_baseline": fig(
                    ratio, "ratio", f"≤ {TARGET_RATIO:g}", ratio <= TARGET_RATIO
                ),
                "engine_over_baseline_cpu": fig(cpu_ratio, "ratio"),
            },
        )
        share = min(e_cpu / e_t, b_cpu / b_t)
        if share < 0.85:
            print(
                f"  note: this process got only {share:.0%} of a CPU while timed (machine busy): "
                "wall-clock rates are low by that much; the CPU-time figures are fairer"
            )

        with counting(eng_setup.db) as e_log:
            engine_flow(eng, p, e_log.begin)
        with counting(base_setup.db) as b_log:
            baseline_flow(base, base_setup.people, b_log.begin)

        print()
        print("  Per action kind: mean time (timed run) and SQL statements (one counted flow;")
        print("  BEGIN IMMEDIATE included, the driver's COMMIT not; an executemany counts once)")
        print(
            f"    {'action':<36}{'engine µs':>10}{'base µs':>9}{'ratio':>7}"
            f"{'engine SQL':>12}{'(S/I/U)':>10}{'base SQL':>10}"
        )
        e_total = b_total = 0.0
        for label in LABELS:
            times = 2 if "co-signer" in label or label.startswith("sign") else 1
            e_us, b_us = e_timer.mean_us(label), b_timer.mean_us(label)
            k = e_log.kinds(label)
            siu = f"{k['SELECT']:.0f}/{k['INSERT']:.0f}/{k['UPDATE']:.0f}"
            e_total += e_log.mean(label) * times
            b_total += b_log.mean(label) * times
            print(
                f"    {label:<36}{e_us:>10.0f}{b_us:>9.0f}{e_us / b_us:>7.2f}"
                f"{e_log.mean(label):>12.0f}{siu:>10}{b_log.mean(label):>10.0f}"
            )
        print(
            f"    {'whole flow (13 actions)':<36}{'':>26}{e_total:>12.0f}{'':>10}{b_total:>10.0f}"
            f"   = {e_total / ACTIONS_PER_FLOW:.1f} vs {b_total / ACTIONS_PER_FLOW:.1f} per action"
        )
        print(
            f"  statements per flow: {e_total:.0f} ({e_total / ACTIONS_PER_FLOW:.1f} per action); "
            f"µs per action {1e6 / e_rate:.0f} (CPU {1e6 * e_cpu / e_n:.0f})   "
            f"{target(1e6 / e_rate <= 1e6 / TARGET_RATE, f'≤ {1e6 / TARGET_RATE:.0f} µs')}"
        )
        record(
            "actions_sqlite",
            {"actions_per_s": e_rate, "us_per_action": 1e6 / e_rate,
             "cpu_us_per_action": 1e6 * e_cpu / e_n, "baseline_ratio": ratio,
             "statements_per_flow": e_total,
             "statements_per_kind": {label: e_log.mean(label) for label in LABELS}},
        )  # fmt: skip
        print()
        print("  The engine's statements, per action kind:")
        print_statements(e_log, LABELS)
        eng_setup.db.dispose()
        base_setup.db.dispose()
