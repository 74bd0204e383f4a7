"""Audit anchors: a root hash over every chain's head, chained anchor to anchor, kept outside the database.

A hash chain proves that a flow's events were not changed *relative to its head*; someone with
write access to the database can still delete a flow whole, cut a chain's tail and move its head
back, or rewrite a chain and re-hash it consistently. An anchor closes that: it records, for every
chain whose head moved since it was last anchored, ``(chain, seq, head)``, and a root

    root = sha256(prev_root + canonical({"seq", "at", "day", "heads": sorted [chain, seq, head]}))

so each anchor also commits to every anchor before it. Each anchor's line ``{seq, at, day,
chains, root, prev}`` is appended to a file the deployment names (``BANLI_AUDIT_ANCHOR_FILE``,
opened O_APPEND and fsynced) and e-mailed to ``BANLI_AUDIT_EMAIL`` when set: copies that a
database administrator cannot silently rewrite. :mod:`workflow.anchor_check` checks the database
against such a file.
"""

from __future__ import annotations

import fcntl
import hashlib
import json
import os
from collections.abc import Iterable
from dataclasses import dataclass
from datetime import UTC, date, datetime, time, timedelta, tzinfo
from pathlib import Path
from typing import TYPE_CHECKING, Any

from sqlalchemy import func, insert, select
from sqlalchemy.orm import Session

from workflow.audit import GENESIS, canonical, iso
from workflow.delivery import enqueue_mail_to
from workflow.jobs import Handler, JobRecord, enqueue
from workflow.store.db import ConnectionOrSession, Database
from workflow.store.models import AuditAnchor, AuditAnchorHead, AuditHead, Flow

if TYPE_CHECKING:
    from workflow.settings import Settings

#: the job kind of the daily anchor; its key is ``anchor:<local date>``
KIND = "anchor"
#: local time of day the daily anchor is made (just after midnight: it closes the day before)
RUN_AT = time(0, 5)
ANCHORS = AuditAnchor.__table__
ANCHOR_HEADS = AuditAnchorHead.__table__

Head = tuple[str, int, str]


@dataclass(frozen=True)
class AnchorSettings:
    """Where anchors go besides the database: the append-only file, and the auditors' mailboxes."""

    file: Path
    emails: tuple[str, ...] = ()

    @classmethod
    def of(cls, settings: Settings) -> AnchorSettings:
        """``BANLI_AUDIT_ANCHOR_FILE`` (default instance/audit-anchors.jsonl) and
        ``BANLI_AUDIT_EMAIL`` (one address, or several separated by commas)."""
        return cls(settings.audit_anchor_file, settings.audit_emails)


@dataclass(frozen=True)
class AnchorLine:
    """One anchor as its file line (and e-mail) carries it."""

    seq: int
    at: datetime
    day: date
    chains: int
    root: str
    prev: str

    def label(self) -> str:
        return f"anchor {self.seq} ({self.day.isoformat()})"

    def to_json(self) -> str:
        return json.dumps(
            {"seq": self.seq, "at": iso(self.at), "day": self.day.isoformat(),
             "chains": self.chains, "root": self.root, "prev": self.prev},
            separators=(",", ":"),
        )  # fmt: skip

    @classmethod
    def from_json(cls, text: str) -> AnchorLine:
        """Parse one file line; ValueError (or KeyError, TypeError) if it is not an anchor."""
        obj = json.loads(text)
        at = datetime.strptime(obj["at"], "%Y-%m-%dT%H:%M:%S.%fZ").replace(tzinfo=UTC)
        seq, chains = obj["seq"], obj["chains"]
        if not isinstance(seq, int) or not isinstance(chains, int):
            raise ValueError("seq and chains must be numbers")
        return cls(seq, at, date.fromisoformat(obj["day"]), chains, str(obj["root"]),
                   str(obj["prev"]))  # fmt: skip

    @classmethod
    def of(cls, row: Any) -> AnchorLine:
        return cls(row.seq, row.at, row.day, row.chains, row.root, row.prev)


