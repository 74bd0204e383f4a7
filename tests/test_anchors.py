"""Audit anchors: what a hash chain alone cannot see (a flow deleted whole, a chain cut at its tail,
a chain rewritten and re-hashed, an anchor rewritten) is found against the anchor file, on SQLite
and PostgreSQL; the worker anchors daily, appends the line and e-mails it to the auditors."""

from __future__ import annotations

import json
from datetime import UTC, date, datetime, timedelta
from pathlib import Path
from typing import Any
from zoneinfo import ZoneInfo

import pytest
from click.testing import CliRunner
from sqlalchemy import select, text

from tests.conftest import ROOT, Clock, setup_engine
from tests.test_audit import CONTRACT, SEAL, drive
from tests.test_channels import Collect, _free_port
from workflow.anchors import (
    AnchorSettings,
    anchor_now,
    anchor_root,
    make_anchor,
    make_anchor_handler,
    next_run,
    seed,
)
from workflow.audit import GENESIS, PendingEvent, chain_rows, verify_all
from workflow.channels import SmtpChannel
from workflow.cli import main
from workflow.delivery import make_deliver_handler
from workflow.jobs import JOBS, Worker
from workflow.store.db import Database
from workflow.store.models import AuditEvent

TZ = ZoneInfo("Asia/Shanghai")
EVENTS = AuditEvent.__table__


@pytest.fixture(params=["sqlite", "postgres"])
def adb(request: pytest.FixtureRequest) -> Database:
    return request.getfixturevalue("db" if request.param == "sqlite" else "pg_db")


def _url(db: Database) -> str:
    """The URL ``banli --db`` needs for ``db`` (on PostgreSQL: with the test's own schema)."""
    url = db.url.render_as_string(hide_password=False)
    if db.dialect == "postgresql":
        with db.engine.connect() as conn:
            schema = conn.exec_driver_sql("SHOW search_path").scalar()
        url += f"?options=-csearch_path%3D{schema}"
    return url


def _banli(db: Database, *args: str) -> Any:
    return CliRunner().invoke(main, ["--db", _url(db), *args])


def _sql(db: Database, sql: str, **params: Any) -> None:
    with db.write() as s:
        s.execute(text(sql), params)


