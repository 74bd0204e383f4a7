"""What the organisation tests share: a fixed moment, the admin chain's events, its verification."""

from __future__ import annotations

from datetime import UTC, datetime

from sqlalchemy import select

from workflow.audit import verify_all
from workflow.store.db import Database
from workflow.store.models import AuditEvent

NOW = datetime(2026, 3, 2, 2, 0, tzinfo=UTC)


def admin_events(db: Database, kind: str | None = None) -> list[AuditEvent]:
    """The admin chain's events (of one kind), oldest first, without the definitions loaded."""
    with db.read() as s:
        stmt = (
            select(AuditEvent)
            .where(AuditEvent.chain == "admin", AuditEvent.kind != "definition_loaded")
            .order_by(AuditEvent.seq)
        )
        if kind is not None:
            stmt = stmt.where(AuditEvent.kind == kind)
        rows = list(s.scalars(stmt))
        s.expunge_all()
        return rows


def chains_intact(db: Database) -> None:
    """Every chain (the admin chain included) verifies."""
    with db.read() as s:
        _count, broken = verify_all(s)
    assert broken == []
