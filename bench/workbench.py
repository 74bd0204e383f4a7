"""Benchmark 3b: the whole workbench page, every tab, deep pages and the export, at scale.

Two people with a lot of work: 李明 (liming: ~1.5 % of the items open, ~1 % handled, ~0.5 %
copies to read) and a heavy person (bench_heavy: 30 k open and 70 k handled at 1 M items). On
SQLite the table is filled to 1 M work items (100 k with ``--quick``); on PostgreSQL (when
BANLI_BENCH_POSTGRES_URL or the local test server answers) 100 k flows carry the heavy
person's 30 k open / 70 k done items (20 k flows with ``--quick``).

Figures, each p50 of engine time (no HTTP), beside its target:
- page: one tab's first page with the four tab counts, as the page asks for them;
- counts: the four counts alone (one statement, or four on the base commit);
- deep: the middle and the last page of each tab, by keyset cursor (``after``) where the
  engine has it, else by page number (OFFSET: the base commit);
- export: every row of every tab, as CSV, in rows/s (the base commit has no export: it pages
  through each tab 100 rows at a time, as a script would).
Then the EXPLAIN (QUERY PLAN) of every statement the page, a keyset page and the export send.

Run alone: ``python bench/workbench.py [--quick] [--no-pg]``; BANLI_BENCH_TREE=/path/to/tree
measures another checkout's engine (the base commit) with this same script.
"""

from __future__ import annotations

import inspect
import os
import random
import sys
import tempfile
import time
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

# The engine measured: this tree's, or BANLI_BENCH_TREE's (first on the path; this tree last, so
# that common.py, which puts its tree first when it is missing, leaves the order alone).
sys.path.insert(0, os.environ.get("BANLI_BENCH_TREE", str(Path(__file__).resolve().parent.parent)))
sys.path.insert(1, str(Path(__file__).resolve().parent))
sys.path.append(str(Path(__file__).resolve().parent.parent))

import common
from common import CONTRACT, header, percentile, target
from sqlalchemy import event, insert, select

from workflow.demo_org import seed_organisation
from workflow.engine import Engine
from workflow.engine.registry import store_definition
from workflow.store.db import Database
from workflow.store.models import DefinitionVersion, Flow, Unit, User, Visit, WorkItem

TABS = ("todo", "done", "started", "circulated")
PAGE_MS = DEEP_MS = 5.0
EXPORT_ROWS_S = 50_000
EXPORT_BUDGET = 30.0  # seconds: paging by OFFSET (the base commit) stops there; rate so far
PER_PAGE = 20
CHUNK = 10_000
STEPS = ("dept_review", "countersign", "leader_review")
PG_URL = os.environ.get("BANLI_BENCH_POSTGRES_URL", "postgresql+psycopg://postgres@127.0.0.1:5432")
KEYSET = "after" in inspect.signature(Engine.worklist).parameters


