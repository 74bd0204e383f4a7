"""Sign-in statistics, reminders and clerks online (workflow/org/signin_stats.py,
signin_reminders.py, clerks.py)."""

from __future__ import annotations

from dataclasses import replace
from datetime import UTC, date, datetime, time, timedelta
from zoneinfo import ZoneInfo

import pytest
from sqlalchemy import insert, select, update

from tests.conftest import setup_engine
from workflow.errors import Forbidden, FormInvalid, NotFound
from workflow.job_queue import JobRecord, list_jobs
from workflow.org import clerks, signin_reminders, signin_stats
from workflow.org.presence_days import mark
from workflow.store.models import AuditEvent, Job, PresenceDay, Unit, User

TZ = ZoneInfo("Asia/Shanghai")
MON = date(2026, 3, 2)
NOON = datetime(2026, 3, 2, 4, 0, tzinfo=UTC)  # Monday 12:00 local


def _present(db, people, logins, day: date) -> None:
    at = datetime.combine(day, time(9, 0), tzinfo=TZ)
    with db.write() as s:
        for login in logins:
            mark(s, people[login], at, TZ)


def _unit(db, code: str) -> int:
    with db.read() as s:
        return s.execute(select(Unit.id).where(Unit.code == code)).scalar_one()


def test_per_day_and_unit_counts_with_people_enrolled_later(engine, people):
    db = engine.db
    finance = _unit(db, "finance")  # 钱学军, 林晓燕, 黄勇, 马丽
    with db.write() as s:  # 马丽 was enrolled on Tuesday: not expected on Monday
        s.execute(update(User).where(User.id == people["mali"])
                  .values(created_at=datetime(2026, 3, 3, 2, 0, tzinfo=UTC)))  # fmt: skip
    _present(db, people, ["qianxuejun", "huangyong", "wangfang"], MON)
    _present(db, people, ["qianxuejun", "mali"], MON + timedelta(days=1))
    got = signin_stats.stats(db, people["linxiaoyan"], MON, MON + timedelta(days=1), TZ)
    assert [(d.day, d.expected, d.present, d.absent) for d in got.days] == [
        (MON, 3, 2, 1),
        (MON + timedelta(days=1), 4, 2, 2),
    ]
    assert [(u.name, u.expected, u.present, u.absent) for u in got.units] == [("财务部", 4, 2, 2)]
    monday = signin_stats.stats(db, people["linxiaoyan"], MON, MON + timedelta(days=1), TZ,
                                day=MON)  # fmt: skip
    assert [(u.expected, u.present) for u in monday.units] == [(3, 2)]
    assert [a.name for a in monday.absent] == ["林晓燕"]
    assert [a.name for a in got.absent] == ["黄勇", "林晓燕"] and got.absent_total == 2
    assert got.units[0].unit_id == finance
    rows = signin_stats.person_days(db, people["linxiaoyan"], MON, MON + timedelta(days=1), TZ)
    assert len(rows) == 7  # 3 on Monday (马丽 not yet), 4 on Tuesday
    assert [(r.day, r.name, r.first_at is not None) for r in rows if r.name == "钱学军"] == [
        (MON, "钱学军", True),
        (MON + timedelta(days=1), "钱学军", True),
    ]


def test_who_sees_what(engine, people):
    db = engine.db
    with pytest.raises(Forbidden):
        signin_stats.stats(db, people["wangfang"], MON, MON, TZ)
    with pytest.raises(NotFound):  # a unit head sees their subtree only
        signin_stats.stats(db, people["qianxuejun"], MON, MON, TZ, unit_id=_unit(db, "office"))
    head = signin_stats.stats(db, people["qianxuejun"], MON, MON, TZ)
    assert [u.name for u in head.units] == ["财务部"]
    whole = signin_stats.stats(db, people["fenglei"], MON, MON, TZ, unit_id=_unit(db, "office"))
    assert [u.name for u in whole.units] == ["办公室"]
    with db.read() as s:
        seen = signin_stats.viewer(s.connection(), people["fenglei"])
        assert len(signin_stats.unit_choices(s.connection(), seen)) == 9


def test_the_range_is_checked_by_field():
    today = MON
    assert signin_stats.parse_range(None, None, today) == (MON - timedelta(days=6), MON)
    for start, end, field in (
        ("2026-13-01", None, "from"),
        ("2026-03-02", "2026-03-01", "to"),
        ("2025-01-01", "2026-03-02", "from"),
    ):
        with pytest.raises(FormInvalid) as caught:
            signin_stats.parse_range(start, end, today)
        assert list(caught.value.errors) == [field]


def _deliveries(db) -> list[JobRecord]:
    return [j for j in list_jobs(db, "pending", limit=500) if j.kind == "deliver"]


def _reminders(db):
    return sorted(j.payload["user_id"] for j in _deliveries(db))


