"""提醒未登录人员 (Art. 17): one SMS to each person not signed in today, by hand or on a schedule.

An administrator with ``stats`` presses the button (``remind``: an ``admin`` chain event,
``signin_remind``), or switches on the daily reminder with a time of day (``set_schedule``:
kept in ``org_settings`` under ``signin_reminder``, an ``admin`` chain event
``signin_reminder_schedule``). Either queues, for every active person of the scope who has no
presence row for the local day and has a mobile, one ``deliver`` job keyed
``signin-remind:<day>:<user>``: pressing twice, or the schedule and a press, send one SMS.

The daily job ``signin_remind`` (key ``signin_remind:<date>:<HH:MM>``) runs in the worker like
the daily anchor: it reminds on working days only (``workflow.calendar``) and queues the next
day's job in the same transaction. A job whose time is no longer the setting's (changed since)
or that finds the reminder switched off does nothing and queues nothing: ``set_schedule``
queues the job of the new setting itself.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, date, datetime, time, timedelta, tzinfo
from typing import TYPE_CHECKING, Any

from sqlalchemy import exists, not_, select, update
from sqlalchemy.orm import Session

from workflow import access
from workflow.calendar import is_working_day
from workflow.delivery import enqueue_delivery
from workflow.errors import Forbidden, FormInvalid, NotFound
from workflow.job_queue import JobRecord, enqueue
from workflow.org import adminlog
from workflow.org.presence_days import DAYS, local_day
from workflow.refusals import FieldError
from workflow.store.db import ConnectionOrSession, Database
from workflow.store.models import OrgSetting, Unit, User

if TYPE_CHECKING:
    from workflow.engine import Engine
    from workflow.jobs import Worker

KIND = "signin_remind"
SETTING = "signin_reminder"
DEFAULT_AT = time(9, 30)
USERS, UNITS, SETTINGS = User.__table__, Unit.__table__, OrgSetting.__table__
SUBJECT = "【办理提醒】今日尚未登录"
BODY = "您今天（{day}）还没有登录办理系统，请及时登录查看待办事项和消息。"


@dataclass(frozen=True)
class Schedule:
    """The daily reminder: on or off, its local time of day, who changed it last and when."""

    enabled: bool
    at: time
    updated_at: datetime | None = None
    updated_by: str | None = None


@dataclass(frozen=True)
class Reminded:
    """What one reminder round did: SMS queued now, already queued today, absent without mobile."""

    queued: int
    already: int
    no_mobile: int


def schedule_of(db: Database) -> Schedule:
    """The daily reminder's setting (off at 09:30 until an administrator changes it)."""
    with db.read() as s:
        return _schedule(s.connection())


def _schedule(tx: ConnectionOrSession) -> Schedule:
    row = tx.execute(
        select(SETTINGS.c.value, SETTINGS.c.updated_at, USERS.c.name)
        .outerjoin(USERS, USERS.c.id == SETTINGS.c.updated_by)
        .where(SETTINGS.c.key == SETTING)
    ).first()  # fmt: skip
    if row is None or not isinstance(row.value, dict):
        return Schedule(False, DEFAULT_AT)
    return Schedule(bool(row.value.get("enabled")), time.fromisoformat(row.value["at"]),
                    row.updated_at, row.name)  # fmt: skip


def parse_time(text: str | None) -> time:
    """A time of day as typed (``HH:MM``); ``FormInvalid`` on the field ``at`` otherwise."""
    try:
        at = time.fromisoformat((text or "").strip())
    except ValueError:
        raise FormInvalid({"at": FieldError("field_not_time", example="09:30",
                                            value=(text or "")[:20])}) from None  # fmt: skip
    return at.replace(second=0, microsecond=0)


def _whole_company(tx: ConnectionOrSession, actor_id: int) -> access.AdminScope:
    """The scope of an administrator with ``stats`` over every top unit (the schedule reminds
    everyone); ``Forbidden`` otherwise."""
    scope = access.require_capability(tx, actor_id, "stats")
    for root in tx.execute(select(UNITS.c.id).where(UNITS.c.parent_id.is_(None))).scalars():
        access.require_capability(tx, actor_id, "stats", root)
    return scope


def may_schedule(db: Database, user_id: int) -> bool:
    """Whether ``user_id`` may switch the daily reminder (``stats`` over the whole company)."""
    with db.read() as s:
        try:
            _whole_company(s.connection(), user_id)
        except (Forbidden, NotFound):
            return False
    return True


def set_schedule(
    db: Database, actor_id: int, enabled: bool, at: time, now: datetime, tz: tzinfo
) -> Schedule:
    """Switch the daily reminder on (at local time ``at``) or off; recorded on the admin chain,
    and the next run queued when on.

    Raises:
        Forbidden: the actor lacks ``stats`` over the whole organisation.
    """
    value = {"enabled": enabled, "at": at.strftime("%H:%M")}
    with db.write() as s:
        scope = _whole_company(s.connection(), actor_id)
        before = s.execute(select(SETTINGS.c.value).where(SETTINGS.c.key == SETTING)).scalar()
        if before is None:
            s.add(OrgSetting(key=SETTING, value=value, updated_by=actor_id, updated_at=now))
        else:
            s.execute(update(SETTINGS).where(SETTINGS.c.key == SETTING)
                      .values(value=value, updated_by=actor_id, updated_at=now))  # fmt: skip
        adminlog.record(s, scope, "signin_reminder_schedule", at=now,
                        target={"setting": SETTING}, before=before, after=value)  # fmt: skip
        if enabled:
            schedule_next(s, now, tz, at)
        s.flush()
        return _schedule(s.connection())


