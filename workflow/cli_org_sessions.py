"""``banli org sessions`` and ``banli org signins``: a person's sessions (list, end all) and the
sign-in statistics (a table or CSV, reminders), each checked against ``--as``'s scope."""

from __future__ import annotations

import csv
from datetime import timedelta
from pathlib import Path

import click

from workflow.cli_org_common import administrator, org_engine, refused
from workflow.errors import BanliError, FormInvalid


@click.group("sessions")
def sessions() -> None:
    """A person's signed-in sessions (Art. 14-15)."""


def _person(engine, login: str):  # type: ignore[no-untyped-def]
    found = engine.person(login)
    if found is None:
        raise click.ClickException(f"no user with login {login!r}")
    return found


@sessions.command("list")
@click.argument("login")
@click.option("--as", "actor", required=True, help="Login of the administrator asking.")
@click.pass_context
def sessions_list(ctx: click.Context, login: str, actor: str) -> None:
    """LOGIN's open sessions: device, address, signed in at, last seen (local time)."""
    from workflow.org import devices

    engine = org_engine(ctx.obj["settings"])
    who, person = administrator(engine, actor), _person(engine, login)
    idle = timedelta(minutes=engine.settings.idle_minutes)
    try:
        found = devices.devices_of(engine.db, who.id, person.id, engine.clock(), idle)
    except BanliError as exc:
        raise refused(exc) from None
    if not found:
        click.echo(f"{person.name} ({login}) has no open session")
    for d in found:
        label = f"{d.browser or 'unknown browser'} · {d.system or 'unknown device'}"
        click.echo(
            f"{d.handle}  {label:32}  {d.address or '-':16}  signed in "
            f"{engine.local(d.signed_in_at)}  last seen {engine.local(d.last_seen_at)}"
        )


@sessions.command("end")
@click.argument("login")
@click.option("--as", "actor", required=True, help="Login of the administrator ending them.")
@click.pass_context
def sessions_end(ctx: click.Context, login: str, actor: str) -> None:
    """End every open session of LOGIN (recorded on the admin chain)."""
    from workflow.org import devices

    engine = org_engine(ctx.obj["settings"])
    who, person = administrator(engine, actor), _person(engine, login)
    try:
        n = devices.end_all_for(engine.db, who.id, person.id, engine.clock())
    except BanliError as exc:
        raise refused(exc) from None
    click.echo(f"{n} session(s) of {person.name} ({login}) ended by {who.name}")


@click.group("signins")
def signins() -> None:
    """Sign-in statistics and reminders (Art. 17)."""


@signins.command("stats")
@click.option("--from", "start", help="First day, YYYY-MM-DD (default: 6 days before --to).")
@click.option("--to", "end", help="Last day, YYYY-MM-DD (default: today).")
@click.option("--unit", "code", help="Only this unit's subtree (its code).")
@click.option("--as", "actor", required=True, help="Login of the administrator or unit head.")
@click.option("--csv", "csv_file", type=click.Path(dir_okay=False, path_type=Path),
              help="Also write one row per person per day to this CSV file.")  # fmt: skip
@click.pass_context
def signins_stats(
    ctx: click.Context, start: str | None, end: str | None, code: str | None, actor: str,
    csv_file: Path | None,
) -> None:  # fmt: skip
    """Per day: people expected, signed in, not signed in; then per unit."""
    from workflow.org import signin_stats
    from workflow.org.presence_days import local_day

    engine = org_engine(ctx.obj["settings"])
    who = administrator(engine, actor)
    unit = signin_stats.unit_by_code(engine.db, code) if code else None
    if code and unit is None:
        raise click.ClickException(f"no unit with code {code!r}")
    today = local_day(engine.clock(), engine.tz)
    try:
        first, last = signin_stats.parse_range(start, end, today)
        found = signin_stats.stats(engine.db, who.id, first, last, engine.tz, unit)
        rows = (signin_stats.person_days(engine.db, who.id, first, last, engine.tz, unit)
                if csv_file else [])  # fmt: skip
    except FormInvalid as exc:
        raise click.ClickException("; ".join(f"--{k} {v}" for k, v in exc.errors.items())) from None
    except BanliError as exc:
        raise refused(exc) from None
    click.echo("DAY         PEOPLE  SIGNED IN  NOT")
    for d in found.days:
        off = "" if d.working else "  (day off)"
        click.echo(f"{d.day.isoformat()}  {d.expected:6}  {d.present:9}  {d.absent:3}{off}")
    click.echo(f"\nper unit on {found.day.isoformat()}:")
    for u in found.units:
        click.echo(f"{u.name}: {u.present} of {u.expected} signed in, {u.absent} not")
    if csv_file:
        _write_csv(csv_file, rows, engine)
        click.echo(f"{len(rows)} row(s) written to {csv_file}")


def _write_csv(path: Path, rows: list, engine) -> None:  # type: ignore[no-untyped-def]
    with path.open("w", newline="", encoding="utf-8-sig") as f:
        out = csv.writer(f)
        out.writerow(["date", "unit", "login", "name", "signed_in", "first_sign_in"])
        for r in rows:
            out.writerow([r.day.isoformat(), r.unit, r.login, r.name, "yes" if r.first_at else "no",
                          engine.stamp(r.first_at) if r.first_at else ""])  # fmt: skip


@signins.command("remind")
@click.option("--unit", "code", help="Only this unit's subtree (its code).")
@click.option("--as", "actor", required=True, help="Login of the administrator (stats).")
@click.pass_context
def signins_remind(ctx: click.Context, code: str | None, actor: str) -> None:
    """Queue one SMS for each person not signed in today (once per person per day)."""
    from workflow.org import signin_reminders, signin_stats

    engine = org_engine(ctx.obj["settings"])
    who = administrator(engine, actor)
    unit = signin_stats.unit_by_code(engine.db, code) if code else None
    if code and unit is None:
        raise click.ClickException(f"no unit with code {code!r}")
    try:
        done = signin_reminders.remind(engine.db, who.id, engine.clock(), engine.tz, unit)
    except BanliError as exc:
        raise refused(exc) from None
    click.echo(
        f"{done.queued} reminder(s) queued, {done.already} already reminded today, "
        f"{done.no_mobile} without a mobile"
    )
