"""Signed-in devices and presence days (workflow/org/devices.py, presence_days.py, sessions.py)."""

from __future__ import annotations

import threading
from datetime import UTC, date, datetime, timedelta
from zoneinfo import ZoneInfo

import pytest
from sqlalchemy import select

from tests.conftest import setup_engine
from workflow import sessions
from workflow.audit import verify_all
from workflow.errors import Forbidden, NotFound
from workflow.org import devices
from workflow.store.models import AuditEvent, PresenceDay, Unit

T0 = datetime(2026, 3, 2, 1, 0, tzinfo=UTC)  # 09:00 in Shanghai, Monday
IDLE = timedelta(minutes=120)
TZ = ZoneInfo("Asia/Shanghai")
PC = ("Mozilla/5.0 (Windows NT 10.0; Win64; x64) AppleWebKit/537.36 (KHTML, like Gecko) "
      "Chrome/120.0.0.0 Safari/537.36")  # fmt: skip
PHONE = ("Mozilla/5.0 (iPhone; CPU iPhone OS 17_1 like Mac OS X) AppleWebKit/605.1.15 (KHTML, "
         "like Gecko) Mobile/15E148 MicroMessenger/8.0.44(0x18002c2f) NetType/WIFI")  # fmt: skip


def _days(db, user_id: int) -> list[tuple[date, datetime]]:
    with db.read() as s:
        rows = s.execute(
            select(PresenceDay.day, PresenceDay.first_at)
            .where(PresenceDay.user_id == user_id)
            .order_by(PresenceDay.day)
        )
        return [tuple(r) for r in rows]  # fmt: skip


def test_the_user_agent_names_browser_and_device():
    assert devices.describe(PC) == ("Chrome 120", "Windows", False)
    assert devices.describe(PHONE) == ("WeChat", "iPhone", True)
    assert devices.describe("") == ("", "", False)


def test_a_phone_and_a_pc_at_once_are_listed_and_both_keep_working(engine, people):
    db, me = engine.db, people["wangfang"]
    pc = sessions.open_session(db, me, T0, PC, "192.0.2.1", TZ)
    phone = sessions.open_session(db, me, T0 + timedelta(minutes=1), PHONE, "198.51.100.7", TZ)
    later = T0 + timedelta(minutes=10)
    assert sessions.look_up(db, pc, me, later, IDLE, TZ) is not None
    assert sessions.look_up(db, phone, me, later, IDLE, TZ) is not None
    listed = devices.my_devices(db, me, later, IDLE, current_sid=phone)
    assert [(d.browser, d.system, d.address, d.current) for d in listed] == [
        ("WeChat", "iPhone", "198.51.100.7", True),
        ("Chrome 120", "Windows", "192.0.2.1", False),
    ]
    assert listed[1].signed_in_at == T0 and listed[1].last_seen_at == later
    assert all(pc not in d.handle and phone not in d.handle for d in listed)


def test_ending_one_others_and_a_stranger_handle(engine, people):
    db, me, other = engine.db, people["wangfang"], people["liming"]
    a = sessions.open_session(db, me, T0, PC, None, TZ)
    b = sessions.open_session(db, me, T0, PHONE, None, TZ)
    c = sessions.open_session(db, me, T0, PHONE, None, TZ)
    theirs = sessions.open_session(db, other, T0, PC, None, TZ)
    with pytest.raises(NotFound):
        devices.end_mine(db, me, devices.handle_of(theirs), T0)
    assert sessions.look_up(db, theirs, other, T0, IDLE, TZ) is not None
    devices.end_mine(db, me, devices.handle_of(b), T0)
    assert sessions.look_up(db, b, me, T0, IDLE, TZ) is None
    with pytest.raises(NotFound):  # ended already
        devices.end_mine(db, me, devices.handle_of(b), T0)
    assert devices.end_others(db, me, a, T0) == 1
    assert sessions.look_up(db, c, me, T0, IDLE, TZ) is None
    assert sessions.look_up(db, a, me, T0, IDLE, TZ) is not None
    assert devices.was_ended(db, c, me, IDLE) and not devices.was_ended(db, a, me, IDLE)