class Filler:
    """Flows, visits and items with explicit ids, CHUNK items at a time, ``flows`` flows a chunk
    (1,000 on SQLite: some ten people a flow, three or four a step, as in an office).

    Per item: liming open 1.5 %, handled 1 %, a copy to read 0.5 %; the heavy person open
    ``heavy[0]``, handled ``heavy[1]``; the rest to 2,000 others (5 % open)."""

    def __init__(self, db: Database, people: dict[str, int], version: int, flows: int,
                 heavy: tuple[float, float]) -> None:  # fmt: skip
        self.db, self.version, self.per_chunk, self.heavy_share = db, version, flows, heavy
        self.rng = random.Random(42)
        self.me = people["liming"]
        self.initiators = [*people.values()]
        self.items = self.flows = self.visits = 0
        base = datetime(2026, 1, 5, 1, 0, tzinfo=UTC)
        self.times = [base + timedelta(minutes=i) for i in range(1000)]
        with db.engine.begin() as conn:
            unit = conn.scalar(select(Unit.id).where(Unit.code == "engineering"))
            first = conn.scalar(select(User.id).order_by(User.id.desc()).limit(1)) + 1
            conn.execute(insert(User), [
                {"id": first + i, "login": f"bench{i}", "name": f"测试用户{i}", "unit_id": unit,
                 "status": "active"} for i in range(2001)
            ])  # fmt: skip
        self.heavy = first + 2000
        self.others = list(range(first, first + 2000))
        self.initiators.append(self.heavy)

    def chunk(self, conn: Any) -> None:
        rng, t = self.rng, self.times
        flows, visits = [], []
        for _ in range(self.per_chunk):
            self.flows += 1
            for seq, step in enumerate(STEPS, 1):
                self.visits += 1
                visits.append({
                    "id": self.visits, "flow_id": self.flows, "seq": seq, "step": step,
                    "entered_at": t[seq], "via": "forward", "rejected": False,
                    "left_at": t[seq + 1] if seq < 3 else None,
                })  # fmt: skip
            flows.append({
                "id": self.flows, "definition_id": self.version, "title": f"合同 {self.flows}",
                "form": CONTRACT, "state": "countersign",
                "initiator_id": rng.choice(self.initiators), "started_at": t[0],
                "current_visit_id": self.visits, "version": 1, "audit_seq": 0, "audit_head": "",
            })  # fmt: skip
        items = []
        h_open, h_done = self.heavy_share
        for _ in range(CHUNK):
            self.items += 1
            v = visits[self.items % len(visits)]
            r, role = rng.random(), "host"
            if r < 0.015:
                user, open_ = self.me, True
            elif r < 0.025:
                user, open_ = self.me, False
            elif r < 0.03:
                user, open_, role = self.me, True, "reader"
            elif r < 0.03 + h_open:
                user, open_ = self.heavy, True
            elif r < 0.03 + h_open + h_done:
                user, open_ = self.heavy, False
            else:
                user, open_ = rng.choice(self.others), rng.random() < 0.05
            at = t[self.items % 997]
            items.append({
                "id": self.items, "flow_id": v["flow_id"], "visit_id": v["id"], "user_id": user,
                "role": role, "status": "open" if open_ else "done", "delivered_at": at,
                "confirmed_at": None if open_ else at, "handled_at": None if open_ else at,
                "closed_at": None if open_ else at, "action": None if open_ else "forward",
            })  # fmt: skip
        conn.execute(insert(Flow), flows)
        conn.execute(insert(Visit), visits)
        conn.execute(insert(WorkItem), items)

    def fill_to(self, n: int) -> None:
        with self.db.engine.begin() as conn:
            while self.items < n:
                self.chunk(conn)
        if self.db.engine.dialect.name == "postgresql":
            with self.db.engine.connect().execution_options(isolation_level="AUTOCOMMIT") as c:
                c.exec_driver_sql("VACUUM ANALYZE")


def setup_db(url: str) -> tuple[Database, Engine, dict[str, int], int]:
    db = Database(url)
    db.create_all()
    engine = Engine(db)
    with db.write() as s:
        people = seed_organisation(s)
        for p in common.DEFINITIONS:
            store_definition(s, p, engine.clock())
        vid = s.scalar(
            select(DefinitionVersion.id).where(DefinitionVersion.key == "contract_review")
        )
    return db, engine, people, vid


# --- what is measured ------------------------------------------------------------------------------


def page(engine: Engine, user: int, tab: str) -> Any:
    """The engine work of one workbench page: the tab's first page and the four counts."""
    if KEYSET:
        return engine.worklist(user, tab, per_page=PER_PAGE, all_counts=True)
    work = engine.worklist(user, tab, per_page=PER_PAGE)
    engine.tab_counts(user)
    return work


def cursor_at(engine: Engine, user: int, tab: str, n: int) -> Any:
    """The cursor (or page number) of page ``n`` of ``tab``: how a reader arrives there."""
    if not KEYSET:
        return n
    from workflow.engine import worklist

    if n <= 1:
        return None
    # the last row of page n - 1, read once by offset (setting up, not timed)
    prev = engine.worklist(user, tab, per_page=PER_PAGE, page=n - 1)
    return worklist.cursor_of(tab, prev.rows[-1])


