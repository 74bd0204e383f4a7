"""Step deadlines: hours, calendar days and working days (weekends, public holidays, 调休)."""

from __future__ import annotations

import logging
from datetime import UTC, date, datetime
from zoneinfo import ZoneInfo

import pytest

from workflow import calendar
from workflow.calendar import calendar_covers, due_at, is_working_day

SH = ZoneInfo("Asia/Shanghai")


def local(*args: int) -> datetime:
    """An aware UTC time given as a Shanghai wall-clock time."""
    return datetime(*args, tzinfo=SH).astimezone(UTC)


def test_three_working_days_skip_the_weekend():
    # Thursday 2026-03-05 09:00 → Fri (1), Mon (2), Tue (3) at 09:00
    assert due_at(local(2026, 3, 5, 9, 0), "3 working days", SH) == local(2026, 3, 10, 9, 0)
    # Friday 16:30 with one working day: Monday 16:30
    assert due_at(local(2026, 3, 6, 16, 30), "1 working day", SH) == local(2026, 3, 9, 16, 30)


def test_a_step_entered_on_a_weekend_counts_from_the_next_working_day():
    assert due_at(local(2026, 3, 7, 11, 0), "1 working day", SH) == local(2026, 3, 9, 11, 0)


def test_national_day_2025_is_skipped_and_the_make_up_saturday_counts():
    assert calendar_covers(2025)
    assert not is_working_day(date(2025, 10, 8))
    assert is_working_day(date(2025, 9, 28)) and is_working_day(date(2025, 10, 11))
    # Tuesday 30 September: 1–8 October off; Thu 9 (1), Fri 10 (2), Sat 11 (3, 调休)
    assert due_at(local(2025, 9, 30, 10, 0), "3 working days", SH) == local(2025, 10, 11, 10, 0)
    # Friday 26 September: Sat 27 off, Sun 28 worked (1), Mon 29 (2), Tue 30 (3)
    assert due_at(local(2025, 9, 26, 10, 0), "3 working days", SH) == local(2025, 9, 30, 10, 0)


def test_spring_festival_2026_with_its_make_up_saturday():
    assert calendar_covers(2026)
    # Friday 13 February: Sat 14 worked (1); 15–23 February off; Tue 24 (2)
    assert due_at(local(2026, 2, 13, 10, 0), "2 working days", SH) == local(2026, 2, 24, 10, 0)


def test_hours_and_calendar_days():
    start = local(2026, 3, 6, 22, 0)
    assert due_at(start, "4 hours", SH) == local(2026, 3, 7, 2, 0)
    assert due_at(start, "1 hour", SH) == local(2026, 3, 6, 23, 0)
    assert due_at(start, "2 days", SH) == local(2026, 3, 8, 22, 0)
    assert due_at(start, "1 day", SH).tzinfo == UTC


def test_days_are_counted_in_the_organisations_time_zone():
    # Friday 00:30 in Shanghai is still Thursday in UTC: one working day later is Monday 00:30
    # in Shanghai (Sunday 16:30 UTC), not Friday 16:30 UTC (Saturday in Shanghai).
    start = local(2026, 3, 6, 0, 30)
    assert start == datetime(2026, 3, 5, 16, 30, tzinfo=UTC)
    assert due_at(start, "1 working day", SH) == datetime(2026, 3, 8, 16, 30, tzinfo=UTC)
    # late in the Shanghai evening: Thursday 23:30 → Friday 23:30 local
    assert due_at(local(2026, 3, 5, 23, 30), "1 working day", SH) == local(2026, 3, 6, 23, 30)


def test_a_year_the_calendar_does_not_know_falls_back_to_weekends(caplog):
    future = max(calendar.covered_years()) + 1
    calendar_covers.cache_clear()
    with caplog.at_level(logging.WARNING, logger="workflow.calendar"):
        assert not calendar_covers(future)
    assert f"does not cover {future}" in caplog.text
    # 1 October of that year, a public holiday every year, counts as a working day if a weekday
    oct1 = date(future, 10, 1)
    assert is_working_day(oct1) == (oct1.weekday() < 5)
    # across a weekend it still skips Saturday and Sunday: find a Friday in that year
    friday = next(date(future, 3, d) for d in range(1, 8) if date(future, 3, d).weekday() == 4)
    start = local(friday.year, friday.month, friday.day, 9, 0)
    due = due_at(start, "1 working day", SH)
    assert due == local(friday.year, friday.month, friday.day + 3, 9, 0)


def test_the_calendar_covers_the_years_up_to_now():
    years = calendar.covered_years()
    assert 2025 in years and 2026 in years


@pytest.mark.parametrize("bad", ["3 weeks", "soon", ""])
def test_a_deadline_that_does_not_parse_is_refused(bad):
    with pytest.raises(ValueError):
        due_at(local(2026, 3, 5, 9, 0), bad, SH)


def test_a_naive_start_is_refused():
    with pytest.raises(ValueError):
        due_at(datetime(2026, 3, 5, 9, 0), "4 hours", SH)


def _walk(day: date, n: int, step: int) -> date:
    """The old day-by-day walk, kept here as the reference the per-year tables must match."""
    while n > 0:
        day = date.fromordinal(day.toordinal() + step)
        if is_working_day(day):
            n -= 1
    return day


def test_the_working_day_tables_give_the_day_by_day_answers():
    # Every day of 2025–2027 (2026's holidays and make-up working weekends, a year the calendar
    # may not know yet), forwards and backwards, across year ends, for short and long counts.
    start, end = date(2025, 1, 1).toordinal(), date(2027, 12, 31).toordinal()
    for o in range(start, end + 1):
        day = date.fromordinal(o)
        for n in (0, 1, 2, 3, 7, 30) if o % 37 else (45, 400):
            assert calendar.add_working_days(day, n) == _walk(day, n, 1), (day, n)
            assert calendar.sub_working_days(day, n) == _walk(day, n, -1), (day, n)
    # the 2026 Spring Festival and National Day, with their make-up working weekends (调休)
    assert calendar.add_working_days(date(2026, 2, 13), 1) == _walk(date(2026, 2, 13), 1, 1)
    assert calendar.add_working_days(date(2026, 9, 30), 1) == _walk(date(2026, 9, 30), 1, 1)