def test_an_administrator_ends_all_of_a_persons_sessions_in_scope_only(engine, people):
    db, clerk = engine.db, people["huangyong"]  # 财务部
    sids = [sessions.open_session(db, clerk, T0, PC, None, TZ) for _ in range(2)]
    with pytest.raises(Forbidden):
        devices.end_all_for(db, people["wangfang"], clerk, T0)
    with pytest.raises(NotFound):  # 财务部's sub-admin: 办公室 is outside their scope
        devices.end_all_for(db, people["linxiaoyan"], people["wangfang"], T0)
    assert devices.end_all_for(db, people["linxiaoyan"], clerk, T0) == 2
    assert all(sessions.look_up(db, sid, clerk, T0, IDLE, TZ) is None for sid in sids)
    with db.read() as s:
        event = s.execute(select(AuditEvent).where(AuditEvent.kind == "sessions_end")).scalar_one()
        finance = s.execute(select(Unit.id).where(Unit.code == "finance")).scalar()
    # the unit the act concerns: the admin log shows it to 财务部's sub-administrators
    assert event.data["target"] == {"user": clerk, "name": "黄勇", "unit": finance}
    assert event.data["before"] == {"open": 2}
    with db.read() as s:
        assert verify_all(s)[1] == []


def test_presence_is_written_at_sign_in_and_on_a_new_local_day_only(engine, people):
    db, me = engine.db, people["liming"]
    sid = sessions.open_session(db, me, T0, PC, None, TZ)
    for minutes in (2, 4, 30):  # the same local day: the row is not written again
        sessions.look_up(db, sid, me, T0 + timedelta(minutes=minutes), IDLE, TZ)
    assert _days(db, me) == [(date(2026, 3, 2), T0)]
    # 23:59:50 and then 00:00:20 local: seen within a minute, but a new day is counted at once
    late = datetime(2026, 3, 2, 15, 59, 50, tzinfo=UTC)
    for at in (late - timedelta(minutes=100), late, late + timedelta(seconds=30)):
        assert sessions.look_up(db, sid, me, at, timedelta(days=1), TZ) is not None
    assert _days(db, me)[-1] == (date(2026, 3, 3), late + timedelta(seconds=30))


def _race(db, people):
    """Two sessions of one person seen at once on a new local day: one presence row."""
    me = people["wangfang"]
    pc = sessions.open_session(db, me, T0, PC, None, TZ)
    phone = sessions.open_session(db, me, T0, PHONE, None, TZ)
    next_day = T0 + timedelta(days=1)
    barrier = threading.Barrier(2)
    errors = []

    def seen(sid, at):
        try:
            barrier.wait()
            assert sessions.look_up(db, sid, me, at, timedelta(days=2), TZ) is not None
        except Exception as exc:  # pragma: no cover - reported below
            errors.append(exc)

    threads = [
        threading.Thread(target=seen, args=(pc, next_day)),
        threading.Thread(target=seen, args=(phone, next_day + timedelta(seconds=1))),
    ]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert not errors
    days = _days(db, me)
    assert [d for d, _ in days] == [date(2026, 3, 2), date(2026, 3, 3)]
    assert days[1][1] in (next_day, next_day + timedelta(seconds=1))


def test_presence_race_of_two_sessions_on_a_new_day_sqlite(engine, people):
    _race(engine.db, people)


@pytest.mark.postgres
def test_presence_race_of_two_sessions_on_a_new_day_postgres(pg_db):
    _, people = setup_engine(pg_db)
    _race(pg_db, people)


@pytest.mark.postgres
def test_ending_sessions_on_postgres(pg_db):
    _, people = setup_engine(pg_db)
    me = people["wangfang"]
    a = sessions.open_session(pg_db, me, T0, PC, None, TZ)
    b = sessions.open_session(pg_db, me, T0, PHONE, None, TZ)
    assert devices.end_others(pg_db, me, a, T0) == 1
    assert devices.end_all_for(pg_db, people["zhouwei"], me, T0) == 1
    assert sessions.look_up(pg_db, a, me, T0, IDLE, TZ) is None
    assert sessions.look_up(pg_db, b, me, T0, IDLE, TZ) is None
