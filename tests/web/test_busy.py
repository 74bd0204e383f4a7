"""A locked or read-only database: the person gets 503 "系统繁忙，请稍后重试" with Retry-After, at once."""

from __future__ import annotations

import sqlite3
from pathlib import Path

import pytest
from sqlalchemy import func, select, text, update

from tests.conftest import setup_engine
from tests.web.conftest import PASSWORD, Auth
from web import create_app
from workflow.engine import Engine
from workflow.passwords import hash_password
from workflow.store.db import Database
from workflow.store.models import User

CONTRACT = {"title": "办公楼空调采购合同", "counterparty": "上海申能机电有限公司",
            "amount": "680000", "contract_type": "purchase", "summary": "采购空调 40 台"}  # fmt: skip
BUSY_ZH = "系统繁忙，请稍后重试"
_HASH = hash_password(PASSWORD)


def _seed(db: Database, clock) -> tuple[Engine, int]:
    """The demo organisation on ``db`` and one contract flow by 黄勇, waiting at its first review."""
    engine, people = setup_engine(db, clock)
    with db.write() as s:
        s.execute(update(User).values(password_hash=_HASH))
    return engine, engine.start(people["huangyong"], "contract_review", CONTRACT).flow_id


def _snapshot(db: Database, flow_id: int) -> tuple:
    """The flow row and how many events, items and jobs there are: what a half-write would change."""
    with db.read() as s:
        flow = s.execute(text("SELECT state, version, audit_seq, audit_head FROM flows WHERE id = :id"),
                         {"id": flow_id}).one()  # fmt: skip
        counts = tuple(
            s.execute(select(func.count()).select_from(text(table))).scalar_one()
            for table in ("audit_events", "work_items", "jobs")
        )
    return tuple(flow), counts


def _signed_in(app, login: str) -> Auth:
    auth = Auth(app.test_client())
    assert auth.login(login).status_code == 302
    return auth


def _withdraw(auth: Auth, flow_id: int, version: int, **kw):
    return auth.post(f"/flows/{flow_id}/withdraw", {"version": str(version)},
                     page=f"/flows/{flow_id}", **kw)  # fmt: skip


# --- SQLite -----------------------------------------------------------------------------------


@pytest.fixture
def sqlite_app(db: Database, clock, tmp_path: Path):
    """The web on its own connections to the test database, configured as a deployment would be:
    ``DATABASE_URL`` and a 1-second lock timeout."""
    _engine, flow_id = _seed(db, clock)
    app = create_app(test_config={"DATABASE_URL": str(db.url), "DB_LOCK_TIMEOUT": 1, "SECRET_KEY": "test",
                      "TESTING": True, "FILES_DIR": str(tmp_path / "files")})  # fmt: skip
    yield app, flow_id
    app.extensions["banli"].db.dispose()


def test_sqlite_another_writer_holding_the_lock_gives_503_and_nothing_changes(sqlite_app, db):
    app, flow_id = sqlite_app
    huang = _signed_in(app, "huangyong")
    before = _snapshot(db, flow_id)
    version = before[0][1]
    holder = sqlite3.connect(db.url.database, isolation_level=None)
    holder.execute("BEGIN IMMEDIATE")  # another writer (a long import, a stuck process)
    try:
        page = _withdraw(huang, flow_id, version)
        assert page.status_code == 503
        assert page.headers["Retry-After"] == "1"
        assert BUSY_ZH in page.text and "系统繁忙" in page.text
        api = _withdraw(huang, flow_id, version, headers={"Accept": "application/json"})
        assert api.status_code == 503 and api.headers["Retry-After"] == "1"
        assert api.json == {"error": BUSY_ZH, "status": 503}
    finally:
        holder.execute("ROLLBACK")
        holder.close()
    assert _snapshot(db, flow_id) == before  # nothing half-written
    again = _withdraw(huang, flow_id, version)  # the lock is gone: the same click now works
    assert again.status_code == 302
    assert _snapshot(db, flow_id)[0][0] == "withdrawn"


