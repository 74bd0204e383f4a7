"""A worker's hold on its jobs: batch and lease settings, and the heartbeat that renews leases.

A worker leases a few jobs at a time for a short while and, as long as it lives, a heartbeat
thread renews the leases of the jobs it still holds. A killed worker stops renewing: its jobs'
leases run out within ``lease`` and another worker takes them over (docs/engine.md, "Jobs").
"""

from __future__ import annotations

import logging
import threading
from collections.abc import Callable, Iterable
from dataclasses import dataclass
from datetime import timedelta
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from workflow.jobs import JobRecord
    from workflow.settings import Settings

log = logging.getLogger(__name__)
#: jobs leased at a time (the ``job_batch`` setting)
DEFAULT_BATCH = 10
#: how long a lease lasts unless renewed (``job_lease``, seconds)
DEFAULT_LEASE = timedelta(seconds=30)
#: how often the heartbeat renews (``job_heartbeat``, seconds): three beats a lease
DEFAULT_HEARTBEAT = timedelta(seconds=10)


@dataclass(frozen=True)
class LeaseSettings:
    """How many jobs a worker leases at a time, for how long, renewed how often."""

    batch: int = DEFAULT_BATCH
    lease: timedelta = DEFAULT_LEASE
    heartbeat: timedelta = DEFAULT_HEARTBEAT

    @classmethod
    def of(cls, settings: Settings) -> LeaseSettings:
        """The ``job_batch``, ``job_lease`` and ``job_heartbeat`` settings (checked at start-up:
        a heartbeat shorter than the lease, or the lease would run out between two beats)."""
        return cls(
            settings.job_batch,
            timedelta(seconds=settings.job_lease),
            timedelta(seconds=settings.heartbeat),
        )


class Heartbeat:
    """While in its ``with`` block, renews the leases of the jobs still held, every ``interval``.

    ``renew(jobs)`` extends those leases and returns the ids it could (a job taken over by
    another worker meanwhile is no longer this worker's to renew). The worker ``release``s each
    job as its handler returns, before it records the outcome.
    """

    def __init__(
        self,
        renew: Callable[[list[JobRecord]], set[int]],
        jobs: Iterable[JobRecord],
        interval: timedelta,
        name: str = "heartbeat",
    ) -> None:
        self._renew = renew
        self._held = {job.id: job for job in jobs}
        self._interval = interval.total_seconds()
        self._lock = threading.Lock()
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._beat, name=name, daemon=True)

    def __enter__(self) -> Heartbeat:
        if self._held:
            self._thread.start()
        return self

    def __exit__(self, *_exc: object) -> None:
        self._stop.set()
        if self._thread.is_alive():
            self._thread.join()

    def release(self, job: JobRecord) -> None:
        """The handler of ``job`` has returned: its lease needs no more renewing."""
        with self._lock:
            self._held.pop(job.id, None)

    def _beat(self) -> None:
        while not self._stop.wait(self._interval):
            with self._lock:
                jobs = list(self._held.values())
            if not jobs:
                continue
            try:
                kept = self._renew(jobs)
            except Exception:  # the database away for a moment: the next beat tries again
                log.exception("renewing the leases of %d jobs failed", len(jobs))
                continue
            with self._lock:
                for job in jobs:
                    if job.id not in kept and self._held.pop(job.id, None) is not None:
                        log.warning(
                            "job %s (%s): lease lost to another worker while running; its "
                            "outcome will not be recorded by this one",
                            job.id,
                            job.kind,
                        )
