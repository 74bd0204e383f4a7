"""Benchmark 8: the sign-in statistics page for 10,000 people × 30 days
(``python bench/signins.py [PEOPLE] [DAYS]``).

PEOPLE active users are spread over 50 new units under the demo company; each signed in on ~80 %
of the DAYS days (one ``presence_days`` row per person per day, bulk-inserted). Timed after a
warm-up: ``signin_stats.stats`` for the whole company (the main administrator) and for one unit,
and the whole page (``GET /admin/presence`` through Flask's test client: the two queries, the
per-day / per-unit pass, the 200 absentees shown, the SVG chart and the template), p50 and p95;
the XLSX export of one unit once (the whole company's 300,000 rows take about a minute: an
export, not a page). SQLite's plan of the per-day query shows ``ix_presence_days_day`` serving it.
"""

from __future__ import annotations

import random
import sys
import tempfile
import time
from datetime import UTC, date, datetime, timedelta
from pathlib import Path
from zoneinfo import ZoneInfo

from common import fig, header, percentile, record, setup, target
from sqlalchemy import insert, select, update

from workflow.org import signin_stats
from workflow.passwords import hash_password
from workflow.store.models import PresenceDay, Unit, User

TZ = ZoneInfo("Asia/Shanghai")
TARGET_MS = 200.0
UNITS = 50


def fill(made, people: int, days: int, end: date) -> None:
    rng = random.Random(17)
    db = made.db
    with db.write() as s:
        root = s.scalar(select(Unit.id).where(Unit.code == "hq"))
        units = s.execute(insert(Unit).returning(Unit.id), [
            {"code": f"bench{i}", "name": f"测试单位{i:02d}", "kind": "department",
             "parent_id": root} for i in range(UNITS)]).scalars().all()  # fmt: skip
        first = s.scalar(select(User.id).order_by(User.id.desc()).limit(1)) + 1
        created = datetime(2025, 1, 1, tzinfo=UTC)
        s.execute(insert(User), [
            {"id": first + i, "login": f"bench{i}", "name": f"测试{i}", "unit_id": units[i % UNITS],
             "status": "active", "created_at": created, "pinyin": f"ceshi{i}", "initials": "cs"}
            for i in range(people)])  # fmt: skip
        start = end - timedelta(days=days - 1)
        rows = []
        for n in range(days):
            day = start + timedelta(days=n)
            at = datetime.combine(day, datetime.min.time(), tzinfo=TZ) + timedelta(hours=8)
            rows += [{"user_id": first + i, "day": day, "first_at": at}
                     for i in range(people) if rng.random() < 0.8]  # fmt: skip
            if len(rows) > 50_000:
                s.execute(insert(PresenceDay), rows)
                rows = []
        if rows:
            s.execute(insert(PresenceDay), rows)
        s.execute(update(User).where(User.login == "zhouwei")
                  .values(password_hash=hash_password("bench")))  # fmt: skip


def _times(fn, n: int, cpu: list[float] | None = None) -> list[float]:
    """Wall-clock ms of ``n`` calls after a warm-up; their CPU ms go to ``cpu`` if given (the
    figure that does not grow when other processes share the machine)."""
    fn()  # warm-up
    out = []
    for _ in range(n):
        t, c = time.perf_counter(), time.process_time()
        fn()
        out.append((time.perf_counter() - t) * 1000)
        if cpu is not None:
            cpu.append((time.process_time() - c) * 1000)
    return out


def run(quick: bool = False, people: int = 10_000, days: int = 30) -> None:
    """The page at ``people`` × ``days`` (the same size with ``quick``, fewer repetitions)."""
    from web import create_app

    reps = 5 if quick else 30
    header(f"8. Sign-in statistics: {people:,} people × {days} days (SQLite file, WAL)")
    with tempfile.TemporaryDirectory() as tmp:
        made = setup(Path(tmp) / "s.db")
        t = time.perf_counter()
        end = date(2026, 3, 31)
        fill(made, people, days, end)
        print(f"  fill (not part of the cost)                  {time.perf_counter() - t:8.2f} s")
        start = end - timedelta(days=days - 1)
        admin = made.people["zhouwei"]
        with made.db.read() as s:
            unit = s.scalar(select(Unit.id).where(Unit.code == "bench7"))
            plan = (
                s.connection()
                .exec_driver_sql(
                    "EXPLAIN QUERY PLAN SELECT day, count(*) FROM presence_days "
                    "WHERE day >= ? AND day <= ? GROUP BY day",
                    (start.isoformat(), end.isoformat()),
                )
                .all()
            )
        print("  plan: " + " | ".join(str(r[-1]) for r in plan))
        whole = _times(lambda: signin_stats.stats(made.db, admin, start, end, TZ), reps)
        one = _times(lambda: signin_stats.stats(made.db, admin, start, end, TZ, unit), reps)
        for label, ms in (("stats(), whole company", whole), ("stats(), one unit", one)):
            print(
                f"  {label:<44} p50 {percentile(ms, 0.5):7.1f} ms  p95 {percentile(ms, 0.95):7.1f} ms"
            )
        made.engine.clock = lambda: datetime.combine(end, datetime.min.time(), tzinfo=TZ)
        app = create_app(test_config={"ENGINE": made.engine, "SECRET_KEY": "bench",
                                      "TESTING": True, "WTF_CSRF_ENABLED": False})  # fmt: skip
        client = app.test_client()
        client.post("/login", data={"login": "zhouwei", "password": "bench"})
        url = f"/admin/presence?from={start}&to={end}"
        assert client.get(url).status_code == 200
        cpu: list[float] = []
        page = _times(lambda: client.get(url), reps, cpu)
        p50 = percentile(page, 0.5)
        print(
            f"  {'GET /admin/presence (page)':<44} p50 {p50:7.1f} ms  p95 "
            f"{percentile(page, 0.95):7.1f} ms  {target(p50 <= TARGET_MS, f'≤ {TARGET_MS:.0f} ms')}"
        )
        print(
            f"  {'  of which CPU time (load-independent)':<44} p50 {percentile(cpu, 0.5):7.1f} ms"
            "  (wall time includes waiting for a shared CPU)"
        )
        record(
            "signins",
            {
                "people": people,
                "days": days,
                "stats_whole_p50_ms": fig(percentile(whole, 0.5), "ms"),
                "stats_unit_p50_ms": fig(percentile(one, 0.5), "ms"),
                "page_p50_ms": fig(p50, "ms", f"≤ {TARGET_MS:.0f} ms", p50 <= TARGET_MS),
                "page_cpu_p50_ms": fig(percentile(cpu, 0.5), "ms"),
            },
        )
        t = time.perf_counter()
        xlsx = client.get(f"/admin/presence/export.xlsx?from={start}&to={end}&unit={unit}")
        rows = people // UNITS * days
        print(
            f"  {'XLSX export of one unit (' + format(rows, ',') + ' rows), once':<44} "
            f"{time.perf_counter() - t:8.2f} s  ({len(xlsx.data) / 1e3:.0f} kB)"
        )
        made.db.dispose()


if __name__ == "__main__":
    run(
        people=int(sys.argv[1]) if len(sys.argv) > 1 else 10_000,
        days=int(sys.argv[2]) if len(sys.argv) > 2 else 30,
    )
