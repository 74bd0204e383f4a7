"""The due-jobs queue: idempotent enqueue, leased claims, back-off, dead letters, many workers at once."""

from __future__ import annotations

import threading
import time
from collections import Counter
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta

import pytest
from click.testing import CliRunner
from sqlalchemy import func, select

from tests.conftest import setup_engine
from workflow.audit import EVENTS, verify_all
from workflow.cli import main
from workflow.errors import Forbidden, InvalidAction, NotFound
from workflow.jobs import (
    JOBS,
    GiveUp,
    JobRecord,
    RunStats,
    Worker,
    backoff,
    claim,
    complete,
    dead_jobs,
    enqueue,
    fail,
    job_counts,
    list_jobs,
    retry,
)
from workflow.lease import LeaseSettings
from workflow.settings import SettingsError, load_settings
from workflow.store.db import Database
from workflow.store.migrate import upgrade

NOW = datetime(2026, 3, 2, 1, 0, tzinfo=UTC)
MINUTE = timedelta(minutes=1)


@pytest.fixture(params=["sqlite", "postgres"])
def qdb(request: pytest.FixtureRequest) -> Iterator[Database]:
    """A file SQLite database, or a PostgreSQL one (skipped without BANLI_TEST_POSTGRES_URL)."""
    database = request.getfixturevalue("db" if request.param == "sqlite" else "pg_db")
    database.create_all()
    yield database


def _fill(db: Database, n: int, kind: str = "noop", due: datetime = NOW) -> None:
    with db.transaction() as conn:
        for i in range(n):
            enqueue(conn, kind, f"{kind}:{i}", {"i": i}, due, now=NOW)


def _statuses(db: Database) -> Counter[str]:
    with db.read() as s:
        return Counter(
            dict(s.execute(select(JOBS.c.status, func.count()).group_by("status")).all())
        )


def _job(db: Database, key: str) -> JobRecord:
    with db.read() as s:
        return JobRecord.of(s.execute(select(JOBS).where(JOBS.c.key == key)).one())


def test_enqueue_is_idempotent_by_key_and_part_of_the_callers_transaction(qdb: Database) -> None:
    with qdb.write() as s:
        assert enqueue(s, "noop", "flow:1:remind", {"flow": 1}, NOW, now=NOW) is True
        assert enqueue(s, "noop", "flow:1:remind", {"flow": 2}, NOW, now=NOW) is False
    with qdb.transaction() as conn:
        assert enqueue(conn, "noop", "flow:1:remind", {}, NOW, now=NOW) is False
    with pytest.raises(RuntimeError), qdb.transaction() as conn:
        enqueue(conn, "noop", "flow:2:remind", {}, NOW, now=NOW)
        raise RuntimeError("the action failed")
    assert _statuses(qdb) == {"pending": 1}
    job = _job(qdb, "flow:1:remind")
    assert job.payload == {"flow": 1} and job.due_at == NOW and job.max_attempts == 5


def test_claim_takes_only_due_jobs_once(qdb: Database) -> None:
    with qdb.transaction() as conn:
        enqueue(conn, "noop", "later", {}, NOW + 3 * MINUTE, now=NOW)
        enqueue(conn, "noop", "now", {}, NOW, now=NOW)
    got = claim(qdb, "w1", NOW, limit=10, lease=5 * MINUTE)
    assert [j.key for j in got] == ["now"]
    assert got[0].status == "running" and got[0].leased_by == "w1" and got[0].attempts == 1
    assert got[0].lease_until == NOW + 5 * MINUTE
    assert claim(qdb, "w2", NOW + MINUTE, limit=10) == []
    assert [j.key for j in claim(qdb, "w2", NOW + 3 * MINUTE, limit=10)] == ["later"]


def test_the_default_lease_is_short(qdb: Database) -> None:
    _fill(qdb, 12)
    got = claim(qdb, "w1", NOW)
    assert len(got) == 10  # a few jobs at a time: a crash strands few
    assert {j.lease_until for j in got} == {NOW + timedelta(seconds=30)}  # kept alive by a beat
    assert len(claim(qdb, "w2", NOW + timedelta(seconds=29))) == 2
    assert len(claim(qdb, "w2", NOW + timedelta(seconds=31))) == 10  # w1 stopped renewing


