"""Pooled PostgreSQL connections: one idle a while is pinged (and replaced if dead) before use;
one used a moment ago is handed out without a round trip (workflow/store/db.py)."""

from __future__ import annotations

from sqlalchemy import event, text

from workflow.store import db as store_db


def test_a_dead_idle_connection_is_replaced_and_a_fresh_one_not_pinged(pg_db, monkeypatch):
    with pg_db.read() as s:
        first = s.execute(text("SELECT pg_backend_pid()")).scalar()
    pings: list[int] = []
    event.listen(pg_db.engine, "checkout", lambda *a: pings.append(1))
    # used a moment ago: handed out as it is, same backend
    with pg_db.read() as s:
        assert s.execute(text("SELECT pg_backend_pid()")).scalar() == first
    # the server drops it while it sits in the pool; once idle past PING_AFTER it is pinged,
    # found dead and replaced: the unit of work never sees the dead connection
    killer = store_db.Database(pg_db.url.render_as_string(hide_password=False))
    with killer.engine.begin() as c:
        c.execute(text("SELECT pg_terminate_backend(:p)"), {"p": first})
    killer.dispose()
    monkeypatch.setattr(store_db, "PING_AFTER", 0.0)
    with pg_db.read() as s:
        assert s.execute(text("SELECT pg_backend_pid()")).scalar() != first
    assert pings
