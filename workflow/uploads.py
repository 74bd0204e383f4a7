"""Who stored which attachment: each person's storage quota, and the daily sweep of files that no
flow or message refers to (uploaded with a form that was then refused, or never sent)."""

from __future__ import annotations

import json
import os
import re
import shutil
from collections.abc import Iterable
from contextlib import suppress
from datetime import UTC, datetime, time, timedelta
from pathlib import Path
from typing import TYPE_CHECKING, Any, BinaryIO

from sqlalchemy import Text, cast, delete, func, select
from sqlalchemy.dialects.postgresql import insert as pg_insert
from sqlalchemy.dialects.sqlite import insert as sqlite_insert

from workflow.files import FileStore, FileTooLarge, StoredFile, UploadError
from workflow.jobs import JobRecord, Worker, enqueue
from workflow.limits import UNREFERENCED_KEPT_HOURS, UPLOAD_QUOTA
from workflow.refusals import Size
from workflow.store.db import Database
from workflow.store.models import Flow, Upload

if TYPE_CHECKING:
    from workflow.engine import Engine

UPLOADS = Upload.__table__
FLOWS = Flow.__table__
KIND = "sweep_uploads"
#: the sweep runs daily at this local time (the organisation's time zone): a quiet hour
SWEEP_AT = time(3, 0)
KEPT = timedelta(hours=UNREFERENCED_KEPT_HOURS)
_SHA = re.compile(r'"sha256":\s*"([0-9a-f]{64})"')


class QuotaExceeded(UploadError):
    """Storing the file would take the person past their storage quota."""


def used(db: Database, user_id: int) -> int:
    """The bytes this person has stored (each distinct file once)."""
    with db.read() as s:
        total = s.scalar(select(func.sum(UPLOADS.c.size)).where(UPLOADS.c.user_id == user_id))
    return int(total or 0)


def save(
    db: Database,
    store: FileStore,
    user_id: int,
    stream: BinaryIO,
    name: str | None,
    *,
    limit: int | None = None,
    quota_bytes: int | None = None,
    now: datetime | None = None,
) -> StoredFile:
    """Store a person's upload and record it; refused before it is kept if it would pass their quota.

    The stream is read no further than the room left: a file over the quota never lands in the
    store. Raises ``QuotaExceeded`` (details: name, quota, left) or the store's own refusals.
    """
    most = UPLOAD_QUOTA if quota_bytes is None else quota_bytes
    left = max(most - used(db, user_id), 0)
    when = now or datetime.now(UTC)
    try:
        saved = store.save(
            stream, name, limit=left if limit is None else min(limit, left),
            before_placing=lambda stored: record(db, user_id, stored, when),
        )  # fmt: skip
    except FileTooLarge as exc:
        if limit is not None and limit <= left:
            raise  # the upload limit, not the quota, refused it
        shown = exc.params.get("name", name or "")
        raise QuotaExceeded(
            "upload_quota_exceeded", name=shown, quota=Size(most), left=Size(left)
        ) from None
    return saved


def record(db: Database, user_id: int, saved: StoredFile, now: datetime) -> None:
    """Note that ``user_id`` stored ``saved`` now (again: the time is refreshed, the size kept once)."""
    with db.transaction() as conn:
        insert = pg_insert if conn.dialect.name == "postgresql" else sqlite_insert
        stmt = insert(UPLOADS).values(
            user_id=user_id, sha256=saved.sha256, size=saved.size, stored_at=now
        )
        conn.execute(
            stmt.on_conflict_do_update(
                index_elements=["user_id", "sha256"], set_={"stored_at": now}
            )
        )


def referenced(db: Database, among: Iterable[str]) -> set[str]:
    """Which of these hashes a flow or message (any form, any state) refers to."""
    wanted = set(among)
    found: set[str] = set()
    if not wanted:
        return found
    with db.read() as s:
        # only forms that carry attachments at all; each is read once, in chunks
        forms = s.execute(
            select(FLOWS.c.form)
            .where(cast(FLOWS.c.form, Text).like('%"sha256"%'))
            .execution_options(yield_per=1000)
        )
        for (form,) in forms:
            text = form if isinstance(form, str) else json.dumps(form)
            found.update(sha for sha in _SHA.findall(text) if sha in wanted)
    return found