def next_run(now: datetime, tz: tzinfo, at: time) -> tuple[date, datetime]:
    """The local date and UTC time of the first run at ``at`` after ``now``."""
    local = now.astimezone(tz)
    run = datetime.combine(local.date(), at, tzinfo=tz)
    if run <= local:
        run = datetime.combine(local.date() + timedelta(days=1), at, tzinfo=tz)
    return run.date(), run.astimezone(UTC)


def schedule_next(tx: ConnectionOrSession, now: datetime, tz: tzinfo, at: time) -> bool:
    """Queue the next daily run (``signin_remind:<date>:<HH:MM>``); False if queued already."""
    day, due = next_run(now, tz, at)
    hhmm = at.strftime("%H:%M")
    payload = {"day": day.isoformat(), "at": hhmm}
    return enqueue(tx, KIND, f"{KIND}:{day.isoformat()}:{hhmm}", payload, due, now=now)


def _absent(
    tx: ConnectionOrSession, units: frozenset[int] | None, day: date, tz: tzinfo
) -> list[Any]:
    signed = exists().where(DAYS.c.user_id == USERS.c.id, DAYS.c.day == day)
    where = [USERS.c.status == "active", not_(signed)]
    if units is not None:
        where.append(USERS.c.unit_id.in_(sorted(units)))
    rows = tx.execute(select(USERS.c.id, USERS.c.mobile, USERS.c.created_at).where(*where))
    return [r for r in rows if r.created_at is None or local_day(r.created_at, tz) <= day]


def _queue(
    tx: Session, units: frozenset[int] | None, now: datetime, tz: tzinfo
) -> tuple[date, Reminded]:
    day = local_day(now, tz)
    queued = already = no_mobile = 0
    for row in _absent(tx, units, day, tz):
        if not (row.mobile or "").strip():
            no_mobile += 1
            continue
        body = BODY.format(day=f"{day.month}月{day.day}日")
        if enqueue_delivery(tx, row.id, "sms", SUBJECT, body, f"signin-remind:{day}:{row.id}",
                            now, now=now):  # fmt: skip
            queued += 1
        else:
            already += 1
    return day, Reminded(queued, already, no_mobile)


def remind(
    db: Database, actor_id: int, now: datetime, tz: tzinfo, unit_id: int | None = None
) -> Reminded:
    """Queue one SMS for each person of the actor's ``stats`` units (within ``unit_id``'s
    subtree, if given) not signed in today; an admin chain event ``signin_remind``.

    Raises:
        Forbidden: the actor holds no ``stats`` capability (over ``unit_id``).
        NotFound: no such unit.
    """
    with db.write() as s:
        tx = s.connection()
        if unit_id is not None and tx.execute(
            select(UNITS.c.id).where(UNITS.c.id == unit_id)
        ).first() is None:  # fmt: skip
            raise NotFound("unit_not_found", unit=unit_id)
        scope = access.require_capability(tx, actor_id, "stats", unit_id)
        units = scope.units_for("stats")
        if unit_id is not None:
            below = access.subtree(tx, [unit_id])
            units = below if units is None else units & below
        day, done = _queue(s, units, now, tz)
        adminlog.record(s, scope, "signin_remind", at=now,
                        target={"unit": unit_id, "day": day.isoformat()}, before=None,
                        after={"queued": done.queued, "already": done.already,
                               "no_mobile": done.no_mobile})  # fmt: skip
    return done


def run_scheduled(db: Database, job: JobRecord, now: datetime, tz: tzinfo) -> Reminded | None:
    """The daily job: remind everyone absent on a working day, then queue tomorrow's run; a
    stale job (the time changed, or switched off) does nothing."""
    with db.write() as s:
        current = _schedule(s.connection())
        if not current.enabled or job.payload.get("at") != current.at.strftime("%H:%M"):
            return None
        done = None
        day = date.fromisoformat(str(job.payload.get("day")))
        if is_working_day(day) and local_day(now, tz) == day:
            _, done = _queue(s, None, now, tz)
        schedule_next(s, now, tz, current.at)
    return done


def seed(db: Database, now: datetime, tz: tzinfo) -> bool:
    """Make sure the next daily run is queued when the reminder is on (every worker start)."""
    with db.write() as s:
        current = _schedule(s.connection())
        return current.enabled and schedule_next(s, now, tz, current.at)


def register(worker: Worker, engine: Engine) -> None:
    """Install the ``signin_remind`` handler on ``worker`` and queue the next run if it is on."""
    worker.handler(KIND)(lambda job: run_scheduled(engine.db, job, engine.clock(), engine.tz))
    seed(engine.db, engine.clock(), engine.tz)
