"""Benchmark 3: inbox latency (``engine.inbox(user_id, limit=20)``) as the work-item table grows.

The table is filled with bulk Core inserts (executemany, 10,000 rows a statement, one transaction
per size step) to 10k, 100k and 1M work items, with valid flows, visits and users behind them
(PRAGMA foreign_keys is on): every 10,000 items belong to 10 flows of 3 visits each. One user
(李明) holds ~1.5% of the items open and ~1% handled; the rest belong to 2,000 other users, ~5% of
them open. At each size 200 inbox calls are timed after a warm-up; p50 and p95 are printed, and
SQLite's EXPLAIN QUERY PLAN of the inbox statement (captured with a listener) shows whether the
partial index ``ix_work_items_open`` serves it. The fill is time-boxed: if 1M would take longer
than FILL_BUDGET seconds, a smaller top size is used and a note is printed.
"""

from __future__ import annotations

import random
import tempfile
import time
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

from common import CONTRACT, fig, header, percentile, record, setup, target
from sqlalchemy import event, insert, select

from workflow.store.models import Flow, Unit, User, Visit, WorkItem

CHUNK = 10_000
FILL_BUDGET = 150.0  # seconds for the whole fill, all sizes together
TARGET_P50_MS = 1.0
STEPS = ("dept_review", "countersign", "leader_review")


class Filler:
    """Appends synthetic flows, visits and work items with explicit ids, CHUNK items at a time."""

    def __init__(self, st: Any) -> None:
        self.st, self.rng = st, random.Random(42)
        self.me = st.people["liming"]
        self.initiators = list(st.people.values())
        self.items = self.flows = self.visits = 0
        base = datetime(2026, 1, 5, 1, 0, tzinfo=UTC)
        self.times = [base + timedelta(minutes=i) for i in range(1000)]
        with st.db.engine.begin() as conn:
            unit = conn.scalar(select(Unit.id).where(Unit.code == "engineering"))
            first = conn.scalar(select(User.id).order_by(User.id.desc()).limit(1)) + 1
            conn.execute(
                insert(User),
                [
                    {
                        "id": first + i,
                        "login": f"bench{i}",
                        "name": f"测试用户{i}",
                        "unit_id": unit,
                        "status": "active",
                    }
                    for i in range(2000)
                ],
            )
        self.others = list(range(first, first + 2000))

    def chunk(self, conn: Any) -> None:
        rng, t = self.rng, self.times
        flows, visits = [], []
        for _ in range(10):
            self.flows += 1
            fid = self.flows
            for seq, step in enumerate(STEPS, 1):
                self.visits += 1
                visits.append(
                    {
                        "id": self.visits,
                        "flow_id": fid,
                        "seq": seq,
                        "step": step,
                        "entered_at": t[seq],
                        "via": "forward",
                        "rejected": False,
                        "left_at": t[seq + 1] if seq < 3 else None,
                    }
                )
            flows.append(
                {
                    "id": fid,
                    "definition_id": self.st.contract_version,
                    "title": f"合同 {fid}",
                    "form": CONTRACT,
                    "state": "countersign",
                    "initiator_id": rng.choice(self.initiators),
                    "started_at": t[0],
                    "current_visit_id": self.visits,
                    "version": 1,
                    "audit_seq": 0,
                    "audit_head": "",
                }
            )
        items = []
        for _ in range(CHUNK):
            self.items += 1
            v = visits[self.items % len(visits)]
            r = rng.random()
            if r < 0.015:
                user, open_ = self.me, True
            elif r < 0.025:
                user, open_ = self.me, False
            else:
                user, open_ = rng.choice(self.others), rng.random() < 0.05
            at = t[self.items % 997]
            items.append(
                {
                    "id": self.items,
                    "flow_id": v["flow_id"],
                    "visit_id": v["id"],
                    "user_id": user,
                    "role": "host" if r < 0.5 else "co_signer",
                    "status": "open" if open_ else "done",
                    "delivered_at": at,
                    "confirmed_at": None if open_ else at,
                    "handled_at": None if open_ else at,
                    "closed_at": None if open_ else at,
                    "action": None if open_ else "forward",
                }
            )
        conn.execute(insert(Flow), flows)
        conn.execute(insert(Visit), visits)
        conn.execute(insert(WorkItem), items)

    def fill_to(self, n: int, deadline: float) -> bool:
        """Add chunks until ``n`` items (one transaction); False if stopped by ``deadline``."""
        with self.st.db.engine.begin() as conn:
            while self.items < n:
                if time.perf_counter() > deadline:
                    return False
                self.chunk(conn)
        return True


def capture(st: Any, user_id: int) -> tuple[str, Any]:
    """The inbox's SELECT and its parameters, as the engine sends them to the driver."""
    seen: list[tuple[str, Any]] = []

    def grab(conn: Any, cursor: Any, statement: str, parameters: Any, *args: Any) -> None:
        if "work_items" in statement and statement.lstrip().upper().startswith("SELECT"):
            seen.append((statement, parameters))

    event.listen(st.db.engine, "before_cursor_execute", grab)
    try:
        st.engine.inbox(user_id, limit=20)
    finally:
        event.remove(st.db.engine, "before_cursor_execute", grab)
    return seen[0]


