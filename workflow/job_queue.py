"""The due-jobs queue: enqueue with an outbox key, claim under a lease, retry with back-off, dead-letter.

Leases are short and renewed by a heartbeat while the worker lives (:mod:`workflow.lease`); the
worker that claims and runs the jobs is :mod:`workflow.jobs`, which re-exports these names.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import TYPE_CHECKING, Any

from sqlalchemy import Row, and_, func, or_, select, update
from sqlalchemy.dialects.postgresql import insert as pg_insert
from sqlalchemy.dialects.sqlite import insert as sqlite_insert
from sqlalchemy.orm import Session

from workflow.access import require_admin
from workflow.audit import append_admin
from workflow.errors import InvalidAction, NotFound
from workflow.lease import DEFAULT_BATCH, DEFAULT_LEASE
from workflow.store.db import ConnectionOrSession, Database
from workflow.store.models import Job

if TYPE_CHECKING:
    pass

log = logging.getLogger(__name__)
JOBS = Job.__table__
BACKOFF_BASE = timedelta(seconds=30)
BACKOFF_CAP = timedelta(hours=6)
ERROR_LIMIT = 4000
#: a job's states: waiting (or backing off), leased by a worker, finished, dead-lettered
STATUSES = ("pending", "running", "done", "dead")


@dataclass(frozen=True)
class JobRecord:
    """One job row as the worker, its handlers and the admin page see it."""

    id: int
    kind: str
    key: str
    payload: dict[str, Any]
    due_at: datetime
    status: str
    attempts: int
    max_attempts: int
    leased_by: str | None
    lease_until: datetime | None
    last_error: str | None
    created_at: datetime
    done_at: datetime | None

    @classmethod
    def of(cls, row: Row[Any]) -> JobRecord:
        return cls(**{name: getattr(row, name) for name in cls.__dataclass_fields__})


def _utcnow() -> datetime:
    return datetime.now(UTC)


def _dialect(tx: ConnectionOrSession) -> str:
    bind = tx.get_bind() if isinstance(tx, Session) else tx
    return bind.dialect.name


def enqueue(
    tx: ConnectionOrSession,
    kind: str,
    key: str,
    payload: dict[str, Any],
    due_at: datetime,
    max_attempts: int = 5,
    now: datetime | None = None,
) -> bool:
    """Add a job in the caller's transaction; False (and nothing changes) if ``key`` is queued already."""
    values = dict(
        kind=kind, key=key, payload=payload, due_at=due_at, status="pending", attempts=0,
        max_attempts=max_attempts, created_at=now or _utcnow(),
    )  # fmt: skip
    return tx.execute(_ENQUEUE[_dialect(tx) == "postgresql"], values).first() is not None


#: The enqueue INSERT, built once per dialect (values come as parameters, so it compiles once).
_ENQUEUE = {
    pg: (pg_insert if pg else sqlite_insert)(JOBS)
    .on_conflict_do_nothing(index_elements=["key"])
    .returning(JOBS.c.id)
    for pg in (False, True)
}


def backoff(attempts: int) -> timedelta:
    """The wait before the next try after ``attempts`` failed tries: 30 s, 1 min, 2 min … ≤ 6 h."""
    return min(BACKOFF_BASE * 2 ** max(attempts - 1, 0), BACKOFF_CAP)


def _expired(now: datetime) -> Any:
    return and_(JOBS.c.status == "running", JOBS.c.lease_until < now)


def claim(
    db: Database,
    worker_id: str,
    now: datetime,
    limit: int = DEFAULT_BATCH,
    lease: timedelta = DEFAULT_LEASE,
    dead: list[JobRecord] | None = None,
) -> list[JobRecord]:
    """Lease up to ``limit`` due jobs (pending and due, or running with an expired lease).

    PostgreSQL: ``FOR UPDATE SKIP LOCKED`` so concurrent workers take disjoint rows; SQLite: the
    same statement in one ``BEGIN IMMEDIATE`` transaction, which serialises the writers.
    A job whose lease ran out on its last allowed attempt is dead-lettered instead of retried
    (and appended to ``dead``, if given, so the caller can record the failure).
    """
    with db.transaction() as conn:
        spent = and_(_expired(now), JOBS.c.attempts >= JOBS.c.max_attempts)
        buried = conn.execute(
            update(JOBS)
            .where(JOBS.c.id.in_(_locked(spent, limit)))
            .values(status="dead", done_at=now, lease_until=None, last_error=_lease_error())
            .returning(*JOBS.c)
        ).all()  # fetched whole: SQLite commits only once the statement is done
        if dead is not None:
            dead.extend(JobRecord.of(row) for row in buried)
        due = or_(and_(JOBS.c.status == "pending", JOBS.c.due_at <= now), _expired(now))
        leased = dict(status="running", leased_by=worker_id, lease_until=now + lease)
        stmt = (
            update(JOBS)
            .where(JOBS.c.id.in_(_locked(due, limit)))
            .values(attempts=JOBS.c.attempts + 1, **leased)
            .returning(*JOBS.c)
        )
        jobs = [JobRecord.of(row) for row in conn.execute(stmt)]
    return sorted(jobs, key=lambda j: (j.due_at, j.id))


def _locked(where: Any, limit: int) -> Any:
    """Ids of up to ``limit`` matching rows, oldest due first, skipping rows another worker holds."""
    ids = select(JOBS.c.id).where(where).order_by(JOBS.c.due_at, JOBS.c.id).limit(limit)
    return ids.with_for_update(skip_locked=True).scalar_subquery()