def anchor_root(prev: str, seq: int, at: datetime, day: date, heads: Iterable[Head]) -> str:
    """The root of anchor ``seq``: the previous root, then the anchor's own content, hashed."""
    body = {
        "seq": seq,
        "at": iso(at),
        "day": day.isoformat(),
        "heads": [[c, s, h] for c, s, h in sorted(heads)],
    }
    return hashlib.sha256(prev.encode() + canonical(body)).hexdigest()


def current_heads(s: ConnectionOrSession) -> dict[str, tuple[int, str]]:
    """Every chain's recorded head: flows carry theirs, the other chains are in audit_heads."""
    heads = {
        f"flow:{fid}": (seq, head)
        for fid, seq, head in s.execute(
            select(Flow.id, Flow.audit_seq, Flow.audit_head).where(Flow.audit_seq > 0)
        )
    }
    heads.update(
        (chain, (seq, head))
        for chain, seq, head in s.execute(
            select(AuditHead.chain, AuditHead.seq, AuditHead.head).where(AuditHead.seq > 0)
        )
    )
    return heads


def last_anchored(s: ConnectionOrSession) -> dict[str, tuple[int, str]]:
    """Each chain's head as the latest anchor that recorded the chain has it."""
    latest = (
        select(ANCHOR_HEADS.c.chain, func.max(ANCHOR_HEADS.c.anchor_seq).label("a"))
        .group_by(ANCHOR_HEADS.c.chain)
        .subquery()
    )
    stmt = select(ANCHOR_HEADS.c.chain, ANCHOR_HEADS.c.seq, ANCHOR_HEADS.c.head).join(
        latest,
        (latest.c.chain == ANCHOR_HEADS.c.chain) & (latest.c.a == ANCHOR_HEADS.c.anchor_seq),
    )
    return {chain: (seq, head) for chain, seq, head in s.execute(stmt)}


def make_anchor(
    s: Session,
    now: datetime,
    tz: tzinfo,
    emails: Iterable[str] = (),
    job_key: str | None = None,
) -> AnchorLine:
    """Write the next anchor in ``s``'s transaction (and queue its e-mails); return its line.

    With ``job_key``, an anchor already made by that job is returned instead (a job may run
    twice). On PostgreSQL the anchors table is locked for the transaction, so two anchors made at
    once (the worker's and ``banli audit anchor``) queue rather than collide; SQLite's writers
    are serialised by BEGIN IMMEDIATE already.
    """
    if s.get_bind().dialect.name == "postgresql":
        s.execute(select(func.pg_advisory_xact_lock(0x42414E4C49)))  # "BANLI": anchors only
    if job_key is not None:
        done = s.execute(select(ANCHORS).where(ANCHORS.c.job_key == job_key)).first()
        if done is not None:
            return AnchorLine.of(done)
    last = s.execute(select(ANCHORS).order_by(ANCHORS.c.seq.desc()).limit(1)).first()
    seq, prev = (last.seq + 1, last.root) if last is not None else (1, GENESIS)
    anchored = last_anchored(s)
    moved = sorted(
        (chain, seq_head[0], seq_head[1])
        for chain, seq_head in current_heads(s).items()
        if anchored.get(chain) != seq_head
    )
    day = now.astimezone(tz).date()
    root = anchor_root(prev, seq, now, day, moved)
    s.execute(
        insert(ANCHORS).values(seq=seq, at=now, day=day, chains=len(moved), root=root,
                               prev=prev, job_key=job_key)
    )  # fmt: skip
    if moved:
        rows = [{"anchor_seq": seq, "chain": c, "seq": n, "head": h} for c, n, h in moved]
        s.execute(insert(ANCHOR_HEADS), rows)
    line = AnchorLine(seq, now, day, len(moved), root, prev)
    for address in emails:
        enqueue_mail_to(s, address, "Auditors", f"Banli audit {line.label()}",
                        mail_body(line), f"anchor:{seq}:{address}", now, now)  # fmt: skip
    return line