def deep(engine: Engine, user: int, tab: str, n: int, cursor: Any) -> Any:
    if KEYSET:
        return engine.worklist(user, tab, per_page=PER_PAGE, page=n, after=cursor)
    return engine.worklist(user, tab, per_page=PER_PAGE, page=n)


def export(engine: Engine, user: int) -> int:
    """Every row of every tab; returns how many."""
    if KEYSET:
        from workflow.engine.workexport import csv_pieces

        return sum(p.count("\n") for p in csv_pieces(engine.export_rows(user), engine.tz)) - 1
    n, stop = 0, time.perf_counter() + EXPORT_BUDGET
    for tab in TABS:
        page_no = 1
        while time.perf_counter() < stop:
            work = engine.worklist(user, tab, per_page=100, page=page_no)
            n += len(work.rows)
            if page_no >= work.pages:
                break
            page_no += 1
    return n


def p50_ms(fn: Any, calls: int, warm: int = 3) -> float:
    for _ in range(warm):
        fn()
    times = []
    for _ in range(calls):
        t = time.perf_counter()
        fn()
        times.append(time.perf_counter() - t)
    return percentile(times, 0.5) * 1e3


def statements(db: Database, fn: Any) -> list[tuple[str, Any]]:
    seen: list[tuple[str, Any]] = []

    def grab(conn: Any, cursor: Any, statement: str, parameters: Any, *args: Any) -> None:
        if statement.lstrip().upper().startswith("SELECT"):
            seen.append((statement, parameters))

    event.listen(db.engine, "before_cursor_execute", grab)
    try:
        fn()
    finally:
        event.remove(db.engine, "before_cursor_execute", grab)
    return seen


def explain(db: Database, sql: str, params: Any) -> list[str]:
    with db.engine.connect() as conn:
        if db.engine.dialect.name == "sqlite":
            rows = conn.exec_driver_sql("EXPLAIN QUERY PLAN " + sql, params).all()
            return [f"{'  ' * (r[1] > 0)}{r[3]}" for r in rows]
        return [r[0] for r in conn.exec_driver_sql("EXPLAIN " + sql, params).all()]


