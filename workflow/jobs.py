"""The jobs worker: claims due jobs in batches and runs each kind's handler, its leases kept alive.

The queue it works on (enqueue, claim, complete, fail, retry, the listings) is
:mod:`workflow.job_queue`; its names are re-exported here, so ``from workflow.jobs import enqueue``
keeps working.
"""

from __future__ import annotations

import logging
import os
import socket
import threading
import uuid
from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import TYPE_CHECKING

from workflow.job_queue import (
    BACKOFF_BASE,
    BACKOFF_CAP,
    ERROR_LIMIT,
    JOBS,
    STATUSES,
    GiveUp,
    JobRecord,
    _utcnow,
    backoff,
    claim,
    complete,
    dead_jobs,
    enqueue,
    fail,
    job_counts,
    list_jobs,
    renew,
    retry,
)
from workflow.lease import DEFAULT_BATCH, DEFAULT_HEARTBEAT, DEFAULT_LEASE, Heartbeat, LeaseSettings
from workflow.store.db import Database

if TYPE_CHECKING:
    from workflow.settings import Settings

__all__ = [
    "BACKOFF_BASE",
    "BACKOFF_CAP",
    "ERROR_LIMIT",
    "JOBS",
    "STATUSES",
    "GiveUp",
    "Handler",
    "JobRecord",
    "RunStats",
    "Worker",
    "backoff",
    "claim",
    "complete",
    "dead_jobs",
    "default_worker_id",
    "enqueue",
    "fail",
    "job_counts",
    "list_jobs",
    "renew",
    "retry",
]

log = logging.getLogger(__name__)


@dataclass
class RunStats:
    """What one ``run_once`` did."""

    claimed: int = 0
    done: int = 0
    failed: int = 0
    #: completions refused because another worker had taken the job over
    refused: int = 0


Handler = Callable[[JobRecord], None]


def default_worker_id() -> str:
    return f"{socket.gethostname()}:{os.getpid()}:{uuid.uuid4().hex[:8]}"


class Worker:
    """Claims due jobs in batches and runs each kind's handler; a handler's error never stops it.

    Handlers must be idempotent: a job runs at least once, and again if its worker dies mid-job.
    While a batch runs, a heartbeat thread renews the leases of its jobs not yet run (and of the
    one running) every ``heartbeat``, so a handler may take longer than ``lease``; a worker that
    dies stops renewing, and its jobs are due again for other workers ``lease`` later.
    """

    def __init__(
        self,
        db: Database,
        worker_id: str | None = None,
        batch: int = DEFAULT_BATCH,
        lease: timedelta = DEFAULT_LEASE,
        clock: Callable[[], datetime] = _utcnow,
        heartbeat: timedelta = DEFAULT_HEARTBEAT,
    ) -> None:
        self.db = db
        self.worker_id = worker_id or default_worker_id()
        self.batch = batch
        self.lease = lease
        self.heartbeat = heartbeat
        self.clock = clock
        self.handlers: dict[str, Handler] = {"noop": lambda job: None}
        #: by kind: told of a job dead-lettered because its lease ran out on its last attempt
        #: (its handler never finished, so it could not record the failure itself)
        self.on_dead: dict[str, Callable[[JobRecord, str], None]] = {}

    @classmethod
    def of(cls, db: Database, settings: Settings) -> Worker:
        """A worker with the batch, lease and heartbeat of the ``job_*`` settings."""
        lease = LeaseSettings.of(settings)
        return cls(db, batch=lease.batch, lease=lease.lease, heartbeat=lease.heartbeat)

    def handler(self, kind: str) -> Callable[[Handler], Handler]:
        """Decorator: ``@worker.handler("reminder")`` registers the function for that kind."""

        def register(fn: Handler) -> Handler:
            self.handlers[kind] = fn
            return fn

        return register

    def run_once(self, now: datetime | None = None) -> RunStats:
        """Claim one batch of due jobs and run them; ``now`` (tests) stands for the clock."""
        stats = RunStats()
        dead: list[JobRecord] = []
        jobs = claim(self.db, self.worker_id, now or self.clock(), self.batch, self.lease, dead)
        for job in dead:
            hook = self.on_dead.get(job.kind)
            try:
                if hook is not None:
                    hook(job, job.last_error or "lease expired")
            except Exception:  # recording a failure must not stop the worker
                log.exception("job %s (%s): recording its dead-lettering failed", job.id, job.kind)
        stats.claimed = len(jobs)
        with Heartbeat(self._renew, jobs, self.heartbeat, f"{self.worker_id} heartbeat") as beat:
            for job in jobs:
                self._run(job, now, stats, beat)
        return stats

    def _renew(self, jobs: list[JobRecord]) -> set[int]:
        return renew(self.db, jobs, self.worker_id, self.clock(), self.lease)

    def _run(self, job: JobRecord, now: datetime | None, stats: RunStats, beat: Heartbeat) -> None:
        fn = self.handlers.get(job.kind)
        try:
            try:
                if fn is None:
                    raise LookupError(f"no handler for job kind {job.kind!r}")
                fn(job)
            finally:
                beat.release(job)
        except Exception as exc:  # a handler's failure is the job's, never the worker's
            log.warning("job %s (%s) failed: %r", job.id, job.kind, exc)
            final = isinstance(exc, GiveUp)
            error = f"{type(exc.__cause__ or exc).__name__}: {exc}" if final else repr(exc)
            status = fail(self.db, job, self.worker_id, error, now or self.clock(), final=final)
            stats.failed += status is not None
            stats.refused += status is None
            return
        if complete(self.db, job, self.worker_id, now or self.clock()):
            stats.done += 1
        else:
            stats.refused += 1

    def run(self, stop: threading.Event, poll_interval: float = 5.0) -> None:
        """Work until ``stop`` is set; a full batch is followed at once by the next."""
        while not stop.is_set():
            try:
                stats = self.run_once()
            except Exception:  # the database may be away for a moment: wait and try again
                log.exception("worker %s: claiming jobs failed", self.worker_id)
                stats = RunStats()
            if stats.claimed < self.batch:
                stop.wait(poll_interval)