def mail_body(line: AnchorLine) -> str:
    return (
        f"Banli made {line.label()}: {line.chains} chain head(s) recorded.\n\n"
        "Keep this line. `banli audit verify --anchors FILE` checks the database against a file\n"
        "of such lines; a database that no longer matches one was changed after it was sent.\n\n"
        f"{line.to_json()}\n"
    )


def file_seqs(path: Path) -> list[int]:
    """The anchor numbers in the file, in file order (unreadable lines left out)."""
    if not path.exists():
        return []
    seqs = []
    for text in path.read_text(encoding="utf-8", errors="replace").splitlines():
        try:
            seqs.append(AnchorLine.from_json(text).seq)
        except (ValueError, KeyError, TypeError):
            continue
    return seqs


def append_to_file(db: Database, path: Path) -> list[AnchorLine]:
    """Append to ``path`` every anchor the database has after the file's last one; fsync.

    Catches up too: an anchor whose file write failed (a full disk) is written by the next one.
    The file is locked while it is read and appended, so two writers never add a line twice.
    """
    path.parent.mkdir(parents=True, exist_ok=True)
    fd = os.open(path, os.O_WRONLY | os.O_APPEND | os.O_CREAT, 0o644)
    try:
        fcntl.flock(fd, fcntl.LOCK_EX)
        last = max(file_seqs(path), default=0)
        with db.read() as s:
            stmt = select(ANCHORS).where(ANCHORS.c.seq > last).order_by(ANCHORS.c.seq)
            lines = [AnchorLine.of(row) for row in s.execute(stmt)]
        if lines:
            os.write(fd, "".join(line.to_json() + "\n" for line in lines).encode())
            os.fsync(fd)
    finally:
        os.close(fd)  # closing releases the lock
    return lines


def anchor_now(
    db: Database,
    now: datetime,
    tz: tzinfo,
    settings: AnchorSettings,
    job_key: str | None = None,
) -> AnchorLine:
    """Make an anchor (committed, its e-mails queued), then append it to the anchor file."""
    with db.write() as s:
        line = make_anchor(s, now, tz, settings.emails, job_key)
        if job_key is not None:
            schedule_next(s, now, tz)  # in the same transaction: the daily chain never breaks
    append_to_file(db, settings.file)
    return line


# --- the daily job ---------------------------------------------------------------------------


def next_run(now: datetime, tz: tzinfo) -> tuple[date, datetime]:
    """The local date and UTC time of the first daily anchor run after ``now``."""
    local = now.astimezone(tz)
    run = datetime.combine(local.date(), RUN_AT, tzinfo=tz)
    if run <= local:
        run = datetime.combine(local.date() + timedelta(days=1), RUN_AT, tzinfo=tz)
    return run.date(), run.astimezone(UTC)


def schedule_next(tx: ConnectionOrSession, now: datetime, tz: tzinfo) -> bool:
    """Queue the next daily anchor (``anchor:<date>``); False if it is queued already."""
    day, due = next_run(now, tz)
    return enqueue(tx, KIND, f"{KIND}:{day.isoformat()}", {"day": day.isoformat()}, due, now=now)


def seed(db: Database, now: datetime, tz: tzinfo) -> bool:
    """Make sure a daily anchor is queued (``banli init`` and every worker start call this)."""
    with db.transaction() as conn:
        return schedule_next(conn, now, tz)


def make_anchor_handler(db: Database, tz: tzinfo, settings: AnchorSettings, clock: Any) -> Handler:
    """The ``anchor`` job: make the day's anchor, append it, queue its e-mails and tomorrow's job."""

    def run(job: JobRecord) -> None:
        anchor_now(db, clock(), tz, settings, job_key=job.key)

    return run
