"""Sign-in statistics (Art. 17): per day and per unit, who signed in and who did not.

Per day over a range (at most MOST_DAYS days), and per unit with the people who did not sign in
on one day of it (the last, unless another is asked for).

Who sees them: an administrator with ``stats`` (over their scope) and a unit head (role
``unit_head``: their unit's subtree), both together if both. Counted are the *active* people of
the units asked for; a person enrolled later (``users.created_at``) is not expected before their
local enrolment day. Signed in on a day = a ``presence_days`` row (``workflow.sessions`` writes
it). The per-day figures are counted from ``ix_presence_days_day`` alone (less the few people not
counted) or, for a small unit, from its people's rows; the per-unit ones with one seek per person
into the ``(user_id, day)`` key; then one pass in Python (see ``bench/signins.py`` for the page
over 10,000 people × 30 days). The export (:func:`person_days`) has one row per person per day.
"""

from __future__ import annotations

from collections import Counter, defaultdict
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import UTC, date, datetime, time, timedelta, tzinfo
from typing import Any

from sqlalchemy import and_, case, exists, func, not_, or_, select

from workflow.access import AdminScope, admin_scope, subtree
from workflow.calendar import is_working_day
from workflow.errors import Forbidden, FormInvalid, NotFound
from workflow.org.presence_days import DAYS, local_day
from workflow.refusals import FieldError
from workflow.store.db import ConnectionOrSession, Database
from workflow.store.models import RoleMembership, Unit, User

USERS, UNITS, ROLES = User.__table__, Unit.__table__, RoleMembership.__table__
DEFAULT_DAYS = 7
MOST_DAYS = 92
ABSENT_SHOWN = 200
#: the dates a range may name (nobody signed in before; nothing overflows after)
EARLIEST, LATEST = date(1970, 1, 1), date(9000, 12, 31)


@dataclass(frozen=True)
class Viewer:
    """What one person may see of the statistics: their units (None: every unit)."""

    user_id: int
    units: frozenset[int] | None
    #: their administrator scope (``stats`` here means they may also send reminders)
    scope: AdminScope

    def sees(self, unit_id: int) -> bool:
        return self.units is None or unit_id in self.units


@dataclass(frozen=True)
class UnitChoice:
    """A unit of the filter: its id, code, name and depth below the scope's top."""

    id: int
    code: str
    name: str
    depth: int


@dataclass(frozen=True)
class DayCount:
    """One local day: how many were expected, how many signed in."""

    day: date
    expected: int
    present: int
    working: bool

    @property
    def absent(self) -> int:
        return self.expected - self.present


@dataclass(frozen=True)
class UnitCount:
    """One unit on the day asked about: the people expected that day and those signed in."""

    unit_id: int
    name: str
    expected: int
    present: int

    @property
    def absent(self) -> int:
        return self.expected - self.present


@dataclass(frozen=True)
class Absent:
    """Someone who did not sign in on the day asked about."""

    user_id: int
    name: str
    unit: str
    last_seen_at: datetime | None


@dataclass(frozen=True)
class Stats:
    """The page's figures: the range, the unit (None: all the viewer sees), per day; per unit
    and who did not sign in (the first ABSENT_SHOWN, and how many in all) on ``day``."""

    start: date
    end: date
    unit_id: int | None
    days: list[DayCount]
    units: list[UnitCount]
    day: date
    absent: list[Absent]
    absent_total: int


@dataclass(frozen=True)
class PersonDay:
    """One export row: a person on a day, and when they first signed in (None: not at all)."""

    day: date
    unit: str
    login: str
    name: str
    first_at: datetime | None


def viewer(tx: ConnectionOrSession, user_id: int) -> Viewer:
    """The statistics ``user_id`` may see; ``Forbidden`` for someone neither ``stats``
    administrator nor unit head."""
    scope = admin_scope(tx, user_id)
    units = scope.units_for("stats") if scope.covers("stats") else frozenset()
    heads = tx.execute(
        select(ROLES.c.unit_id).join(USERS, USERS.c.id == ROLES.c.user_id)
        .where(ROLES.c.user_id == user_id, ROLES.c.role == "unit_head",
               ROLES.c.unit_id.is_not(None), USERS.c.status == "active")
    ).scalars().all()  # fmt: skip
    if units is not None and heads:
        units = units | subtree(tx, heads)
    if units is not None and not units:
        name = tx.execute(select(USERS.c.name).where(USERS.c.id == user_id)).scalar()
        raise Forbidden("signin_stats_not_allowed", name=name or user_id)
    return Viewer(user_id, units, scope)


