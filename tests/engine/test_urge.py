"""Urging (催办): the host or initiator DINGs a late person, within 60 DINGs a sender a local day."""

from __future__ import annotations

import threading
from concurrent.futures import ThreadPoolExecutor
from datetime import UTC, datetime, timedelta

import pytest
from sqlalchemy import func, select

from tests.conftest import setup_engine
from tests.engine.test_contract_review import to_countersign
from workflow.audit import verify_all
from workflow.errors import AlreadyHandled, Forbidden, InvalidAction
from workflow.settings import Settings
from workflow.store.db import Database
from workflow.store.models import AuditEvent, DingCount, Flow, Job
from workflow.urge import DingQuotaExceeded, take_ding, urge


def urge_jobs(engine):
    with engine.db.read() as s:
        return list(s.scalars(select(Job).where(Job.key.like("deliver:urge:%")).order_by(Job.id)))


def dings(engine):
    with engine.db.read() as s:
        return {(d.sender_id, d.day.isoformat()): d.count for d in s.scalars(select(DingCount))}


def flow_state(engine, fid):
    with engine.db.read() as s:
        flow = s.get(Flow, fid)
        kinds = list(
            s.scalars(
                select(AuditEvent.kind).where(AuditEvent.flow_id == fid).order_by(AuditEvent.seq)
            )
        )
        return flow.version, kinds


def test_the_host_urges_a_late_co_signer(engine, people, item_of, clock):
    fid = to_countersign(engine, people, item_of, "680000")
    clock.advance(days=7)
    late = item_of("yangfan", fid)
    version, kinds = flow_state(engine, fid)
    assert urge(engine, people["liming"], late, note="请今天处理") == 1
    (job,) = urge_jobs(engine)
    assert job.status == "pending" and job.kind == "deliver"
    assert job.key == f"deliver:urge:{late}:1"
    assert job.payload["user_id"] == people["yangfan"] and job.payload["kind"] == "sms"
    assert job.payload["subject"] == "【催办】" + engine.history(fid).title
    assert "催您尽快办理" in job.payload["body"] and "请今天处理" in job.payload["body"]
    assert "会签" in job.payload["body"]
    new_version, new_kinds = flow_state(engine, fid)
    assert new_version == version and new_kinds == [*kinds, "urge"]
    with engine.db.read() as s:
        event = s.scalars(select(AuditEvent).where(AuditEvent.kind == "urge")).one()
        assert event.data["item"] == late and event.data["to"] == people["yangfan"]
        assert event.data["channel"] == "sms" and event.actor_id == people["liming"]
        checked, broken = verify_all(s)
    assert checked and broken == []
    # a second urge is a second message
    assert urge(engine, people["liming"], late, channel="voice") == 2
    assert [j.key for j in urge_jobs(engine)][-1] == f"deliver:urge:{late}:2"
    assert urge_jobs(engine)[-1].payload["kind"] == "voice"


def test_the_initiator_may_urge(engine, people, item_of):
    fid = to_countersign(engine, people, item_of, "680000")
    assert urge(engine, people["huangyong"], item_of("linxiaoyan", fid)) == 1
    (job,) = urge_jobs(engine)
    assert job.payload["user_id"] == people["linxiaoyan"]


@pytest.mark.parametrize("login", ["chenzhiqiang", "yangfan"])
def test_a_stranger_or_the_late_person_is_refused(engine, people, item_of, login):
    fid = to_countersign(engine, people, item_of, "680000")
    before = flow_state(engine, fid)
    with pytest.raises(Forbidden):
        urge(engine, people[login], item_of("yangfan", fid))
    assert urge_jobs(engine) == [] and dings(engine) == {}
    assert flow_state(engine, fid) == before


def test_the_host_cannot_urge_their_own_item(engine, people, item_of):
    fid = to_countersign(engine, people, item_of, "680000")
    with pytest.raises(InvalidAction, match="yourself"):
        urge(engine, people["liming"], item_of("liming", fid))
    assert urge_jobs(engine) == [] and dings(engine) == {}


def test_a_handled_item_is_refused(engine, people, item_of):
    fid = to_countersign(engine, people, item_of, "680000")
    signed = item_of("yangfan", fid)
    engine.sign(people["yangfan"], signed, opinion="条款合规")
    before = flow_state(engine, fid)
    with pytest.raises(AlreadyHandled):
        urge(engine, people["liming"], signed)
    assert urge_jobs(engine) == [] and dings(engine) == {}
    assert flow_state(engine, fid) == before


