"""登录统计 (Art. 16-17): sign-in statistics per day and unit with an SVG chart and XLSX/CSV
export, the clerks not signed in today, 提醒未登录人员 and the daily reminder's schedule.

For administrators with ``stats`` (their scope) and unit heads (their unit's subtree); anyone
else gets 403, a unit outside the viewer's units 404. Thin over ``workflow.org.signin_stats``,
``signin_reminders`` and ``clerks``; the chart is ``web.chart``.
"""

from __future__ import annotations

import csv
import io
from datetime import date
from typing import Any

from flask import Blueprint, Response, current_app, flash, redirect, render_template, request
from flask import url_for as url
from flask_babel import gettext as _
from flask_login import current_user
from openpyxl import Workbook

from web import engine
from web.chart import bar_chart
from web.errors import say_fields
from web.inputs import as_id
from workflow.errors import FormInvalid, NotFound
from workflow.org import clerks, signin_reminders, signin_stats
from workflow.org.presence_days import local_day

bp = Blueprint("presence", __name__)


@bp.before_request
def _signed_in() -> Any:
    if not current_user.is_authenticated:
        return current_app.login_manager.unauthorized()  # type: ignore[attr-defined]
    return None


def _today() -> date:
    return local_day(engine().clock(), engine().tz)


def _unit() -> int | None:
    """The unit asked for (None: every unit of mine); an id that names no unit is 404."""
    raw = request.values.get("unit", "").strip()
    if not raw:
        return None
    unit = as_id(raw)
    if unit is None:
        raise NotFound("unit_not_found", unit=raw[:20])
    return unit


def _chart(found: signin_stats.Stats) -> Any:
    labels = [d.day.strftime("%m-%d") for d in found.days]
    total = sum(d.present for d in found.days), sum(d.expected for d in found.days)
    desc = _("%(start)s to %(end)s: %(present)s of %(expected)s person-days signed in.",
             start=found.start.isoformat(), end=found.end.isoformat(), present=total[0],
             expected=total[1])  # fmt: skip

    def tip(bar: Any) -> str:
        return _("%(day)s: %(present)s of %(expected)s signed in, %(absent)s not",
                 day=bar.day.isoformat(), present=bar.present, expected=bar.expected,
                 absent=bar.absent)  # fmt: skip

    return bar_chart(found.days, labels, _("Signed in per day"), desc, tip)


@bp.get("/admin/presence")
def stats(errors: dict[str, str] | None = None, status: int = 200) -> Any:
    """The statistics over the chosen unit and range (default: the last 7 days)."""
    db, typed = engine().db, {k: request.values.get(k, "") for k in ("from", "to", "day", "at")}
    errors = dict(errors or {})
    try:
        start, end = signin_stats.parse_range(typed["from"], typed["to"], _today())
    except FormInvalid as exc:
        errors.update(say_fields(exc.errors))
        start, end = signin_stats.parse_range(None, None, _today())
        status = 400
    day = date.fromisoformat(typed["day"]) if _iso(typed["day"]) else None
    found = signin_stats.stats(db, current_user.id, start, end, engine().tz, _unit(), day)
    return render_template(
        "presence/stats.html", found=found, chart=_chart(found), typed=typed, errors=errors,
        units=signin_stats.unit_choices_for(db, current_user.id),
        schedule=signin_reminders.schedule_of(db),
        may_schedule=signin_reminders.may_schedule(db, current_user.id),
    ), status  # fmt: skip


def _iso(text: str) -> bool:
    try:
        date.fromisoformat(text)
    except ValueError:
        return False
    return True


def _rows() -> tuple[list[str], list[list[Any]], str]:
    start, end = signin_stats.parse_range(request.args.get("from"), request.args.get("to"),
                                          _today())  # fmt: skip
    found = signin_stats.person_days(engine().db, current_user.id, start, end, engine().tz,
                                     _unit())  # fmt: skip
    header = [_("Date"), _("Unit"), _("Login"), _("Name"), _("Signed in"), _("First sign-in")]
    yes, no = _("yes"), _("no")
    rows = [[r.day.isoformat(), r.unit, r.login, r.name, yes if r.first_at else no,
             engine().stamp(r.first_at) if r.first_at else ""] for r in found]  # fmt: skip
    return header, rows, f"signins-{start.isoformat()}-{end.isoformat()}"


@bp.get("/admin/presence/export.<any(csv, xlsx):fmt>")
def export(fmt: str) -> Any:
    """The same figures, one row per person per day, as CSV (UTF-8 with BOM) or XLSX."""
    header, rows, name = _rows()
    if fmt == "csv":
        out = io.StringIO()
        out.write("\ufeff")  # Excel opens UTF-8 CSV with Chinese correctly only with a BOM
        writer = csv.writer(out)
        writer.writerow(header)
        writer.writerows(rows)
        return Response(
            out.getvalue(),
            mimetype="text/csv; charset=utf-8",
            headers={"Content-Disposition": f"attachment; filename={name}.csv"},
        )
    book = Workbook(write_only=True)
    sheet = book.create_sheet(_("Sign-ins"))
    sheet.append(header)
    for row in rows:
        sheet.append(row)
    out_b = io.BytesIO()
    book.save(out_b)
    return Response(out_b.getvalue(), headers={"Content-Disposition":
                    f"attachment; filename={name}.xlsx"},
                    mimetype="application/vnd.openxmlformats-officedocument.spreadsheetml.sheet")  # fmt: skip


@bp.get("/admin/presence/clerks")
def absent_clerks() -> Any:
    """收文人员在线情况: the clerks of my units, those not signed in today first."""
    found = clerks.clerks(engine().db, current_user.id, engine().clock(), engine().tz)
    return render_template("presence/clerks.html", clerks=found, today=_today())


@bp.post("/admin/presence/remind")
def remind() -> Any:
    """提醒未登录人员: one SMS for each person of my units not signed in today (once a day)."""
    unit = _unit()
    done = signin_reminders.remind(engine().db, current_user.id, engine().clock(), engine().tz,
                                   unit)  # fmt: skip
    flash(
        _(
            "%(queued)s reminder(s) queued; %(already)s already reminded today; %(none)s without "
            "a mobile number.",
            queued=done.queued,
            already=done.already,
            none=done.no_mobile,
        )
    )
    return redirect(url("presence.stats", unit=unit) if unit else url("presence.stats"))


@bp.post("/admin/presence/schedule")
def schedule() -> Any:
    """The daily reminder: on at a time of day, or off (administrators of the whole company)."""
    enabled = request.form.get("enabled") == "on"
    try:
        at = signin_reminders.parse_time(request.form.get("at"))
    except FormInvalid as exc:
        return stats(errors=say_fields(exc.errors), status=400)
    signin_reminders.set_schedule(engine().db, current_user.id, enabled, at, engine().clock(),
                                  engine().tz)  # fmt: skip
    if enabled:
        flash(_("The daily reminder is on: every working day at %(at)s.", at=at.strftime("%H:%M")))
    else:
        flash(_("The daily reminder is off."))
    return redirect(url("presence.stats"))