def sweep(db: Database, store: FileStore, now: datetime, kept: timedelta = KEPT) -> list[str]:
    """Remove the files nobody has stored for ``kept`` and no flow or message refers to.

    Content-addressed: one file may be a refused upload of one person and an attachment of
    another's flow; it stays while any flow refers to it. Returns the hashes removed.

    An upload records its owner before its file takes its place (``FileStore.save``), so each
    file is first moved aside, then its rows and references are looked at again: a file stored
    or attached meanwhile goes back.
    """
    cutoff = now - kept
    trash = store.root / "trash"
    shutil.rmtree(trash, ignore_errors=True)  # what an interrupted sweep left
    trash.mkdir(parents=True, exist_ok=True)
    with db.read() as s:
        stale = set(
            s.scalars(
                select(UPLOADS.c.sha256)
                .group_by(UPLOADS.c.sha256)
                .having(func.max(UPLOADS.c.stored_at) < cutoff)
            )
        )
    removed = []
    for sha in sorted(stale - referenced(db, stale)):
        aside = trash / sha
        with suppress(FileNotFoundError):  # already gone (a sweep stopped half-way): rows go
            os.replace(store.path(sha), aside)
        with db.transaction() as conn:
            if _still_wanted(conn, sha, cutoff):
                if aside.exists() and not store.exists(sha):
                    os.replace(aside, store.path(sha))
                continue
            conn.execute(
                delete(UPLOADS).where(UPLOADS.c.sha256 == sha, UPLOADS.c.stored_at < cutoff)
            )
        aside.unlink(missing_ok=True)
        removed.append(sha)
    return removed


def _still_wanted(conn: Any, sha: str, cutoff: datetime) -> bool:
    """Stored again since the sweep looked, or attached to a flow or message meanwhile."""
    fresh = conn.execute(
        select(UPLOADS.c.sha256).where(UPLOADS.c.sha256 == sha, UPLOADS.c.stored_at >= cutoff)
    ).first()
    used = conn.execute(
        select(FLOWS.c.id).where(cast(FLOWS.c.form, Text).like(f'%"{sha}"%')).limit(1)
    ).first()
    return fresh is not None or used is not None


# --- the daily job --------------------------------------------------------------------------------


def next_run(engine: Engine, after: datetime) -> datetime:
    """The first SWEEP_AT (local time) later than ``after``."""
    local = after.astimezone(engine.tz)
    at = datetime.combine(local.date(), SWEEP_AT, tzinfo=engine.tz)
    if at <= local:
        at = datetime.combine(local.date() + timedelta(days=1), SWEEP_AT, tzinfo=engine.tz)
    return at.astimezone(UTC)


def schedule(engine: Engine, after: datetime) -> str:
    """Queue the sweep of the day after ``after`` (``sweep:<date>``; queued once however often asked)."""
    due = next_run(engine, after)
    key = f"sweep:{due.astimezone(engine.tz).date().isoformat()}"
    with engine.db.transaction() as conn:
        enqueue(conn, KIND, key, {}, due, now=after)
    return key


def register(worker: Worker, engine: Engine, root: str | Path | None = None) -> None:
    """Install the ``sweep_uploads`` handler on ``worker`` and queue the next sweep."""
    store = FileStore(root or engine.settings.files_dir.resolve())  # as the web app's
    worker.handler(KIND)(lambda job: run_sweep(engine, store, job))
    schedule(engine, engine.clock())


def run_sweep(engine: Engine, store: FileStore, job: JobRecord | None = None) -> dict[str, Any]:
    """The job: sweep, then queue the next day's (the chain goes on as long as a worker runs)."""
    now = engine.clock()
    removed = sweep(engine.db, store, now)
    return {"removed": len(removed), "next": schedule(engine, now)}