def test_the_61st_ding_of_a_day_is_refused_and_the_next_day_counts_again(
    engine, people, item_of, clock
):
    fid = to_countersign(engine, people, item_of, "680000")
    late, host = item_of("yangfan", fid), people["liming"]
    for n in range(1, 61):
        assert urge(engine, host, late) == n
    with pytest.raises(DingQuotaExceeded, match="you have reached today's limit of 60 DINGs"):
        urge(engine, host, late)
    assert len(urge_jobs(engine)) == 60
    day = clock.now.astimezone(engine.tz).date()
    assert dings(engine) == {(host, day.isoformat()): 60}
    # 01:00 UTC is 09:00 in Shanghai: 15 hours later it is the next local day
    clock.advance(hours=15)
    assert urge(engine, host, late) == 1
    assert dings(engine)[(host, (day + timedelta(days=1)).isoformat())] == 1
    assert len(urge_jobs(engine)) == 61


def test_the_limit_is_configurable(engine, people, item_of, monkeypatch):
    monkeypatch.setattr(engine, "settings", Settings.defaults(ding_limit=2))
    fid = to_countersign(engine, people, item_of, "680000")
    late = item_of("yangfan", fid)
    urge(engine, people["liming"], late)
    urge(engine, people["liming"], late)
    with pytest.raises(DingQuotaExceeded, match="limit of 2 DINGs"):
        urge(engine, people["liming"], late)


def test_take_ding_counts_per_sender_and_day(engine, people):
    day = datetime(2026, 3, 2, tzinfo=UTC).date()
    with engine.db.transaction() as conn:
        assert [take_ding(conn, people["liming"], day, limit=3) for _ in range(3)] == [1, 2, 3]
        with pytest.raises(DingQuotaExceeded):
            take_ding(conn, people["liming"], day, limit=3)
        assert take_ding(conn, people["yangfan"], day, limit=3) == 1


# --- one sender pressing 催办 from many threads: never more than the limit ---------------------


class SafeClock:
    def __init__(self) -> None:
        self.now = datetime(2026, 3, 2, 1, 0, tzinfo=UTC)
        self._lock = threading.Lock()

    def __call__(self) -> datetime:
        with self._lock:
            self.now += timedelta(seconds=1)
            return self.now


@pytest.mark.parametrize("backend", ["db", "pg_db"], ids=["sqlite", "postgres"])
def test_concurrent_urges_never_exceed_the_limit(backend, request, monkeypatch):
    database: Database = request.getfixturevalue(backend)
    engine, people = setup_engine(database, SafeClock())
    engine.settings = Settings.defaults(ding_limit=60)
    flow = engine.start(people["huangyong"], "contract_review", {
        "title": "办公楼空调采购合同", "counterparty": "上海申能机电有限公司", "amount": "680000",
        "contract_type": "purchase", "summary": "采购空调 40 台",
    })  # fmt: skip
    (dept,) = [r for r in engine.inbox(people["qianxuejun"]) if r.flow_id == flow.flow_id]
    engine.forward(people["qianxuejun"], dept.item_id, opinion="同意送会签")
    (late,) = [r for r in engine.inbox(people["yangfan"]) if r.flow_id == flow.flow_id]
    host = people["liming"]

    def attempt(_: int) -> str:
        try:
            urge(engine, host, late.item_id)
        except DingQuotaExceeded:
            return "refused"
        return "sent"

    with ThreadPoolExecutor(max_workers=10) as pool:
        results = list(pool.map(attempt, range(100)))
    assert results.count("sent") == 60 and results.count("refused") == 40
    with engine.db.read() as s:
        jobs = s.scalar(select(func.count()).select_from(Job).where(Job.key.like("deliver:urge:%")))
        assert jobs == 60
        assert s.scalars(select(DingCount.count)).all() == [60]
        assert verify_all(s)[1] == []


@pytest.mark.parametrize("backend", ["db", "pg_db"], ids=["sqlite", "postgres"])
def test_take_ding_alone_is_atomic_across_connections(backend, request):
    """Without the flow lock urges share: the quota row alone keeps concurrent senders in bounds."""
    database: Database = request.getfixturevalue(backend)
    engine, people = setup_engine(database, SafeClock())
    day = datetime(2026, 3, 2, tzinfo=UTC).date()

    def attempt(_: int) -> bool:
        try:
            with engine.db.transaction() as conn:
                take_ding(conn, people["liming"], day, limit=60)
        except DingQuotaExceeded:
            return False
        return True

    with ThreadPoolExecutor(max_workers=10) as pool:
        assert sum(pool.map(attempt, range(100))) == 60
    assert dings(engine) == {(people["liming"], day.isoformat()): 60}
