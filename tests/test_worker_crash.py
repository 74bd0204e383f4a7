"""kill -9 of a real ``banli worker`` mid-batch: every delivery goes out once, none waits long."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import time
from collections import Counter
from datetime import UTC, datetime, timedelta
from pathlib import Path

from sqlalchemy import select

from tests.conftest import ROOT, setup_engine
from workflow.delivery import enqueue_delivery
from workflow.jobs import JOBS, JobRecord
from workflow.store.db import Database

DELIVERIES = 300
LEASE = 3  # seconds: short, for the test; deployments default to 30
SETTINGS = {"BANLI_JOB_LEASE": str(LEASE), "BANLI_JOB_HEARTBEAT": "1", "BANLI_JOB_BATCH": "5"}


def _jobs(db: Database) -> list[JobRecord]:
    """The deliveries (a worker also queues the next daily audit anchor at start)."""
    stmt = select(JOBS).where(JOBS.c.kind == "deliver").order_by(JOBS.c.id)
    with db.read() as s:
        return [JobRecord.of(row) for row in s.execute(stmt)]


def _worker(db: Database, outbox: Path, delay: float) -> subprocess.Popen[bytes]:
    env = {**os.environ, **SETTINGS, "BANLI_OUTBOX": str(outbox), "BANLI_OUTBOX_DELAY": str(delay),
           "PYTHONPATH": str(ROOT)}  # fmt: skip
    url = db.url.render_as_string(hide_password=False)
    return subprocess.Popen(
        [sys.executable, "-m", "workflow", "--db", url, "worker", "--poll", "0.2"],
        cwd=ROOT, env=env, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL,
    )  # fmt: skip


def _wait(what: str, ready, seconds: float = 20) -> None:
    deadline = time.monotonic() + seconds
    while not ready():
        assert time.monotonic() < deadline, f"gave up waiting: {what}"
        time.sleep(0.1)


def _outbox(path: Path) -> list[dict]:
    if not path.exists():
        return []
    return [json.loads(line) for line in path.read_text(encoding="utf-8").splitlines()]


def test_kill_9_mid_batch_every_delivery_once_and_taken_over_within_the_lease(
    db: Database, tmp_path: Path
) -> None:
    _engine, people = setup_engine(db)
    now = datetime.now(UTC)
    logins = sorted(people)
    with db.transaction() as conn:
        for i in range(DELIVERIES):
            user = people[logins[i % len(logins)]]
            enqueue_delivery(conn, user, "sms", "【办理提醒】", f"第 {i} 条", f"crash:{i}", now)
    outbox = tmp_path / "outbox.jsonl"
    # The victim records a message, then waits a minute for the "gateway" to acknowledge it:
    # killed there, it has sent one message it never marked done and holds four more jobs.
    victim = _worker(db, outbox, delay=60)
    workers = [victim]
    try:
        _wait("the victim records its first message", lambda: len(_outbox(outbox)) == 1)
        held = [j for j in _jobs(db) if j.status == "running"]
        assert len(held) == 5 and len({j.leased_by for j in held}) == 1
        name = held[0].leased_by
        claimed_at = min(j.lease_until for j in held) - timedelta(seconds=LEASE)
        workers += [_worker(db, outbox, delay=0.005) for _ in range(2)]
        # the others work meanwhile; the victim's heartbeat keeps its jobs past their first lease
        _wait("a lease and a bit", lambda: datetime.now(UTC) > claimed_at + timedelta(seconds=4))
        still = {j.id: j for j in _jobs(db) if j.leased_by == name and j.status == "running"}
        assert set(still) == {j.id for j in held}
        assert all(j.attempts == 1 for j in still.values())

        killed_at = datetime.now(UTC)
        victim.send_signal(signal.SIGKILL)
        victim.wait()
        _wait(
            "every delivery done",
            lambda: Counter(j.status for j in _jobs(db)) == {"done": DELIVERIES},
            seconds=30,
        )
    finally:
        for proc in workers:
            if proc.poll() is None:
                proc.terminate()
                proc.wait(timeout=10)

    sent = Counter(line["key"] for line in _outbox(outbox))
    assert sent == Counter({f"crash:{i}": 1 for i in range(DELIVERIES)})  # each exactly once
    by_id = {j.id: j for j in _jobs(db)}
    taken_over = [by_id[i] for i in still]
    for job in taken_over:
        assert job.leased_by != name and job.attempts == 2
        assert job.done_at is not None
        assert job.done_at - killed_at < timedelta(seconds=LEASE + 5)
    # the message the victim had recorded before the kill was not sent a second time
    first = _outbox(outbox)[0]
    assert first["key"] in {j.key.removeprefix("deliver:") for j in taken_over}
    assert datetime.fromisoformat(first["at"]) < killed_at
    slowest = max(j.done_at for j in taken_over) - killed_at
    print(f"\nthe killed worker's {len(taken_over)} jobs were done {slowest} after the kill")