def test_an_expired_lease_is_taken_over_and_the_stale_worker_refused(qdb: Database) -> None:
    _fill(qdb, 1)
    [old] = claim(qdb, "stale", NOW, lease=MINUTE)
    assert claim(qdb, "fresh", NOW + 30 * timedelta(seconds=1)) == []
    [new] = claim(qdb, "fresh", NOW + 2 * MINUTE, lease=MINUTE)
    assert new.id == old.id and new.attempts == 2 and new.leased_by == "fresh"
    assert complete(qdb, old, "stale", NOW) is False
    assert fail(qdb, old, "stale", "too late", NOW) is None
    assert complete(qdb, new, "fresh", NOW + 2 * MINUTE) is True
    assert complete(qdb, new, "fresh", NOW + 2 * MINUTE) is False  # done once only
    done = _job(qdb, "noop:0")
    assert done.status == "done" and done.done_at == NOW + 2 * MINUTE and done.last_error is None


def test_failures_back_off_then_dead_letter_with_the_last_error(qdb: Database) -> None:
    with qdb.transaction() as conn:
        enqueue(conn, "flaky", "f", {}, NOW, max_attempts=3, now=NOW)
    worker = Worker(qdb, "w")
    calls: list[int] = []

    @worker.handler("flaky")
    def flaky(job: JobRecord) -> None:
        calls.append(job.attempts)
        raise ValueError(f"boom {job.attempts}")

    assert worker.run_once(NOW) == RunStats(claimed=1, failed=1)
    job = _job(qdb, "f")
    assert (job.status, job.due_at, job.last_error) == (
        "pending",
        NOW + 30 * timedelta(seconds=1),
        "ValueError('boom 1')",
    )
    assert worker.run_once(job.due_at - timedelta(seconds=1)).claimed == 0
    worker.run_once(job.due_at)
    second = _job(qdb, "f")
    assert second.due_at == job.due_at + MINUTE and second.last_error == "ValueError('boom 2')"
    worker.run_once(second.due_at)
    worker.run_once(second.due_at + timedelta(days=1))
    assert calls == [1, 2, 3]
    [dead] = dead_jobs(qdb)
    assert (dead.key, dead.status, dead.attempts) == ("f", "dead", 3)
    assert dead.last_error == "ValueError('boom 3')" and dead.done_at == second.due_at


def test_backoff_doubles_from_thirty_seconds_up_to_a_cap() -> None:
    assert [backoff(n).total_seconds() for n in (1, 2, 3, 4)] == [30, 60, 120, 240]
    assert backoff(40) == timedelta(hours=6)


def test_a_lease_lost_on_the_last_attempt_dead_letters_the_job(qdb: Database) -> None:
    with qdb.transaction() as conn:
        enqueue(conn, "noop", "k", {}, NOW, max_attempts=1, now=NOW)
    claim(qdb, "killed", NOW, lease=MINUTE)
    assert claim(qdb, "other", NOW + 2 * MINUTE) == []
    [dead] = dead_jobs(qdb)
    assert dead.last_error == "lease expired: the worker killed did not finish the job"


def test_an_unknown_kind_or_a_crashing_handler_never_stops_the_worker(qdb: Database) -> None:
    _fill(qdb, 2, kind="nobody_handles_this")
    _fill(qdb, 3)
    stats = Worker(qdb, "w").run_once(NOW)
    assert stats == RunStats(claimed=5, done=3, failed=2)
    assert "no handler for job kind" in (_job(qdb, "nobody_handles_this:0").last_error or "")