def measure(db: Database, engine: Engine, user: int, who: str, calls: int, out: dict) -> None:
    with db.read() as s:  # noqa: F841 (a warm connection)
        pass
    counts = engine.tab_counts(user)
    print(f"  {who}: " + ", ".join(f"{t} {counts[t]:,}" for t in TABS))
    for tab in TABS:
        ms = p50_ms(lambda tab=tab: page(engine, user, tab), calls)
        out[f"{who}.page.{tab}_ms"] = ms
        print(f"    page {tab:<10} p50 {ms:7.2f} ms   {target(ms <= PAGE_MS, f'≤ {PAGE_MS:g} ms')}")
    ms = p50_ms(lambda: engine.tab_counts(user), calls)
    out[f"{who}.counts_ms"] = ms
    print(f"    four counts      p50 {ms:7.2f} ms")
    for tab in TABS:
        pages = max(1, -(-counts[tab] // PER_PAGE))
        for label, n in (("middle", max(1, pages // 2)), ("last", pages)):
            c = cursor_at(engine, user, tab, n)
            ms = p50_ms(lambda tab=tab, n=n, c=c: deep(engine, user, tab, n, c), max(5, calls // 4))
            out[f"{who}.deep.{tab}.{label}_ms"] = ms
            print(f"    {tab:<10} {label:<6} page {n:>5,} p50 {ms:7.2f} ms "
                  f"({'keyset' if KEYSET else 'OFFSET'})   "
                  f"{target(ms <= DEEP_MS, f'≤ {DEEP_MS:g} ms')}")  # fmt: skip
    t = time.perf_counter()
    rows = export(engine, user)
    rate = rows / (time.perf_counter() - t)
    out[f"{who}.export_rows_s"] = rate
    print(f"    export {rows:,} rows: {rate:,.0f} rows/s   "
          f"{target(rate >= EXPORT_ROWS_S, f'≥ {EXPORT_ROWS_S:,} rows/s')}")  # fmt: skip


def show_plans(db: Database, engine: Engine, user: int) -> None:
    calls = [("page (to do) + counts", lambda: page(engine, user, "todo"))]
    counts = engine.tab_counts(user)
    for tab in TABS:
        n = min(3, max(1, -(-counts[tab] // PER_PAGE)))
        c = cursor_at(engine, user, tab, n)
        calls.append(
            (f"page {n} of {tab}", lambda tab=tab, n=n, c=c: deep(engine, user, tab, n, c))
        )
    if KEYSET:
        calls.append(("export, first chunk", lambda: next(iter(engine.export_rows(user)))))
    shown: set[str] = set()
    for label, fn in calls:
        for sql, params in statements(db, fn):
            if sql in shown:
                continue
            shown.add(sql)
            print(f"  [{label}] {' '.join(sql.split())[:400]}")
            for line in explain(db, sql, params):
                print(f"      {line}")


def run_one(url: str, size: int, flows: int, heavy: tuple[float, float], calls: int) -> dict:
    db, engine, people, vid = setup_db(url)
    try:
        f = Filler(db, people, vid, flows, heavy)
        t0 = time.perf_counter()
        f.fill_to(size)
        import workflow

        print(f"  engine from {Path(workflow.__file__).parent.parent}")
        print(f"  {f.items:,} items, {f.flows:,} flows, {f.visits:,} visits "
              f"(filled in {time.perf_counter() - t0:.0f} s); engine: "
              f"{'keyset + one-statement counts' if KEYSET else 'OFFSET + four counts'}")  # fmt: skip
        out: dict = {}
        measure(db, engine, f.heavy, "heavy", calls, out)
        measure(db, engine, f.me, "liming", calls, out)
        print("  EXPLAIN of each statement (the heavy person):")
        show_plans(db, engine, f.heavy)
        return out
    finally:
        db.dispose()


def run(quick: bool = False, pg: bool = True) -> None:
    size = 100_000 if quick else 1_000_000
    header(
        f"3b. The workbench page, every tab, deep pages and the export, SQLite at {size:,} items"
    )
    figures = {}
    with tempfile.TemporaryDirectory(prefix="banli-bench-") as tmp:
        got = run_one(f"sqlite:///{Path(tmp) / 'wb.db'}", size, 1000, (0.03, 0.07), 30)
        figures.update({f"sqlite.{k}": v for k, v in got.items()})
    if pg:
        figures.update(run_pg(quick))
    if hasattr(common, "record"):
        common.record("workbench", figures)


def run_pg(quick: bool) -> dict:
    import sqlalchemy

    name = f"banli_bench_wb_{os.getpid()}"
    admin = sqlalchemy.create_engine(f"{PG_URL}/postgres", isolation_level="AUTOCOMMIT")
    try:
        with admin.connect() as c:
            c.exec_driver_sql(f"CREATE DATABASE {name}")
    except Exception as exc:
        print(f"  PostgreSQL at {PG_URL} does not answer ({type(exc).__name__}): skipped")
        return {}
    flows = 20_000 if quick else 100_000
    header(f"3b. The workbench page on PostgreSQL, {flows:,} flows, the heavy person")
    try:
        # 5,000 flows a chunk of 10,000 items; the heavy person has half the items
        size = flows * 2
        got = run_one(f"{PG_URL}/{name}", size, 5000, (0.15, 0.35), 30)
        return {f"postgresql.{k}": v for k, v in got.items()}
    finally:
        with admin.connect() as c:
            c.exec_driver_sql(f"DROP DATABASE IF EXISTS {name} WITH (FORCE)")
        admin.dispose()


if __name__ == "__main__":
    run("--quick" in sys.argv, "--no-pg" not in sys.argv)
