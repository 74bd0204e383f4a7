"""Uploads: who stored what, the quota, and the daily sweep that never removes a referenced file."""

from __future__ import annotations

import io
from datetime import timedelta

import pytest
from sqlalchemy import select

from tests.conftest import Clock, setup_engine
from tests.engine.test_sheet import CONTRACT
from workflow import messages, uploads
from workflow.files import FileStore, FileTooLarge
from workflow.jobs import JOBS, Worker
from workflow.settings import load_settings
from workflow.store.models import Upload

DAY = timedelta(days=1)


@pytest.fixture(params=["db", "pg_db"], ids=["sqlite", "postgres"])
def setup(request, tmp_path):
    clock = Clock()
    engine, people = setup_engine(request.getfixturevalue(request.param), clock)
    return engine, people, clock, FileStore(tmp_path / "files")


def put(engine, store, user_id, content: bytes, name="合同.pdf", **kw):
    return uploads.save(engine.db, store, user_id, io.BytesIO(content), name,
                        now=engine.clock(), **kw)  # fmt: skip


def rows(engine):
    with engine.db.read() as s:
        return sorted((r.user_id, r.sha256, r.size) for r in s.scalars(select(Upload)))


def left_in_store(store) -> set[str]:
    return {p.name for p in store.root.glob("??/*")}


def test_uploads_are_recorded_once_per_person_and_content(setup):
    engine, people, _clock, store = setup
    a = put(engine, store, people["huangyong"], b"contract v1")
    put(engine, store, people["huangyong"], b"contract v1", name="again.pdf")
    put(engine, store, people["liming"], b"contract v1")
    assert rows(engine) == sorted(
        [(people["huangyong"], a.sha256, 11), (people["liming"], a.sha256, 11)]
    )
    assert uploads.used(engine.db, people["huangyong"]) == 11


def test_the_quota_refuses_before_the_file_is_kept(setup):
    engine, people, _clock, store = setup
    me = people["huangyong"]
    put(engine, store, me, b"x" * 60, quota_bytes=100)
    with pytest.raises(uploads.QuotaExceeded) as caught:
        put(engine, store, me, b"y" * 41, name="big.pdf", quota_bytes=100)
    assert caught.value.params == {"name": "big.pdf", "quota": 100, "left": 40}
    assert len(left_in_store(store)) == 1 and list((store.root / "tmp").iterdir()) == []
    put(engine, store, me, b"z" * 40, quota_bytes=100)  # exactly what is left
    assert uploads.used(engine.db, me) == 100
    # the upload limit, smaller than the room left, is the store's own refusal
    with pytest.raises(FileTooLarge):
        put(engine, store, people["liming"], b"w" * 20, limit=10, quota_bytes=100)


def test_the_quota_setting(monkeypatch):
    monkeypatch.delenv("BANLI_UPLOAD_QUOTA", raising=False)
    assert load_settings().upload_quota == 1024**3
    monkeypatch.setenv("BANLI_UPLOAD_QUOTA", "5000000")
    assert load_settings().upload_quota == 5_000_000


def test_the_sweep_removes_only_old_unreferenced_files(setup):
    engine, people, clock, store = setup
    refused = put(engine, store, people["huangyong"], b"refused form's file")
    # the same content: a refused upload of 黄勇's, and an attachment of 李明's message
    shared = put(engine, store, people["huangyong"], b"shared content")
    put(engine, store, people["liming"], b"shared content", name="纪要.pdf")
    messages.send(engine, people["liming"], subject="纪要", to_users=[people["wangfang"]],
                  attachments=[{"name": "纪要.pdf", "size": 14, "sha256": shared.sha256}])  # fmt: skip
    in_flow = put(engine, store, people["huangyong"], b"the contract itself")
    engine.start(people["huangyong"], "contract_review", {**CONTRACT, "text": [
        {"name": "合同.pdf", "size": 19, "sha256": in_flow.sha256}]})  # fmt: skip
    clock.advance(hours=23)
    fresh = put(engine, store, people["huangyong"], b"uploaded an hour before the sweep")
    assert uploads.sweep(engine.db, store, clock.now) == []  # nothing a day old yet

    clock.advance(hours=2)
    assert uploads.sweep(engine.db, store, clock.now) == [refused.sha256]
    assert left_in_store(store) == {shared.sha256, in_flow.sha256, fresh.sha256}
    assert refused.sha256 not in {sha for _u, sha, _s in rows(engine)}
    assert uploads.used(engine.db, people["liming"]) == 14  # a referenced file still counts

    clock.advance(hours=22)  # the fresh one is a day old now, and nothing refers to it
    put(engine, store, people["liming"], b"refused form's file")  # stored again: a new day
    assert uploads.sweep(engine.db, store, clock.now) == [fresh.sha256]
    assert left_in_store(store) == {shared.sha256, in_flow.sha256, refused.sha256}


def test_the_sweep_is_a_daily_job_that_queues_the_next(setup, tmp_path):
    engine, people, clock, store = setup
    worker = Worker(engine.db, clock=clock)
    uploads.register(worker, engine, store.root)
    uploads.register(worker, engine, store.root)  # a second worker start queues nothing more
    with engine.db.read() as s:
        queued = s.execute(
            select(JOBS.c.key, JOBS.c.due_at).where(JOBS.c.kind == uploads.KIND)
        ).all()
    # the clock starts 2026-03-02 01:00 UTC (09:00 in Shanghai): the next 03:00 is on the 3rd
    assert [(k, d.isoformat()) for k, d in queued] == [
        ("sweep:2026-03-03", "2026-03-02T19:00:00+00:00")
    ]
    doomed = put(engine, store, people["huangyong"], b"never sent")

    clock.now = queued[0].due_at + DAY  # a worker that was away for a day: the job runs late
    assert worker.run_once().done == 1
    assert doomed.sha256 not in left_in_store(store)
    with engine.db.read() as s:
        keys = s.execute(select(JOBS.c.key, JOBS.c.status).where(JOBS.c.kind == uploads.KIND)
                         .order_by(JOBS.c.due_at)).all()  # fmt: skip
    assert [tuple(k) for k in keys] == [
        ("sweep:2026-03-03", "done"),
        ("sweep:2026-03-05", "pending"),
    ]


def test_a_file_attached_while_the_sweep_runs_goes_back(setup, monkeypatch):
    engine, people, clock, store = setup
    attached = put(engine, store, people["huangyong"], b"attached during the sweep")
    clock.advance(hours=25)
    engine.start(people["huangyong"], "contract_review", {**CONTRACT, "text": [
        {"name": "合同.pdf", "size": 25, "sha256": attached.sha256}]})  # fmt: skip
    # as if the flow was started after the sweep had looked for references
    monkeypatch.setattr(uploads, "referenced", lambda db, among: set())
    assert uploads.sweep(engine.db, store, clock.now) == []
    assert left_in_store(store) == {attached.sha256}
    assert list((store.root / "trash").iterdir()) == []
    assert uploads.used(engine.db, people["huangyong"]) == 25