def explain(st: Any, sql: str, params: Any) -> list[str]:
    with st.db.engine.connect() as conn:
        rows = conn.exec_driver_sql("EXPLAIN QUERY PLAN " + sql, params).all()
    return [f"{'  ' * (r[1] > 0)}{r[3]}" for r in rows]


def measure(st: Any, user_id: int, calls: int) -> tuple[float, float, float, int]:
    """(p50 ms, p95 ms, p50 CPU ms, rows) of ``calls`` inbox calls after a warm-up. The CPU time
    of this process is measured too: on a busy machine it is the steadier figure."""
    for _ in range(20):
        rows = st.engine.inbox(user_id, limit=20)
    wall, cpu = [], []
    for _ in range(calls):
        t, c = time.perf_counter(), time.process_time()
        st.engine.inbox(user_id, limit=20)
        wall.append(time.perf_counter() - t)
        cpu.append(time.process_time() - c)
    return (
        percentile(wall, 0.5) * 1e3,
        percentile(wall, 0.95) * 1e3,
        percentile(cpu, 0.5) * 1e3,
        len(rows),
    )


def measure_raw(st: Any, sql: str, params: Any, calls: int) -> float:
    """p50 ms of the same SELECT on the bare sqlite3 connection: the database's share."""
    raw = st.db.engine.raw_connection()
    try:
        cur = raw.driver_connection.cursor()
        times = []
        for i in range(calls + 20):
            t = time.perf_counter()
            cur.execute(sql, params).fetchall()
            if i >= 20:
                times.append(time.perf_counter() - t)
        return percentile(times, 0.5) * 1e3
    finally:
        raw.close()


def run(quick: bool = False) -> None:
    sizes = [10_000, 100_000] if quick else [10_000, 100_000, 1_000_000]
    header(
        f"3. Inbox p50/p95, engine.inbox(user, limit=20), at {', '.join(f'{s:,}' for s in sizes)} "
        "work items"
    )
    with tempfile.TemporaryDirectory(prefix="banli-bench-") as tmp:
        st = setup(Path(tmp) / "inbox.db")
        f = Filler(st)
        t_start = time.perf_counter()
        deadline = t_start + FILL_BUDGET
        results = []
        for n in sizes:
            elapsed = time.perf_counter() - t_start
            if f.items:  # project this step from the rate so far
                rate = f.items / elapsed
                room = int((FILL_BUDGET - elapsed) * rate) + f.items
                if room < n:
                    print(
                        f"  note: filling to {n:,} would take ~{(n - f.items) / rate:.0f} s more "
                        f"(budget {FILL_BUDGET:.0f} s in all); using {room // CHUNK * CHUNK:,}"
                    )
                    n = max(room // CHUNK * CHUNK, f.items)
            t0 = time.perf_counter()
            complete = f.fill_to(n, deadline)
            fill_s = time.perf_counter() - t0
            if not complete:
                print(
                    f"  note: fill stopped by the {FILL_BUDGET:.0f} s budget at {f.items:,} items"
                )
            p50, p95, cpu50, got = measure(st, f.me, 200)
            sql, params = capture(st, f.me)
            raw = measure_raw(st, sql, params, 200)
            results.append((f.items, p50, cpu50))
            record(
                "inbox",
                {
                    f"p50_ms_at_{f.items}": fig(p50, "ms"),
                    f"p95_ms_at_{f.items}": fig(p95, "ms"),
                    f"select_only_p50_ms_at_{f.items}": fig(raw, "ms"),
                },
            )
            print(
                f"  {f.items:>9,} items ({f.flows:,} flows, {f.visits:,} visits, filled in "
                f"{fill_s:4.1f} s): p50 {p50:5.2f} ms  p95 {p95:5.2f} ms  CPU p50 {cpu50:5.2f} ms"
                f"  ({got} rows); the SELECT alone on the driver: p50 {raw:5.3f} ms"
            )
        top, p50_top, cpu_top = results[-1]
        print(
            f"  p50 at {top:,} / p50 at {results[0][0]:,}: {p50_top / results[0][1]:.2f} "
            f"(CPU p50: {cpu_top / results[0][2]:.2f})"
        )
        print(
            f"  p50 at {top:,}: {p50_top:.2f} ms (CPU {cpu_top:.2f} ms)   "
            f"{target(p50_top <= TARGET_P50_MS, f'≤ {TARGET_P50_MS:g} ms')}"
        )
        record(
            "inbox",
            {
                "items_at_top": top,
                "p50_ms_at_top": fig(
                    p50_top, "ms", f"≤ {TARGET_P50_MS:g} ms", p50_top <= TARGET_P50_MS
                ),
                "p50_top_over_first": fig(p50_top / results[0][1], "ratio"),
            },
        )
        with st.db.engine.connect() as conn:
            open_mine = conn.exec_driver_sql(
                "SELECT count(*) FROM work_items WHERE user_id = ? AND status = 'open'", (f.me,)
            ).scalar()
        print(f"  李明's open items: {open_mine:,} ({open_mine / f.items:.1%} of the table)")
        plan = explain(st, sql, params)
        print(f"  the inbox statement: {' '.join(sql.split())}")
        print(f"  its parameters: {params}")
        print("  EXPLAIN QUERY PLAN of the inbox statement:")
        for line in plan:
            print(f"    {line}")
        used = any("ix_work_items_open" in line for line in plan)
        print(f"  partial index ix_work_items_open used: {'yes' if used else 'NO'}")
        st.db.dispose()