def test_a_handler_that_gives_up_dead_letters_its_job_at_once(qdb: Database) -> None:
    _fill(qdb, 1, kind="hopeless")
    worker = Worker(qdb, "w")

    @worker.handler("hopeless")
    def hopeless(job: JobRecord) -> None:
        raise GiveUp("the recipient has no address")

    assert worker.run_once(NOW) == RunStats(claimed=1, done=0, failed=1)
    job = _job(qdb, "hopeless:0")
    assert (job.status, job.attempts) == ("dead", 1)
    assert job.last_error == "GiveUp: the recipient has no address"


def _workers(db: Database, n: int, now: datetime, seen: Counter[int]) -> list[RunStats]:
    """``n`` workers in threads, each running batches until nothing is left to claim."""
    lock = threading.Lock()
    totals = [RunStats() for _ in range(n)]

    def work(i: int) -> None:
        worker = Worker(db, f"w{i}", batch=25)

        @worker.handler("noop")
        def count(job: JobRecord) -> None:
            with lock:
                seen[job.id] += 1

        while (stats := worker.run_once(now)).claimed:
            for field in ("claimed", "done", "failed", "refused"):
                setattr(totals[i], field, getattr(totals[i], field) + getattr(stats, field))

    threads = [threading.Thread(target=work, args=(i,)) for i in range(n)]
    for t in threads:
        t.start()
    for t in threads:
        t.join(timeout=60)
    assert not any(t.is_alive() for t in threads)
    return totals


def test_four_workers_handle_a_thousand_jobs_exactly_once(qdb: Database) -> None:
    _fill(qdb, 1000)
    seen: Counter[int] = Counter()
    totals = _workers(qdb, 4, NOW, seen)
    assert len(seen) == 1000 and set(seen.values()) == {1}
    assert sum(t.done for t in totals) == 1000
    assert not any(t.failed or t.refused for t in totals)
    assert _statuses(qdb) == {"done": 1000}


def test_a_killed_workers_jobs_are_finished_exactly_once_after_its_lease(qdb: Database) -> None:
    _fill(qdb, 200)
    claimed = claim(qdb, "killed", NOW, limit=1000, lease=MINUTE)
    assert len(claimed) == 200
    seen: Counter[int] = Counter()
    assert sum(t.claimed for t in _workers(qdb, 3, NOW + 30 * timedelta(seconds=1), seen)) == 0
    totals = _workers(qdb, 3, NOW + 2 * MINUTE, seen)
    assert len(seen) == 200 and set(seen.values()) == {1}
    assert sum(t.done for t in totals) == 200
    assert not any(complete(qdb, job, "killed", NOW) for job in claimed)
    assert _statuses(qdb) == {"done": 200}


def test_banli_worker_once_runs_the_due_noop_jobs(tmp_path) -> None:
    url = f"sqlite:///{tmp_path / 'cli.db'}"
    db = Database(url)
    upgrade(db)
    now = datetime.now(UTC)
    with db.transaction() as conn:
        for i in range(60):
            enqueue(conn, "noop", f"n{i}", {}, now - MINUTE)
        enqueue(conn, "noop", "future", {}, now + timedelta(hours=1))
        enqueue(conn, "mystery", "m", {}, now - MINUTE)
    result = CliRunner().invoke(main, ["--db", url, "worker", "--once"], catch_exceptions=False)
    assert result.exit_code == 0, result.output
    assert "60 done, 1 failed" in result.output
    # pending: the future noop, the mystery job's retry, the next daily audit anchor and the next
    # daily sweep of uploads (a worker start queues both)
    assert _statuses(db) == {"done": 60, "pending": 4}
    assert "worker" in CliRunner().invoke(main, ["worker", "--help"]).output
    db.dispose()


# --- administration: counts, listing, retrying a dead job -------------------------------------


def _dead(db: Database, key: str, worker: Worker, now: datetime = NOW) -> JobRecord:
    """Run ``worker`` until the job ``key`` is dead-lettered."""
    while _job(db, key).status != "dead":
        worker.run_once(now)
        now += timedelta(hours=7)  # past any back-off
    return _job(db, key)


