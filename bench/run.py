"""Banli's benchmarks: ``.venv/bin/python bench/run.py [--quick] [--profile] [--only …]``.

1. actions.py   actions/s for the contract review on a SQLite file (WAL), engine vs hand-written
                Core, with the SQL statements each kind of action runs;
1b. actions_pg.py the same on PostgreSQL (when one answers), one process and two;
2. history.py   per-action cost as a flow's history grows (actions 1–5 vs 46–50);
3. inbox.py     inbox p50/p95 at 10k, 100k and 1M work items, with the query plan;
   workbench.py  the whole workbench page, every tab, deep pages, the export (SQLite 1M,
                 PostgreSQL 100k flows), with the EXPLAIN of every statement;
4. profile_actions.py   cProfile of the actions benchmark (top cumulative entries);
5. messages.py  messages: sending to a 1,000-person unit, the live-update poll, DINGs/s;
6. verify.py    ``banli audit verify`` on 10,000 flows: hash chains plus the replay of each flow;
7. anchors.py   an audit anchor over 10,000 flows' chains, the next one, and the check of a file;
8. directory.py directory search p50 with 10,000 people, with the query plan.
9. signins.py   the sign-in statistics page for 10,000 people × 30 days (target ≤ 200 ms).
10. leavers.py  removing a leaver with 1,000 open work items in one transaction (target ≤ 2 s).
11. http_load.py signed-in workbench requests/s, p50/p99 through gunicorn on PostgreSQL, and the
                memory of a gunicorn worker and of ``banli worker`` (skipped, with the reason,
                without PostgreSQL or gunicorn).

Default: all eleven. ``--quick``: short runs, the inbox at 10k/100k only, verify and anchors on
1,000 flows, the leaver with 200 items (a smoke run).
``--profile``: only the profile. Figures are printed with "TARGET met/missed" beside each target;
nothing asserts. Every run also writes its figures, with their targets and met/missed, the git
commit and the calibration, to ``bench/results/<UTC time>-<commit>.json``
(``bench/compare.py A.json B.json`` prints the ratios). A calibration line first shows how fast this machine runs SQLite and SQLAlchemy,
so figures from different machines can be compared.
"""

from __future__ import annotations

import argparse
import sqlite3
import sys
import tempfile
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))
# This tree's workflow package, before any installed one (baseline_sql imports it before common).
sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

import actions
import actions_pg
import anchors
import directory
import history
import http_load as http
import inbox
import leavers
import messages
import profile_actions
import signins
import verify
import workbench
from common import ROOT, header, write_results
from sqlalchemy import Column, Integer, MetaData, Table, create_engine, select

ALL = (
    "actions",
    "actions_pg",
    "history",
    "inbox",
    "profile",
    "messages",
    "verify",
    "anchors",
    "directory",
    "signins",
    "leavers",
    "http",
)


def calibrate() -> dict:
    """Machine speed: a bare SQLite write transaction and a bare SQLAlchemy Core SELECT."""
    header("0. This machine")
    with tempfile.TemporaryDirectory(prefix="banli-bench-") as tmp:
        c = sqlite3.connect(Path(tmp) / "cal.db", isolation_level=None)
        c.execute("PRAGMA journal_mode=WAL")
        c.execute("PRAGMA synchronous=NORMAL")
        c.execute("CREATE TABLE t (id INTEGER PRIMARY KEY, x INTEGER)")
        n = 2000
        w = time.perf_counter()
        for i in range(n):
            c.execute("BEGIN IMMEDIATE")
            c.execute("INSERT INTO t (x) VALUES (?)", (i,))
            c.execute("COMMIT")
        raw_us = (time.perf_counter() - w) / n * 1e6
        c.close()
        eng = create_engine(f"sqlite:///{Path(tmp) / 'cal.db'}")
        t = Table("t", MetaData(), Column("id", Integer, primary_key=True), Column("x", Integer))
        with eng.connect() as conn:
            for i in range(200):
                conn.execute(select(t.c.x).where(t.c.id == i + 1)).first()
            w = time.perf_counter()
            for i in range(n):
                conn.execute(select(t.c.x).where(t.c.id == i + 1)).first()
            sa_us = (time.perf_counter() - w) / n * 1e6
        eng.dispose()
    print(f"  sqlite3 {sqlite3.sqlite_version}, Python {sys.version.split()[0]}")
    print(f"  bare sqlite3 write transaction (BEGIN IMMEDIATE; INSERT; COMMIT): {raw_us:6.1f} µs")
    print(f"  SQLAlchemy Core select(...).where(id == ?) executed and fetched: {sa_us:6.1f} µs")
    w, cpu = time.perf_counter(), time.process_time()
    while time.perf_counter() - w < 0.3:
        sum(range(10_000))
    share = (time.process_time() - cpu) / (time.perf_counter() - w)
    print(f"  CPU share this process gets (a busy loop's CPU time / wall time): {share:.0%}")
    return {
        "sqlite": sqlite3.sqlite_version,
        "python": sys.version.split()[0],
        "sqlite_write_us": round(raw_us, 1),
        "sqlalchemy_select_us": round(sa_us, 1),
        "cpu_share": round(share, 3),
        "line": (
            f"sqlite3 {sqlite3.sqlite_version} write {raw_us:.1f} µs, SQLAlchemy select "
            f"{sa_us:.1f} µs, CPU share {share:.0%}, Python {sys.version.split()[0]}"
        ),
    }


def main(argv: list[str] | None = None) -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n", 1)[0])
    ap.add_argument(
        "--quick",
        action="store_true",
        help="short runs, inbox at 10k/100k only, verify 1,000 flows",
    )
    ap.add_argument("--profile", action="store_true", help="only profile the actions benchmark")
    ap.add_argument("--results-dir", type=Path, help="where the JSON goes (default bench/results/)")
    ap.add_argument("--only", help=f"comma-separated subset of {','.join(ALL)}")
    args = ap.parse_args(argv)
    chosen = ["profile"] if args.profile else (args.only.split(",") if args.only else list(ALL))
    unknown = set(chosen) - set(ALL)
    if unknown:
        ap.error(f"unknown benchmark(s): {', '.join(sorted(unknown))}")
    t0 = time.perf_counter()
    machine = calibrate()
    if "actions" in chosen:
        actions.run(args.quick)
    if "actions_pg" in chosen:
        actions_pg.run(args.quick)
    if "history" in chosen:
        history.run(args.quick)
    if "inbox" in chosen:
        inbox.run(args.quick)
        workbench.run(args.quick)
    if "profile" in chosen:
        profile_actions.run(args.quick)
    if "messages" in chosen:
        messages.run(args.quick)
    if "verify" in chosen:
        verify.run(args.quick)
    if "anchors" in chosen:
        anchors.run(args.quick)
    if "directory" in chosen:
        directory.run(args.quick)
    if "signins" in chosen:
        signins.run(args.quick)
    if "leavers" in chosen:
        leavers.run(args.quick)
    if "http" in chosen:
        http.run(args.quick)
    out = write_results(
        {"quick": args.quick, "benchmarks_run": chosen, "machine": machine}, args.results_dir
    )
    print(f"\n(figures written to {out.relative_to(ROOT) if out.is_relative_to(ROOT) else out})")
    print(f"\n(all done in {time.perf_counter() - t0:.0f} s)")


if __name__ == "__main__":
    main()