def unit_choices(tx: ConnectionOrSession, seen: Viewer) -> list[UnitChoice]:
    """The units the viewer may pick, in tree order (open and closed units alike)."""
    rows = tx.execute(select(UNITS.c.id, UNITS.c.code, UNITS.c.name, UNITS.c.parent_id)).all()
    children: dict[int | None, list] = defaultdict(list)
    for row in sorted(rows, key=lambda r: r.id):
        children[row.parent_id].append(row)
    found: list[UnitChoice] = []

    def walk(parent: int | None, depth: int) -> None:
        for row in children.get(parent, ()):
            shown = seen.sees(row.id)
            if shown:
                found.append(UnitChoice(row.id, row.code, row.name, depth))
            walk(row.id, depth + 1 if shown else depth)

    walk(None, 0)
    return found


def unit_choices_for(db: Database, viewer_id: int) -> list[UnitChoice]:
    """The units ``viewer_id`` may pick on the statistics page."""
    with db.read() as s:
        tx = s.connection()
        return unit_choices(tx, viewer(tx, viewer_id))


def parse_range(start: str | None, end: str | None, today: date) -> tuple[date, date]:
    """The range asked for (``YYYY-MM-DD``; default the last 7 days up to today); a bad date, an
    end before the start or more than MOST_DAYS days is ``FormInvalid`` by the field."""
    errors: dict[str, FieldError] = {}
    last = _date(end, "to", errors) or today
    first = _date(start, "from", errors) or last - timedelta(days=DEFAULT_DAYS - 1)
    if not errors and last < first:
        errors["to"] = FieldError("field_before_start", start=first.isoformat())
    elif not errors and (last - first).days + 1 > MOST_DAYS:
        errors["from"] = FieldError("field_range_too_long", days=(last - first).days + 1,
                                    max=MOST_DAYS)  # fmt: skip
    if errors:
        raise FormInvalid(errors)
    return first, last


def _date(text: str | None, key: str, errors: dict[str, FieldError]) -> date | None:
    if not text or not text.strip():
        return None
    try:
        found = date.fromisoformat(text.strip())
        if not EARLIEST <= found <= LATEST:  # no statistics there, and no day after it
            raise ValueError(text)
        return found
    except ValueError:
        errors[key] = FieldError("field_not_date", example="2026-03-02", value=text[:40])
        return None


def _units(tx: ConnectionOrSession, seen: Viewer, unit_id: int | None) -> frozenset[int] | None:
    """The units counted: the unit's subtree within the viewer's units, or all they see."""
    if unit_id is None:
        return seen.units
    if not seen.sees(unit_id) or tx.execute(
        select(UNITS.c.id).where(UNITS.c.id == unit_id)
    ).first() is None:  # fmt: skip
        raise NotFound("unit_not_found", unit=unit_id)
    found = subtree(tx, [unit_id])
    return found if seen.units is None else found & seen.units


def _in(column, units: frozenset[int] | None):  # type: ignore[no-untyped-def]
    return True if units is None else column.in_(sorted(units))


def _days(start: date, end: date) -> Iterator[date]:
    for n in range((end - start).days + 1):
        yield start + timedelta(days=n)


def stats(
    db: Database, viewer_id: int, start: date, end: date, tz: tzinfo,
    unit_id: int | None = None, day: date | None = None,
) -> Stats:  # fmt: skip
    """The figures for ``start``..``end`` (local days) over ``unit_id``'s subtree (None: every
    unit the viewer sees), and who did not sign in on ``day`` (default ``end``).

    Raises:
        Forbidden: the viewer is neither a ``stats`` administrator nor a unit head.
        NotFound: the unit does not exist or is outside the viewer's units.
    """
    day = day if day is not None and start <= day <= end else end
    in_range = (DAYS.c.day >= start, DAYS.c.day <= end)
    with db.read() as s:
        tx = s.connection()
        units = _units(tx, viewer(tx, viewer_id), unit_id)
        counted = and_(USERS.c.status == "active", _in(USERS.c.unit_id, units))
        # signed in on ``day``: one seek per person into the (user_id, day) key
        on_day = case((exists().where(DAYS.c.user_id == USERS.c.id, DAYS.c.day == day), 1),
                      else_=0)  # fmt: skip
        # people enrolled before the range are expected on every day of it: grouped in SQL
        since = datetime.combine(start, time.min, tzinfo=tz).astimezone(UTC)
        late = case((USERS.c.created_at >= since, USERS.c.created_at), else_=None)
        people = tx.execute(
            select(USERS.c.unit_id, late, func.count(), func.sum(on_day))
            .where(counted).group_by(USERS.c.unit_id, late)
        ).all()  # fmt: skip
        present = _per_day(tx, counted, sum(row[2] for row in people), in_range)
        names = dict(tx.execute(select(UNITS.c.id, UNITS.c.name)).all())
        absent, total = _absent(tx, units, day, tz)
    # expected per day: everyone enrolled on or before that local day
    enrolled: dict[int, Counter[date]] = defaultdict(Counter)
    signed: Counter[int] = Counter()
    for unit, created, n, signed_on_day in people:
        enrolled[unit][local_day(created, tz) if created is not None else start] += n
        signed[unit] += int(signed_on_day or 0)
    days = list(_days(start, end))
    expected = [0] * len(days)
    for by_day in enrolled.values():
        running = sum(n for d, n in by_day.items() if d < start)
        for i, d in enumerate(days):
            running += by_day.get(d, 0)
            expected[i] += running
    per_unit = sorted(
        (UnitCount(unit, names.get(unit, str(unit)),
                   sum(n for d, n in by_day.items() if d <= day), signed[unit])
         for unit, by_day in enrolled.items()),
        key=lambda c: c.name,
    )  # fmt: skip
    per_day = [DayCount(d, expected[i], present.get(d, 0), is_working_day(d))
               for i, d in enumerate(days)]  # fmt: skip
    return Stats(start, end, unit_id, per_day, per_unit, day, absent, total)