def _lease_error() -> Any:
    return "lease expired: the worker " + JOBS.c.leased_by + " did not finish the job"


def _mine(job: JobRecord, worker_id: str) -> Any:
    """Still leased by this worker on this attempt: a stale worker's writes match nothing."""
    return and_(
        JOBS.c.id == job.id,
        JOBS.c.status == "running",
        JOBS.c.leased_by == worker_id,
        JOBS.c.attempts == job.attempts,
    )


def renew(
    db: Database, jobs: list[JobRecord], worker_id: str, now: datetime, lease: timedelta
) -> set[int]:
    """Extend this worker's leases on ``jobs`` to ``now + lease``; returns the ids it still holds.

    A job whose lease ran out and another worker took over is not this worker's any more: it is
    left alone (and missing from the result).
    """
    if not jobs:
        return set()
    with db.transaction() as conn:
        stmt = (
            update(JOBS)
            .where(or_(*(_mine(job, worker_id) for job in jobs)))
            .values(lease_until=now + lease)
            .returning(JOBS.c.id)
        )
        return set(conn.execute(stmt).scalars().all())


def complete(db: Database, job: JobRecord, worker_id: str, now: datetime | None = None) -> bool:
    """Mark ``job`` done; False if this worker's lease was lost to another worker meanwhile."""
    with db.transaction() as conn:
        stmt = (
            update(JOBS)
            .where(_mine(job, worker_id))
            .values(status="done", done_at=now or _utcnow(), lease_until=None)
        )
        return conn.execute(stmt).rowcount == 1


class GiveUp(Exception):
    """Raised by a handler for a failure no retry can mend (no address, refused for good)."""


def fail(
    db: Database,
    job: JobRecord,
    worker_id: str,
    error: str,
    now: datetime | None = None,
    final: bool = False,
) -> str | None:
    """Record a failed try: back to pending after a back-off, or ``dead`` after ``max_attempts``
    (or at once when ``final``).

    Returns the job's new status, or None if this worker's lease was lost meanwhile.
    """
    now = now or _utcnow()
    dead = final or job.attempts >= job.max_attempts
    values: dict[str, Any] = {"last_error": error[:ERROR_LIMIT], "lease_until": None}
    if dead:
        values.update(status="dead", done_at=now)
    else:
        values.update(status="pending", due_at=now + backoff(job.attempts))
    with db.transaction() as conn:
        changed = conn.execute(update(JOBS).where(_mine(job, worker_id)).values(**values))
        if changed.rowcount != 1:
            return None
    return values["status"]


def dead_jobs(db: Database, limit: int = 200) -> list[JobRecord]:
    """Dead-lettered jobs, newest first, for the administrator."""
    with db.read() as s:
        stmt = select(JOBS).where(JOBS.c.status == "dead").order_by(JOBS.c.id.desc()).limit(limit)
        return [JobRecord.of(row) for row in s.execute(stmt)]


def job_counts(db: Database, statuses: tuple[str, ...] = STATUSES) -> dict[str, int]:
    """How many jobs are in each of ``statuses`` (all four by default), zeros included."""
    with db.read() as s:
        stmt = (
            select(JOBS.c.status, func.count())
            .where(JOBS.c.status.in_(statuses))
            .group_by(JOBS.c.status)
        )
        found = dict(s.execute(stmt).all())
    return {status: int(found.get(status, 0)) for status in statuses}


def list_jobs(db: Database, status: str | None = None, limit: int = 50) -> list[JobRecord]:
    """Jobs of one status (or all): pending and running ones by due time, others newest first."""
    stmt = select(JOBS)
    if status is not None:
        stmt = stmt.where(JOBS.c.status == status)
    if status in ("pending", "running"):
        stmt = stmt.order_by(JOBS.c.due_at, JOBS.c.id)
    else:
        stmt = stmt.order_by(JOBS.c.id.desc())
    with db.read() as s:
        return [JobRecord.of(row) for row in s.execute(stmt.limit(limit))]


def retry(db: Database, job_id: int, actor_id: int, now: datetime | None = None) -> JobRecord:
    """Give a dead-lettered job another round: pending, due now, no attempts spent, no lease.

    ``last_error`` is kept (it says why the job died until a new try says otherwise). The
    administrator's act is appended to the ``admin`` audit chain (``job_retry``) in the same
    transaction.

    Raises:
        Forbidden: ``actor_id`` is not an active administrator.
        NotFound: no such job (or no such person).
        InvalidAction: the job is not dead (it is pending, running or done), nothing changes.
    """
    now = now or _utcnow()
    with db.transaction() as conn:
        name = require_admin(conn, actor_id, "retry")
        row = conn.execute(
            update(JOBS)
            .where(JOBS.c.id == job_id, JOBS.c.status == "dead")
            .values(status="pending", due_at=now, attempts=0, leased_by=None, lease_until=None,
                    done_at=None)
            .returning(*JOBS.c)
        ).all()  # fmt: skip
        if not row:
            found = conn.execute(select(JOBS.c.kind, JOBS.c.status).where(JOBS.c.id == job_id))
            job = found.first()
            if job is None:
                raise NotFound("job_not_found", job_id=job_id)
            raise InvalidAction(
                "job_not_dead",
                job_id=job_id,
                kind=job.kind,
                status=job.status,
            )
        record = JobRecord.of(row[0])
        data = {"job_id": record.id, "kind": record.kind, "key": record.key,
                "last_error": record.last_error}  # fmt: skip
        append_admin(conn, actor_id, name, "job_retry", data, now)
    log.info("job %s (%s) retried by user %s", record.id, record.kind, actor_id)
    return record