def test_sqlite_read_only_database_gives_503_on_a_write(db: Database, clock, tmp_path: Path):
    _engine, flow_id = _seed(db, clock)
    before = _snapshot(db, flow_id)
    # read-only as SQLite sees it, whoever runs the test (root ignores a file's mode bits)
    url = f"sqlite:///file:{db.url.database}?mode=ro&uri=true"
    app = create_app(test_config={"DATABASE_URL": url, "DB_LOCK_TIMEOUT": 1, "SECRET_KEY": "test",
                      "TESTING": True, "FILES_DIR": str(tmp_path / "files")})  # fmt: skip
    huang = Auth(app.test_client())
    try:
        page = huang.client.get("/login")
        assert page.status_code == 200  # reading works
        answer = huang.login("huangyong")
        if answer.status_code == 302:  # signing in wrote nothing: act, which must write
            answer = _withdraw(huang, flow_id, before[0][1])
        assert answer.status_code == 503 and answer.headers["Retry-After"] == "1"
        assert BUSY_ZH in answer.text
    finally:
        app.extensions["banli"].db.dispose()
    assert _snapshot(db, flow_id) == before


# --- PostgreSQL -------------------------------------------------------------------------------


def _pg_app(pg_db: Database, clock, tmp_path: Path, *options: str):
    """The web on its own PostgreSQL connections (1 s lock timeout) to ``pg_db``'s schema."""
    with pg_db.read() as s:
        schema = s.execute(text("SHOW search_path")).scalar_one()
    web_db = Database(
        str(pg_db.url.render_as_string(hide_password=False)), lock_timeout=1, statement_timeout=5,
        connect_args={"options": " ".join([f"-csearch_path={schema}", *options])},
    )  # fmt: skip
    app = create_app(test_config={"ENGINE": Engine(web_db, clock=clock), "DB_LOCK_TIMEOUT": 1,
                      "SECRET_KEY": "test", "TESTING": True,
                      "FILES_DIR": str(tmp_path / "files")})  # fmt: skip
    return app, web_db


def test_postgres_flow_row_locked_by_another_session_gives_503(pg_db, clock, tmp_path: Path):
    _engine, flow_id = _seed(pg_db, clock)
    app, web_db = _pg_app(pg_db, clock, tmp_path)
    huang = _signed_in(app, "huangyong")
    before = _snapshot(pg_db, flow_id)
    try:
        with pg_db.engine.connect() as holder:
            holder.execute(text("SELECT id FROM flows WHERE id = :id FOR UPDATE"), {"id": flow_id})
            page = _withdraw(huang, flow_id, before[0][1])
            assert page.status_code == 503 and page.headers["Retry-After"] == "1"
            assert BUSY_ZH in page.text
            # a table locked whole blocks even the pages' polling: 503 as JSON
            holder.execute(text("LOCK TABLE work_items IN ACCESS EXCLUSIVE MODE"))
            counts = huang.client.get("/workbench/counts.json")
            assert counts.status_code == 503 and counts.json["error"] == BUSY_ZH
            holder.rollback()
        assert _snapshot(pg_db, flow_id) == before
        assert _withdraw(huang, flow_id, before[0][1]).status_code == 302
        assert _snapshot(pg_db, flow_id)[0][0] == "withdrawn"
    finally:
        web_db.dispose()


def test_postgres_read_only_transactions_give_503(pg_db, clock, tmp_path: Path):
    """``default_transaction_read_only`` (as on a hot standby): reading works, writing is 503."""
    _engine, flow_id = _seed(pg_db, clock)
    before = _snapshot(pg_db, flow_id)
    app, web_db = _pg_app(pg_db, clock, tmp_path, "-cdefault_transaction_read_only=on")
    auth = Auth(app.test_client())
    try:
        assert auth.client.get("/login").status_code == 200
        answer = auth.login("huangyong")
        if answer.status_code == 302:
            answer = _withdraw(auth, flow_id, before[0][1])
        assert answer.status_code == 503 and BUSY_ZH in answer.text
    finally:
        web_db.dispose()
    assert _snapshot(pg_db, flow_id) == before
