"""Request keys: a compose form's one-time key, so sending twice sends one message."""

from __future__ import annotations

from datetime import datetime, timedelta
from typing import TYPE_CHECKING, Any

from sqlalchemy import Connection, select
from sqlalchemy import delete as delete_
from sqlalchemy.dialects.postgresql import insert as pg_insert
from sqlalchemy.dialects.sqlite import insert as sqlite_insert

from workflow.engine.context import Outcome
from workflow.engine.sql import FLOWS
from workflow.errors import InvalidAction
from workflow.store.models import RequestKey

if TYPE_CHECKING:
    pass


KEYS = RequestKey.__table__


#: how long a compose form's one-time key is remembered against a second send
KEY_KEPT = timedelta(days=7)


def claim_key(s: Any, user_id: int, key: str, now: datetime) -> Outcome | None:
    """Take ``key`` for this send, or return what the earlier send with it made.

    PostgreSQL: a second insert of the same key waits for the first transaction and then
    finds its row; SQLite: writers are serialised by BEGIN IMMEDIATE.
    """
    if not key or len(key) > 64:
        raise InvalidAction("request_key_invalid")
    conn = s if isinstance(s, Connection) else s.connection()
    # A form is sent within minutes of opening it: older keys of this sender can go.
    conn.execute(delete_(KEYS).where(KEYS.c.user_id == user_id, KEYS.c.created_at < now - KEY_KEPT))
    insert_ = pg_insert if conn.dialect.name == "postgresql" else sqlite_insert
    taken = conn.execute(
        insert_(KEYS)
        .values(user_id=user_id, key=key, created_at=now)
        .on_conflict_do_nothing(index_elements=["user_id", "key"])
        .returning(KEYS.c.key)
    ).first()
    if taken is not None:
        return None
    flow_id = conn.execute(
        select(KEYS.c.flow_id).where(KEYS.c.user_id == user_id, KEYS.c.key == key)
    ).scalar()
    flow = conn.execute(select(FLOWS.c.state, FLOWS.c.version).where(FLOWS.c.id == flow_id)).first()
    if flow is None:  # cannot happen: the key and its flow are written in one transaction
        raise InvalidAction("request_key_lost")
    return Outcome(flow_id, flow.state, flow.version)
