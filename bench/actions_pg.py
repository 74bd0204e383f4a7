"""Benchmark 1b: the contract review on PostgreSQL, one process and two.

Runs when ``BANLI_BENCH_POSTGRES_URL`` (default ``postgresql+psycopg://postgres@127.0.0.1:5432/test``)
answers. Each run gets a schema of its own (dropped afterwards). Printed: actions/s and µs per
action from one process, statements per flow and per action kind, then two processes (spawned,
each driving its own flows on its own connection) against one process measured the same way, and
the ratio, each beside its target. Deadlocks and serialization failures are retried by the
engine (``workflow.busy.retried``); any error left would stop the run.
"""

from __future__ import annotations

import multiprocessing as mp
import os
import time
import uuid
from typing import Any

import common
from common import counting, header, setup, target
from flows import ACTIONS_PER_FLOW, LABELS, engine_flow

DEFAULT_URL = "postgresql+psycopg://postgres@127.0.0.1:5432/test"
TARGET_RATE = 1200
TARGET_SCALE = 1.7


def url() -> str:
    return os.environ.get("BANLI_BENCH_POSTGRES_URL") or DEFAULT_URL


def answers(u: str) -> bool:
    from sqlalchemy import create_engine, text

    try:
        e = create_engine(u, connect_args={"connect_timeout": 2})
        with e.connect() as c:
            c.execute(text("SELECT 1"))
        e.dispose()
        return True
    except Exception:  # no server: the section is skipped
        return False


def _schema_kwargs(schema: str) -> dict[str, Any]:
    return {"connect_args": {"options": f"-csearch_path={schema}"}}


def _drive(u: str, schema: str, seconds: float, start_at: float, out: Any) -> None:
    """One process: its own engine on the shared schema, flows until ``seconds`` have passed."""
    import sys
    from pathlib import Path

    sys.path.insert(0, str(Path(__file__).resolve().parent))
    from common import Setup  # noqa: F401 — imports the tree's workflow first
    from sqlalchemy import select

    from workflow.engine import Engine
    from workflow.store.db import Database
    from workflow.store.models import User

    db = Database(u, **_schema_kwargs(schema))
    eng = Engine(db)
    with db.read() as s:
        people = {r.login: r.id for r in s.execute(select(User.login, User.id))}
    for _ in range(3):
        engine_flow(eng, people)
    try:  # as the web app and the worker do once loaded
        from workflow.heap import settle

        settle()
    except ImportError:  # a tree from before workflow.heap
        pass
    while time.time() < start_at:
        time.sleep(0.005)
    t0, c0, n = time.perf_counter(), time.process_time(), 0
    while time.perf_counter() - t0 < seconds:
        engine_flow(eng, people)
        n += ACTIONS_PER_FLOW
    out.put((n, time.perf_counter() - t0, time.process_time() - c0))
    db.dispose()


def _processes(u: str, schema: str, k: int, seconds: float) -> tuple[float, float]:
    """Actions/s of ``k`` processes together (and CPU µs per action, averaged)."""
    ctx = mp.get_context("spawn")
    q = ctx.Queue()
    start_at = time.time() + 4.0  # time to spawn, import and warm up
    procs = [ctx.Process(target=_drive, args=(u, schema, seconds, start_at, q)) for _ in range(k)]
    for p in procs:
        p.start()
    results = [q.get(timeout=120) for _ in procs]
    for p in procs:
        p.join()
    rate = sum(n / t for n, t, _ in results)
    cpu = sum(c for _, _, c in results) / sum(n for n, _, _ in results) * 1e6
    return rate, cpu


def run(quick: bool = False) -> None:
    u = url()
    seconds = 2.0 if quick else 6.0
    header(f"1b. Actions per second on PostgreSQL ({u.split('@')[-1]}), one process and two")
    if not answers(u):
        print(f"  skipped: no PostgreSQL answers at {u} (set BANLI_BENCH_POSTGRES_URL)")
        return
    from sqlalchemy import create_engine

    schema = f"bench_{uuid.uuid4().hex[:10]}"
    admin = create_engine(u)
    with admin.begin() as c:
        c.exec_driver_sql(f"CREATE SCHEMA {schema}")
    try:
        st = setup(u, **_schema_kwargs(schema))  # type: ignore[arg-type]
        eng, p = st.engine, st.people
        for _ in range(5):
            engine_flow(eng, p)
        t0, c0, n = time.perf_counter(), time.process_time(), 0
        while time.perf_counter() - t0 < seconds:
            engine_flow(eng, p)
            n += ACTIONS_PER_FLOW
        wall, cpu = time.perf_counter() - t0, time.process_time() - c0
        rate = n / wall
        print(
            f"  one process (in this one): {rate:7,.0f} actions/s ({1e6 / rate:5.0f} µs/action; "
            f"CPU {1e6 * cpu / n:5.0f} µs)   {target(rate >= TARGET_RATE, f'≥ {TARGET_RATE:,}')}"
        )
        with counting(st.db) as log:
            engine_flow(eng, p, log.begin)
        per_flow = sum(len(runs[0]) * (2 if ("co-signer" in k or k.startswith("sign")) else 1)
                       for k, runs in log.by_label.items())  # fmt: skip
        # An item action's two locks go in one psycopg pipeline, unseen by the listener: one
        # round trip more for each of the 12 item actions (the start has none).
        from workflow.engine import sql as engine_sql

        piped = 12 if hasattr(engine_sql, "lock_actor_and_flow_of_item") else 0
        trips = per_flow + piped + ACTIONS_PER_FLOW  # and each action's COMMIT
        print(
            f"  statements per flow: {per_flow + 2 * piped} ({(per_flow + 2 * piped) / 13:.1f} "
            f"per action); round trips per flow incl. COMMIT: {trips} ({trips / 13:.1f} per action)"
        )
        print(
            "    " + ", ".join(f"{label.split(' (')[0]} {log.mean(label):.0f}" for label in LABELS)
        )
        st.db.dispose()
        one, cpu1 = _processes(u, schema, 1, seconds)
        two, cpu2 = _processes(u, schema, 2, seconds)
        print(f"  one spawned process:  {one:7,.0f} actions/s (CPU {cpu1:4.0f} µs/action)")
        print(
            f"  two spawned processes: {two:7,.0f} actions/s (CPU {cpu2:4.0f} µs/action), "
            f"{two / one:.2f}× one   {target(two / one >= TARGET_SCALE, f'≥ {TARGET_SCALE:g}×')}"
        )
        print(f"  (the PostgreSQL server shares the same {os.cpu_count()} cores)")
        common.record(
            "actions_postgres",
            {"actions_per_s": rate, "us_per_action": 1e6 / rate,
             "statements_per_flow": per_flow + 2 * piped, "round_trips_per_flow": trips,
             "two_process_actions_per_s": two, "one_process_actions_per_s": one,
             "two_process_ratio": two / one},
        )  # fmt: skip
    finally:
        with admin.begin() as c:
            c.exec_driver_sql(f"DROP SCHEMA {schema} CASCADE")
        admin.dispose()