def _check_idempotent_reminders(db, people):
    _present(db, people, ["huangyong", "qianxuejun"], MON)
    done = signin_reminders.remind(db, people["linxiaoyan"], NOON, TZ)
    assert (done.queued, done.already, done.no_mobile) == (2, 0, 0)
    assert _reminders(db) == sorted([people["linxiaoyan"], people["mali"]])
    again = signin_reminders.remind(db, people["linxiaoyan"], NOON + timedelta(minutes=5), TZ)
    assert (again.queued, again.already) == (0, 2)
    assert len(_deliveries(db)) == 2
    job = _deliveries(db)[0]
    assert job.payload["kind"] == "sms" and "3月2日" in job.payload["body"]
    with db.read() as s:
        kinds = s.execute(select(AuditEvent.kind).where(AuditEvent.chain == "admin")).scalars()
        assert list(kinds).count("signin_remind") == 2


def test_reminders_are_queued_once_per_person_per_day(engine, people):
    _check_idempotent_reminders(engine.db, people)


@pytest.mark.postgres
def test_reminders_are_queued_once_per_person_per_day_postgres(pg_db):
    _, people = setup_engine(pg_db)
    _check_idempotent_reminders(pg_db, people)


def test_the_daily_schedule_reminds_on_working_days_and_with_a_press_sends_one(engine, people):
    db = engine.db
    with pytest.raises(Forbidden):  # 财务部 only: the schedule reminds everyone
        signin_reminders.set_schedule(db, people["linxiaoyan"], True, time(10, 0), NOON, TZ)
    with pytest.raises(FormInvalid):
        signin_reminders.parse_time("25:00")
    early = NOON - timedelta(hours=4)  # 08:00 local
    got = signin_reminders.set_schedule(db, people["fenglei"], True, time(10, 0), early, TZ)
    assert (got.enabled, got.at, got.updated_by) == (True, time(10, 0), "冯磊")
    (job,) = [j for j in list_jobs(db, "pending") if j.kind == signin_reminders.KIND]
    assert job.key == "signin_remind:2026-03-02:10:00"
    assert job.due_at == datetime(2026, 3, 2, 2, 0, tzinfo=UTC)
    signin_reminders.remind(db, people["linxiaoyan"], early, TZ)  # 财务部 pressed first
    finance = len(_deliveries(db))
    signin_reminders.run_scheduled(db, job, job.due_at, TZ)
    everyone = {d.payload["user_id"] for d in _deliveries(db)}
    with db.read() as s:
        active = s.execute(select(User.id).where(User.status == "active")).scalars().all()
    assert everyone == set(active) and len(_deliveries(db)) == len(active) > finance
    (tomorrow,) = [j for j in list_jobs(db, "pending")
                   if j.kind == signin_reminders.KIND and j.key != job.key]  # fmt: skip
    assert tomorrow.key == "signin_remind:2026-03-03:10:00"
    # Saturday: nobody is reminded, the chain goes on
    with db.write() as s:
        s.execute(update(Job).where(Job.kind == "deliver").values(status="done"))
    sat = datetime(2026, 3, 7, 2, 0, tzinfo=UTC)
    saturday = replace(tomorrow, payload={"day": "2026-03-07", "at": "10:00"})
    assert signin_reminders.run_scheduled(db, saturday, sat, TZ) is None
    assert _deliveries(db) == []
    # switched off: a queued run does nothing and queues nothing
    signin_reminders.set_schedule(db, people["fenglei"], False, time(10, 0), sat, TZ)
    before = len(list_jobs(db, "pending"))
    assert signin_reminders.run_scheduled(db, tomorrow, tomorrow.due_at, TZ) is None
    assert len(list_jobs(db, "pending")) == before


def test_clerks_not_signed_in_today_first(engine, people):
    db = engine.db
    _present(db, people, ["wangfang"], MON)
    with db.write() as s:
        s.execute(update(User).where(User.id == people["wangfang"]).values(last_seen_at=NOON))
    found = clerks.clerks(db, people["fenglei"], NOON + timedelta(minutes=1), TZ)
    assert [(c.name, c.signed_in_today, c.online) for c in found] == [
        ("袁丽", False, False),
        ("韩梅", False, False),
        ("王芳", True, True),
    ]
    assert found[1].unit == "第一项目部" and found[1].mobile == "15801770002"
    assert [c.name for c in clerks.clerks(db, people["liming"], NOON, TZ)] == ["王芳"]
    with pytest.raises(Forbidden):
        clerks.clerks(db, people["huangyong"], NOON, TZ)


def test_presence_rows_are_counted_through_the_day_index(engine, people):
    db = engine.db
    with db.write() as s:
        s.execute(insert(PresenceDay), [{"user_id": people["heting"], "day": MON,
                                         "first_at": NOON}])  # fmt: skip
        plan = (
            s.connection()
            .exec_driver_sql(
                "EXPLAIN QUERY PLAN SELECT day, count(*) FROM presence_days "
                "WHERE day >= '2026-03-01' AND day <= '2026-03-07' GROUP BY day"
            )
            .all()
        )
    assert any("ix_presence_days_day" in str(row) for row in plan)