def _per_day(
    tx: ConnectionOrSession, counted: Any, how_many: int, in_range: tuple[Any, ...]
) -> dict[date, int]:
    """People of ``counted`` signed in per day. Few counted: their own rows, one seek each;
    most: every row of the range counted from ``ix_presence_days_day`` alone, less the rows of
    the few people not counted (removed, invited, other units)."""
    everyone = tx.execute(select(func.count()).select_from(USERS)).scalar() or 0
    per_day = select(DAYS.c.day, func.count()).where(*in_range).group_by(DAYS.c.day)
    if how_many * 2 <= everyone:
        return dict(
            tx.execute(per_day.where(DAYS.c.user_id.in_(select(USERS.c.id).where(counted)))).all()
        )  # type: ignore[arg-type]
    others = select(USERS.c.id).where(not_(counted))
    less = dict(tx.execute(per_day.where(DAYS.c.user_id.in_(others))).all())  # type: ignore[arg-type]
    return {d: n - less.get(d, 0) for d, n in tx.execute(per_day).all()}


def _absent(
    tx: ConnectionOrSession, units: frozenset[int] | None, day: date, tz: tzinfo
) -> tuple[list[Absent], int]:
    """Who of ``units`` (active, enrolled by ``day``) did not sign in on ``day``: the first
    ABSENT_SHOWN by unit and name, and how many in all."""
    signed = exists().where(DAYS.c.user_id == USERS.c.id, DAYS.c.day == day)
    until = datetime.combine(day + timedelta(days=1), time.min, tzinfo=tz).astimezone(UTC)
    where = (USERS.c.status == "active", _in(USERS.c.unit_id, units), not_(signed),
             or_(USERS.c.created_at.is_(None), USERS.c.created_at < until))  # fmt: skip
    total = tx.execute(select(func.count()).select_from(USERS).where(*where)).scalar() or 0
    rows = tx.execute(
        select(USERS.c.id, USERS.c.name, USERS.c.last_seen_at, UNITS.c.name.label("unit"))
        .join(UNITS, UNITS.c.id == USERS.c.unit_id).where(*where)
        .order_by(UNITS.c.name, USERS.c.pinyin, USERS.c.id).limit(ABSENT_SHOWN)
    ).all()  # fmt: skip
    return [Absent(r.id, r.name, r.unit, r.last_seen_at) for r in rows], total


def person_days(
    db: Database, viewer_id: int, start: date, end: date, tz: tzinfo, unit_id: int | None = None
) -> list[PersonDay]:
    """The export: one row per person per day of the range (the same people and days the page
    counts), by day, unit and name."""
    with db.read() as s:
        tx = s.connection()
        units = _units(tx, viewer(tx, viewer_id), unit_id)
        people = tx.execute(
            select(USERS.c.id, USERS.c.login, USERS.c.name, USERS.c.created_at,
                   UNITS.c.name.label("unit"))
            .join(UNITS, UNITS.c.id == USERS.c.unit_id)
            .where(USERS.c.status == "active", _in(USERS.c.unit_id, units))
            .order_by(UNITS.c.name, USERS.c.pinyin, USERS.c.id)
        ).all()  # fmt: skip
        firsts = {
            (row.user_id, row.day): row.first_at
            for row in tx.execute(
                select(DAYS.c.user_id, DAYS.c.day, DAYS.c.first_at)
                .join(USERS, USERS.c.id == DAYS.c.user_id)
                .where(and_(DAYS.c.day >= start, DAYS.c.day <= end), USERS.c.status == "active",
                       _in(USERS.c.unit_id, units))
            )
        }  # fmt: skip
    out = []
    for d in _days(start, end):
        for p in people:
            if p.created_at is None or local_day(p.created_at, tz) <= d:
                out.append(PersonDay(d, p.unit, p.login, p.name, firsts.get((p.id, d))))
    return out


def unit_by_code(db: Database, code: str) -> int | None:
    """The id of the unit with ``code`` (the command line names units so), or None."""
    with db.read() as s:
        return s.execute(select(UNITS.c.id).where(UNITS.c.code == code)).scalar()
