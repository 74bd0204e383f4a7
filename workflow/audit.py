"""The append-only audit trail: per-flow SHA-256 hash chains, appended in bulk, verified by recompute."""

from __future__ import annotations

import hashlib
import json
from collections.abc import Iterable, Iterator
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

from sqlalchemy import insert, select, update
from sqlalchemy.orm import Session

from workflow.store.models import AuditEvent, AuditHead, Flow

GENESIS = "0" * 64
EVENTS = AuditEvent.__table__


def canonical(obj: Any) -> bytes:
    """The one byte form an event is hashed in: sorted keys, no spaces, UTF-8, ISO UTC times."""
    return json.dumps(
        obj, sort_keys=True, separators=(",", ":"), ensure_ascii=False, default=_jsonable
    ).encode()


def _jsonable(value: Any) -> Any:
    if isinstance(value, datetime):
        return iso(value)
    raise TypeError(f"cannot put {type(value).__name__} in an audit event")


def iso(at: datetime) -> str:
    return at.astimezone(UTC).strftime("%Y-%m-%dT%H:%M:%S.%fZ")


def event_hash(
    prev: str,
    chain: str,
    seq: int,
    at: datetime,
    actor_id: int | None,
    actor_name: str | None,
    kind: str,
    data: dict[str, Any],
) -> str:
    body = {
        "chain": chain,
        "seq": seq,
        "at": iso(at),
        "actor_id": actor_id,
        "actor_name": actor_name,
        "kind": kind,
        "data": data,
    }
    return hashlib.sha256(prev.encode() + canonical(body)).hexdigest()


@dataclass
class PendingEvent:
    at: datetime
    actor_id: int | None
    actor_name: str | None
    kind: str
    data: dict[str, Any]


def chain_rows(
    chain: str, flow_id: int | None, seq: int, head: str, events: Iterable[PendingEvent]
) -> tuple[list[dict[str, Any]], int, str]:
    """Link ``events`` after (seq, head); return the rows to insert and the new (seq, head)."""
    rows = []
    for ev in events:
        seq += 1
        # Round-trip the data through JSON so the hash covers exactly what the database returns.
        data = json.loads(canonical(ev.data))
        digest = event_hash(head, chain, seq, ev.at, ev.actor_id, ev.actor_name, ev.kind, data)
        rows.append(
            {
                "chain": chain,
                "seq": seq,
                "flow_id": flow_id,
                "at": ev.at,
                "actor_id": ev.actor_id,
                "actor_name": ev.actor_name,
                "kind": ev.kind,
                "data": data,
                "prev_hash": head,
                "hash": digest,
            }
        )
        head = digest
    return rows, seq, head


def append_admin(
    session: Session,
    actor_id: int | None,
    actor_name: str | None,
    kind: str,
    data: dict[str, Any],
    at: datetime,
    chain: str = "admin",
) -> str:
    """Append one administrative event to a chain whose head lives in ``audit_heads``."""
    row = session.execute(
        select(AuditHead.seq, AuditHead.head).where(AuditHead.chain == chain).with_for_update()
    ).first()
    if row is None:
        session.execute(insert(AuditHead).values(chain=chain, seq=0, head=""))
        seq, head = 0, GENESIS
    else:
        seq, head = row.seq, row.head or GENESIS
    rows, seq, head = chain_rows(
        chain, None, seq, head, [PendingEvent(at, actor_id, actor_name, kind, data)]
    )
    session.execute(insert(EVENTS), rows)
    session.execute(update(AuditHead).where(AuditHead.chain == chain).values(seq=seq, head=head))
    return head


@dataclass
class Broken:
    chain: str
    seq: int
    event_id: int | None
    reason: str

    def __str__(self) -> str:
        where = f"event #{self.event_id}" if self.event_id is not None else "chain head"
        return f"{self.chain}: seq {self.seq} ({where}): {self.reason}"


def verify_chain(
    chain: str, events: Iterable[Any], stored: tuple[int, str] | None
) -> Broken | None:
    """Recompute one chain; the first broken link, or None. ``stored`` is the recorded (seq, head)."""
    head, expected = GENESIS, 1
    for ev in events:
        if ev.seq != expected:
            return Broken(chain, expected, ev.id, f"event {expected} is missing (found {ev.seq})")
        if ev.prev_hash != head:
            return Broken(chain, ev.seq, ev.id, "does not link to the event before it")
        digest = event_hash(
            head, chain, ev.seq, ev.at, ev.actor_id, ev.actor_name, ev.kind, ev.data
        )
        if digest != ev.hash:
            return Broken(chain, ev.seq, ev.id, "content does not match its hash (altered)")
        head, expected = digest, expected + 1
    if stored is not None:
        seq, stored_head = stored
        if seq != expected - 1 or (stored_head or GENESIS) != head:
            return Broken(
                chain,
                expected,
                None,
                f"the chain head says {seq} events ending {stored_head[:12]}, "
                f"the events end at {expected - 1} with {head[:12]} (events removed?)",
            )
    return None


def iter_chains(session: Session) -> Iterator[tuple[str, list[Any]]]:
    """Every chain's events in order; streamed so a large trail is not held in memory at once."""
    stmt = (
        select(AuditEvent)
        .order_by(AuditEvent.chain, AuditEvent.seq)
        .execution_options(yield_per=2000)
    )
    current: str | None = None
    batch: list[Any] = []
    for ev in session.scalars(stmt):
        if ev.chain != current and current is not None:
            yield current, batch
            batch = []
        current = ev.chain
        batch.append(ev)
    if current is not None:
        yield current, batch


def verify_all(session: Session) -> tuple[int, list[Broken]]:
    """Recompute every chain against the heads recorded beside it: (events checked, first breaks)."""
    heads: dict[str, tuple[int, str]] = {
        f"flow:{fid}": (seq, head)
        for fid, seq, head in session.execute(select(Flow.id, Flow.audit_seq, Flow.audit_head))
    }
    heads.update(
        {
            c: (seq, head)
            for c, seq, head in session.execute(
                select(AuditHead.chain, AuditHead.seq, AuditHead.head)
            )
        }
    )
    broken: list[Broken] = []
    checked = 0
    seen: set[str] = set()
    for chain, events in iter_chains(session):
        seen.add(chain)
        checked += len(events)
        problem = verify_chain(chain, events, heads.get(chain))
        if problem is None and chain not in heads:
            problem = Broken(chain, 0, None, "no chain head records this chain")
        if problem is not None:
            broken.append(problem)
    for chain, (seq, _head) in heads.items():
        if chain not in seen and seq > 0:
            broken.append(Broken(chain, 1, None, f"all {seq} events are missing"))
    return checked, broken