@pytest.fixture
def trail(adb: Database, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> dict[str, Any]:
    """Three flows anchored by ``banli audit anchor``; then one goes on and is anchored again."""
    anchors = tmp_path / "audit-anchors.jsonl"
    monkeypatch.setenv("BANLI_AUDIT_ANCHOR_FILE", str(anchors))
    monkeypatch.delenv("BANLI_AUDIT_EMAIL", raising=False)
    engine, people = setup_engine(adb, Clock())
    done = engine.start(people["huangyong"], "contract_review", CONTRACT, opinion="请审核").flow_id
    drive(engine, done)
    half = engine.start(people["gaofeng"], "seal_usage", SEAL).flow_id
    other = engine.start(people["songjia"], "seal_usage", {**SEAL, "copies": 1}).flow_id
    first = _banli(adb, "audit", "anchor")
    assert first.exit_code == 0, first.output
    assert "anchor 1 (" in first.output and f"appended to {anchors}" in first.output
    drive(engine, half)
    second = _banli(adb, "audit", "anchor")
    assert second.exit_code == 0, second.output
    assert "anchor 2 (" in second.output and "1 chain head(s) recorded" in second.output
    return {"db": adb, "file": anchors, "done": done, "half": half, "other": other}


def _verify(trail: dict[str, Any]) -> Any:
    return _banli(trail["db"], "audit", "verify", "--anchors", str(trail["file"]))


def _problems(result: Any) -> list[str]:
    return [line for line in result.stderr.splitlines() if line.startswith("anchor ")]


def _events(db: Database, flow_id: int) -> list[Any]:
    with db.read() as s:
        stmt = select(EVENTS).where(EVENTS.c.chain == f"flow:{flow_id}").order_by(EVENTS.c.seq)
        return list(s.execute(stmt))


def test_a_clean_database_verifies_against_its_anchor_file(trail: dict[str, Any]) -> None:
    lines = [json.loads(x) for x in trail["file"].read_text().splitlines()]
    assert [x["seq"] for x in lines] == [1, 2]
    assert lines[0]["prev"] == GENESIS and lines[1]["prev"] == lines[0]["root"]
    assert set(lines[0]) == {"seq", "at", "day", "chains", "root", "prev"}
    assert lines[0]["chains"] >= 4  # three flows and the admin chain (definitions loaded)
    result = _verify(trail)
    assert result.exit_code == 0, result.output
    assert "anchors intact: 2 line(s)" in result.stdout and "audit trail intact" in result.stdout


def test_a_flow_deleted_whole_is_found(trail: dict[str, Any]) -> None:
    db, victim = trail["db"], trail["done"]
    for table in ("work_items", "visits", "audit_events", "flows"):
        column = "id" if table == "flows" else "flow_id"
        _sql(db, f"DELETE FROM {table} WHERE {column} = :f", f=victim)
    with db.read() as s:
        assert verify_all(s)[1] == []  # the chains alone see nothing amiss
    result = _verify(trail)
    assert result.exit_code == 1, result.output
    [problem] = _problems(result)
    assert problem.startswith("anchor 1 (")
    assert f"flow:{victim}: event seq " in problem
    assert problem.endswith("is gone (chain cut or flow deleted)")


def test_a_chain_cut_at_its_tail_with_its_head_moved_back_is_found(trail: dict[str, Any]) -> None:
    db, victim = trail["db"], trail["half"]
    events = _events(db, victim)
    keep = events[-3]
    _sql(db, "DELETE FROM audit_events WHERE chain = :c AND seq > :n", c=f"flow:{victim}",
         n=keep.seq)  # fmt: skip
    _sql(db, "UPDATE flows SET audit_seq = :n, audit_head = :h WHERE id = :f", n=keep.seq,
         h=keep.hash, f=victim)  # fmt: skip
    with db.read() as s:
        assert verify_all(s)[1] == []
    result = _verify(trail)
    assert result.exit_code == 1, result.output
    [problem] = _problems(result)
    assert problem.startswith("anchor 2 (")  # anchor 1 had the chain shorter: still there
    assert f": flow:{victim}: event seq {events[-1].seq} is gone (chain cut" in problem


def test_a_chain_rewritten_and_rehashed_is_found(trail: dict[str, Any]) -> None:
    db, victim = trail["db"], trail["done"]
    events = _events(db, victim)
    forged = []
    for ev in events:
        data = dict(ev.data)
        if ev.kind == "forward" and data.get("opinion") == "同意":
            data["opinion"] = "同意（已改）"
        forged.append(PendingEvent(ev.at, ev.actor_id, ev.actor_name, ev.kind, data))
    rows, seq, head = chain_rows(f"flow:{victim}", victim, 0, GENESIS, forged)
    assert head != events[-1].hash
    for ev, row in zip(events, rows, strict=True):
        with db.write() as s:
            s.execute(
                EVENTS.update()
                .where(EVENTS.c.id == ev.id)
                .values(data=row["data"], prev_hash=row["prev_hash"], hash=row["hash"])
            )
    _sql(db, "UPDATE flows SET audit_seq = :n, audit_head = :h WHERE id = :f", n=seq, h=head,
         f=victim)  # fmt: skip
    with db.read() as s:
        assert verify_all(s)[1] == []
    result = _verify(trail)
    assert result.exit_code == 1, result.output
    [problem] = _problems(result)
    assert (
        problem.startswith("anchor 1 (") and f"flow:{victim}: event seq {seq} has hash " in problem
    )
    assert f"{head[:12]}…, anchored {events[-1].hash[:12]}… (rewritten)" in problem


def test_an_anchor_rewritten_in_the_database_is_found(trail: dict[str, Any]) -> None:
    """Someone hides a deleted flow by dropping its anchored heads and re-computing the roots of
    anchor 1 and 2 so that the database agrees with itself: the file does not."""
    db, victim = trail["db"], trail["other"]
    for table in ("work_items", "visits", "audit_events", "flows"):
        column = "id" if table == "flows" else "flow_id"
        _sql(db, f"DELETE FROM {table} WHERE {column} = :f", f=victim)
    _sql(db, "DELETE FROM audit_anchor_heads WHERE chain = :c", c=f"flow:{victim}")
    prev = GENESIS
    with db.read() as s:
        anchors = list(s.execute(text("SELECT seq, at, day FROM audit_anchors ORDER BY seq")))
    for a in anchors:
        with db.read() as s:
            heads = [tuple(h) for h in s.execute(
                text("SELECT chain, seq, head FROM audit_anchor_heads WHERE anchor_seq = :a"),
                {"a": a.seq})]  # fmt: skip
            at = s.scalar(select(text("at")).select_from(text("audit_anchors")).where(
                text("seq = :a")).params(a=a.seq))  # fmt: skip
        at = at if isinstance(at, datetime) else datetime.fromisoformat(at)
        at = at.replace(tzinfo=UTC) if at.tzinfo is None else at
        day = a.day if isinstance(a.day, date) else date.fromisoformat(a.day)
        root = anchor_root(prev, a.seq, at, day, heads)
        _sql(db, "UPDATE audit_anchors SET root = :r, prev = :p, chains = :n WHERE seq = :a",
             r=root, p=prev, n=len(heads), a=a.seq)  # fmt: skip
        prev = root
    result = _verify(trail)
    assert result.exit_code == 1, result.output
    problems = _problems(result)
    assert "anchor 1: root in file differs from database" in problems
    assert "anchor 2: root in file differs from database" in problems
    assert not any("stored heads do not give its root" in p for p in problems)  # consistent forgery


def test_an_anchor_changed_carelessly_names_its_root(trail: dict[str, Any]) -> None:
    db = trail["db"]
    _sql(db, "UPDATE audit_anchor_heads SET head = :h WHERE anchor_seq = 2", h="0" * 64)
    problems = _problems(_verify(trail))
    assert any(p.startswith("anchor 2 (") and "stored heads do not give its root" in p
               for p in problems), problems  # fmt: skip


def test_a_line_in_the_file_with_no_anchor_in_the_database(trail: dict[str, Any]) -> None:
    db = trail["db"]
    _sql(db, "DELETE FROM audit_anchor_heads WHERE anchor_seq = 2")
    _sql(db, "DELETE FROM audit_anchors WHERE seq = 2")
    problems = _problems(_verify(trail))
    assert any(p.startswith("anchor 2 (") and "in the file, missing from the database" in p
               for p in problems), problems  # fmt: skip


# --- the daily job ---------------------------------------------------------------------------


def test_the_next_run_is_five_past_local_midnight() -> None:
    at = datetime(2026, 3, 2, 15, 0, tzinfo=UTC)  # 23:00 in Shanghai
    assert next_run(at, TZ) == (date(2026, 3, 3), datetime(2026, 3, 2, 16, 5, tzinfo=UTC))
    at = datetime(2026, 3, 2, 16, 1, tzinfo=UTC)  # 00:01 on the 3rd: today's run is still due
    assert next_run(at, TZ) == (date(2026, 3, 3), datetime(2026, 3, 2, 16, 5, tzinfo=UTC))


@pytest.fixture
def smtp() -> Any:
    from aiosmtpd.controller import Controller

    handler = Collect()
    port = _free_port()
    controller = Controller(handler, hostname="127.0.0.1", port=port)
    controller.start()
    yield handler, port
    controller.stop()


def test_the_worker_anchors_daily_appends_the_line_and_mails_the_auditors(
    adb: Database, tmp_path: Path, smtp: Any
) -> None:
    handler, port = smtp
    engine, people = setup_engine(adb, Clock())
    engine.start(people["gaofeng"], "seal_usage", SEAL)
    settings = AnchorSettings(tmp_path / "anchors.jsonl", ("audit@hdjs.example.com",))
    now = datetime(2026, 3, 2, 6, 0, tzinfo=UTC)
    clock = {"now": now}
    worker = Worker(adb, worker_id="w1")
    worker.handler("anchor")(make_anchor_handler(adb, TZ, settings, lambda: clock["now"]))
    channel = SmtpChannel("127.0.0.1", port, "banli@hdjs.example.com", timeout=5)
    worker.handler("deliver")(make_deliver_handler(adb, {"email": channel}))
    assert seed(adb, now, TZ) and not seed(adb, now, TZ)  # queued once

    assert worker.run_once(now=now).claimed == 0  # not due before 00:05 local
    due = datetime(2026, 3, 2, 16, 5, tzinfo=UTC)  # 2026-03-03 00:05 in Shanghai
    clock["now"] = due
    assert worker.run_once(now=due).done == 1
    [line] = [json.loads(x) for x in settings.file.read_text().splitlines()]
    assert (line["seq"], line["day"], line["prev"]) == (1, "2026-03-03", GENESIS)
    with adb.read() as s:
        jobs = {r.key: r.status for r in s.execute(select(JOBS.c.key, JOBS.c.status))}
    assert jobs["anchor:2026-03-03"] == "done"
    assert jobs["anchor:2026-03-04"] == "pending"  # tomorrow's, queued by today's
    assert jobs["deliver:anchor:1:audit@hdjs.example.com"] == "pending"

    assert worker.run_once(now=due).done == 1  # the e-mail
    [mail] = handler.messages()
    assert handler.envelopes[0].rcpt_tos == ["audit@hdjs.example.com"]
    assert mail["Subject"] == "Banli audit anchor 1 (2026-03-03)"
    assert settings.file.read_text().strip() in mail.get_content()

    nextday = datetime(2026, 3, 3, 16, 5, tzinfo=UTC)
    clock["now"] = nextday
    assert worker.run_once(now=nextday).done == 1
    lines = [json.loads(x) for x in settings.file.read_text().splitlines()]
    assert [x["day"] for x in lines] == ["2026-03-03", "2026-03-04"]
    assert lines[1]["chains"] == 0 and lines[1]["prev"] == lines[0]["root"]


def test_a_daily_job_run_twice_anchors_once(db: Database, tmp_path: Path) -> None:
    setup_engine(db, Clock())
    now = datetime(2026, 3, 2, 16, 5, tzinfo=UTC)
    settings = AnchorSettings(tmp_path / "a.jsonl")
    first = anchor_now(db, now, TZ, settings, job_key="anchor:2026-03-03")
    again = anchor_now(db, now + timedelta(minutes=1), TZ, settings, job_key="anchor:2026-03-03")
    assert again == first
    assert len(settings.file.read_text().splitlines()) == 1
    with db.write() as s:  # by hand: always a new one
        assert make_anchor(s, now + timedelta(minutes=2), TZ).seq == 2


def test_banli_init_queues_the_daily_anchor(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.chdir(ROOT)
    url = f"sqlite:///{tmp_path / 'init.db'}"
    result = CliRunner().invoke(main, ["--db", url, "init"], catch_exceptions=False)
    assert result.exit_code == 0, result.output
    listing = CliRunner().invoke(main, ["--db", url, "jobs", "list"]).output
    assert "1 pending" in listing and " anchor " in listing and "anchor:20" in listing


def test_every_worker_start_queues_the_next_daily_anchor(tmp_path: Path) -> None:
    from workflow.store.migrate import upgrade

    url = f"sqlite:///{tmp_path / 'w.db'}"
    db = Database(url)
    upgrade(db)
    result = CliRunner().invoke(main, ["--db", url, "worker", "--once"], catch_exceptions=False)
    assert result.exit_code == 0, result.output
    day, due = next_run(datetime.now(UTC), TZ)
    with db.read() as s:
        job = s.execute(select(JOBS).where(JOBS.c.kind == "anchor")).one()
    assert (job.key, job.status, job.due_at) == (f"anchor:{day.isoformat()}", "pending", due)
    db.dispose()