def test_a_retried_dead_job_runs_again_and_its_retry_is_on_the_admin_chain(qdb: Database) -> None:
    _engine, people = setup_engine(qdb)
    with qdb.transaction() as conn:
        enqueue(conn, "flaky", "f", {"flow_id": 1}, NOW, max_attempts=2, now=NOW)
    worker = Worker(qdb, "w")
    broken = [True]

    @worker.handler("flaky")
    def flaky(job: JobRecord) -> None:
        if broken[0]:
            raise GiveUp(f"gateway refused on try {job.attempts}\nprovider code 4003")

    dead = _dead(qdb, "f", worker)
    assert job_counts(qdb) == {"pending": 0, "running": 0, "done": 0, "dead": 1}
    assert [j.key for j in list_jobs(qdb, "dead")] == ["f"]

    later = NOW + timedelta(days=1)
    again = retry(qdb, dead.id, people["zhouwei"], now=later)
    assert (again.status, again.attempts, again.due_at) == ("pending", 0, later)
    assert again.lease_until is None and again.leased_by is None and again.done_at is None
    assert again.last_error == "GiveUp: gateway refused on try 1\nprovider code 4003"  # kept
    assert job_counts(qdb) == {"pending": 1, "running": 0, "done": 0, "dead": 0}
    assert dead_jobs(qdb) == []

    broken[0] = False
    assert worker.run_once(later) == RunStats(claimed=1, done=1)
    done = _job(qdb, "f")
    assert (done.status, done.attempts, done.done_at) == ("done", 1, later)

    with qdb.read() as s:
        checked, broken_links = verify_all(s)
        events = s.execute(
            select(EVENTS.c.actor_id, EVENTS.c.actor_name, EVENTS.c.kind, EVENTS.c.data, EVENTS.c.at)
            .where(EVENTS.c.chain == "admin", EVENTS.c.kind == "job_retry")
        ).all()  # fmt: skip
    assert broken_links == [] and checked > 0
    [(actor_id, actor_name, kind, data, at)] = events
    assert (actor_id, actor_name, kind, at) == (people["zhouwei"], "周伟", "job_retry", later)
    assert data == {"job_id": dead.id, "kind": "flaky", "key": "f",
                    "last_error": "GiveUp: gateway refused on try 1\nprovider code 4003"}  # fmt: skip


def _retry_events(db: Database) -> int:
    with db.read() as s:
        return s.scalar(select(func.count()).where(EVENTS.c.kind == "job_retry")) or 0


def test_only_a_dead_job_is_retried_and_only_by_an_administrator(qdb: Database) -> None:
    _engine, people = setup_engine(qdb)
    admin = people["zhouwei"]
    with qdb.transaction() as conn:
        for key, due in (("p", NOW + MINUTE), ("r", NOW), ("d", NOW)):
            enqueue(conn, "noop", key, {}, due, now=NOW)
    claimed = {job.key: job for job in claim(qdb, "w", NOW)}
    assert complete(qdb, claimed["d"], "w", NOW) and set(claimed) == {"r", "d"}
    for job in [_job(qdb, key) for key in ("p", "r", "d")]:
        with pytest.raises(InvalidAction) as refused:
            retry(qdb, job.id, admin, now=NOW + MINUTE)
        assert str(refused.value) == (
            f"job {job.id} (noop) is {job.status}, not dead: only a dead job can be retried"
        )
        assert refused.value.code == "job_not_dead"
        assert refused.value.params == {"job_id": job.id, "kind": "noop", "status": job.status}
        assert _job(qdb, job.key) == job  # nothing changed
    with pytest.raises(NotFound, match="job 999999 does not exist"):
        retry(qdb, 999999, admin)

    with qdb.transaction() as conn:
        enqueue(conn, "hopeless", "h", {}, NOW, max_attempts=1, now=NOW)
    hopeless = Worker(qdb, "w2")

    @hopeless.handler("hopeless")
    def no_address(job: JobRecord) -> None:
        raise GiveUp("no address")

    dead = _dead(qdb, "h", hopeless)
    with pytest.raises(Forbidden, match="only an active administrator may retry a job; 王芳"):
        retry(qdb, dead.id, people["wangfang"])
    with pytest.raises(NotFound, match="no user with id 999999"):
        retry(qdb, dead.id, 999999)
    assert _job(qdb, "h") == dead and _retry_events(qdb) == 0
    with qdb.read() as s:
        assert verify_all(s)[1] == []


