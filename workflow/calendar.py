"""Working days and step deadlines: "3 working days", "2 days", "4 hours".

Working days are the days the State Council's calendar says people work: Monday to Friday
except public holidays, plus the make-up working Saturdays and Sundays (调休). The calendar
comes from ``chinese-calendar`` (``chinese_calendar``), which is published once the State
Council announces a year's holidays (usually in the November before). For a year it does not
know yet, working days fall back to Monday to Friday, and a warning says so once per year.

Deadlines:

- "N minutes", "N hours": that long after the start.
- "N days": N calendar days after the start, at the same local time of day.
- "N working days": the Nth working day after the start's local day, at the same local time
  of day as the start (so a step entered on Friday 16:30 with "1 working day" is due Monday
  16:30). The start day itself does not count, whether it is a working day or not.

Days are counted in the organisation's time zone (``tz``, Asia/Shanghai by default); the due
time is returned as an aware UTC datetime.
"""

from __future__ import annotations

import logging
from bisect import bisect_left, bisect_right
from datetime import UTC, date, datetime, timedelta
from functools import cache
from zoneinfo import ZoneInfo

import chinese_calendar

from workflow.spec.model import DEADLINE_RE, DURATION_HINT

log = logging.getLogger(__name__)

__all__ = ["before", "calendar_covers", "covered_years", "due_at", "is_working_day"]


def covered_years() -> range:
    """The years the holiday calendar knows (with 调休 days), e.g. range(2004, 2027)."""
    known = {d.year for d in chinese_calendar.holidays} | {
        d.year for d in chinese_calendar.workdays
    }
    return range(min(known), max(known) + 1)


@cache
def calendar_covers(year: int) -> bool:
    """Whether the holiday calendar knows ``year``; if not, only weekends are days off."""
    try:
        chinese_calendar.is_workday(date(year, 1, 1))
    except NotImplementedError:
        log.warning(
            "the holiday calendar does not cover %s: counting only weekends as days off "
            "(update chinese-calendar once the State Council announces the holidays)",
            year,
        )
        return False
    return True


@cache
def is_working_day(day: date) -> bool:
    """A working day: a weekday that is not a public holiday, or a make-up working weekend day.

    Cached per day (the calendar is fixed for the process's life): a workbench page or an
    export asks for the same few weeks' days row after row."""
    if calendar_covers(day.year):
        return chinese_calendar.is_workday(day)
    return day.weekday() < 5


@cache
def _working_days(year: int) -> tuple[int, ...]:
    """The working days of ``year`` as ordinals, ascending: a table built once per year."""
    first, last = date(year, 1, 1).toordinal(), date(year, 12, 31).toordinal()
    return tuple(o for o in range(first, last + 1) if is_working_day(date.fromordinal(o)))


def add_working_days(day: date, n: int) -> date:
    """The ``n``th working day after ``day`` (``day`` itself not counted); ``day`` if n is 0.

    Same answer as walking day by day, found by binary search in each year's table."""
    if n <= 0:
        return day
    year, after = day.year, day.toordinal()
    while True:
        table = _working_days(year)
        i = bisect_right(table, after)
        if i + n <= len(table):
            return date.fromordinal(table[i + n - 1])
        n -= len(table) - i
        year += 1


def sub_working_days(day: date, n: int) -> date:
    """The ``n``th working day before ``day`` (``day`` itself not counted); ``day`` if n is 0."""
    if n <= 0:
        return day
    year, before_ = day.year, day.toordinal()
    while True:
        table = _working_days(year)
        i = bisect_left(table, before_)  # table[:i] are the working days before ``day``
        if n <= i:
            return date.fromordinal(table[i - n])
        n -= i
        year -= 1


@cache
def parse_deadline(deadline: str) -> tuple[int, str]:
    """(N, unit) of a deadline; unit is "minutes", "hours", "days" or "working days"."""
    match = DEADLINE_RE.match(deadline)
    if match is None:
        raise ValueError(f"deadline must read like {DURATION_HINT}, not {deadline!r}")
    n, unit = int(match.group(1)), match.group(2)
    return n, unit if unit.endswith("s") else unit + "s"


def due_at(start: datetime, deadline: str, tz: ZoneInfo) -> datetime:
    """When a step entered at ``start`` (aware) with ``deadline`` is due, as aware UTC."""
    if start.tzinfo is None:
        raise ValueError("start must be an aware datetime")
    n, unit = parse_deadline(deadline)
    if unit in ("hours", "minutes"):
        return (start + timedelta(**{unit: n})).astimezone(UTC)
    local = start.astimezone(tz)
    start_day = local.date()
    day = start_day + timedelta(days=n) if unit == "days" else add_working_days(start_day, n)
    # Same wall-clock time on that day (fold/gap handled by zoneinfo), then back to UTC.
    return datetime.combine(day, local.time(), tzinfo=tz).astimezone(UTC)


def before(due: datetime, lead: str, tz: ZoneInfo) -> datetime:
    """``lead`` (a duration such as "4 hours" or "1 working day") before ``due``, as aware UTC.

    Working days count back over working days only: "1 working day" before Monday 10:00 is the
    Friday before (or the last working day before it), at 10:00.
    """
    n, unit = parse_deadline(lead)
    if unit in ("hours", "minutes"):
        return (due - timedelta(**{unit: n})).astimezone(UTC)
    local = due.astimezone(tz)
    day = local.date()
    if unit == "days":
        day -= timedelta(days=n)
    else:
        day = sub_working_days(day, n)
    return datetime.combine(day, local.time(), tzinfo=tz).astimezone(UTC)