def test_list_jobs_orders_waiting_jobs_by_due_time_and_the_others_newest_first(
    qdb: Database,
) -> None:
    with qdb.transaction() as conn:
        enqueue(conn, "noop", "late", {}, NOW + MINUTE, now=NOW)
        enqueue(conn, "noop", "early", {}, NOW, now=NOW)
    assert [j.key for j in list_jobs(qdb, "pending")] == ["early", "late"]
    assert [j.key for j in list_jobs(qdb)] == ["early", "late"]
    assert [j.key for j in list_jobs(qdb, limit=1)] == ["early"]
    assert list_jobs(qdb, "dead") == []
    assert job_counts(qdb) == {"pending": 2, "running": 0, "done": 0, "dead": 0}
    assert job_counts(qdb, ("dead",)) == {"dead": 0}


def test_a_job_longer_than_its_lease_keeps_it_by_the_heartbeat_and_runs_once(
    qdb: Database,
) -> None:
    _fill(qdb, 2, kind="slow")
    lease = timedelta(seconds=1)
    worker = Worker(qdb, "w1", lease=lease, heartbeat=timedelta(seconds=0.2))
    runs: Counter[str] = Counter()
    seen_by_w2: list[JobRecord] = []

    @worker.handler("slow")
    def slow(job: JobRecord) -> None:
        runs[job.key] += 1
        if job.key == "slow:0":
            time.sleep(3 * lease.total_seconds())  # three leases long
            # another worker looks for due jobs: both of w1's are still leased, renewed
            seen_by_w2.extend(claim(qdb, "w2", datetime.now(UTC)))

    stats = worker.run_once()
    assert (stats.claimed, stats.done, stats.refused) == (2, 2, 0)
    assert seen_by_w2 == []
    assert runs == {"slow:0": 1, "slow:1": 1}
    for key in ("slow:0", "slow:1"):
        job = _job(qdb, key)
        assert (job.status, job.attempts, job.leased_by) == ("done", 1, "w1")


def test_lease_settings_from_the_environment(monkeypatch) -> None:
    for name in ("BANLI_JOB_BATCH", "BANLI_JOB_LEASE", "BANLI_JOB_HEARTBEAT"):
        monkeypatch.delenv(name, raising=False)
    assert LeaseSettings.of(load_settings()) == LeaseSettings(10, timedelta(seconds=30),
                                                              timedelta(seconds=10))  # fmt: skip
    monkeypatch.setenv("BANLI_JOB_BATCH", "5")
    monkeypatch.setenv("BANLI_JOB_LEASE", "3")
    assert LeaseSettings.of(load_settings()) == LeaseSettings(5, timedelta(seconds=3),
                                                              timedelta(seconds=1))  # fmt: skip
    monkeypatch.setenv("BANLI_JOB_LEASE", "10")
    monkeypatch.setenv("BANLI_JOB_HEARTBEAT", "10")
    with pytest.raises(
        SettingsError,
        match=r"BANLI_JOB_HEARTBEAT \(10 s\) must be more than 0 and less than BANLI_JOB_LEASE",
    ):
        load_settings()
    monkeypatch.delenv("BANLI_JOB_HEARTBEAT")
    monkeypatch.setenv("BANLI_JOB_BATCH", "0")
    with pytest.raises(SettingsError, match="BANLI_JOB_BATCH must be a whole number ≥ 1, not '0'"):
        load_settings()


def test_the_worker_command_refuses_unusable_lease_settings(db: Database, monkeypatch) -> None:
    monkeypatch.setenv("BANLI_JOB_LEASE", "soon")
    db.create_all()
    result = CliRunner().invoke(main, ["--db", str(db.url), "worker", "--once"])
    assert result.exit_code == 1
    assert "BANLI_JOB_LEASE must be a number of seconds, not 'soon'" in result.output
