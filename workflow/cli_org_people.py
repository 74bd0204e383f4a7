"""``banli org people``: list, enrol, import and invite people from the terminal.

Each command names its administrator with ``--as LOGIN``; the engine checks that person's
``people`` scope exactly as the pages do. ``import`` is a dry run unless ``--confirm`` is given.
"""

from __future__ import annotations

from pathlib import Path

import click

from workflow.cli_org_common import administrator, org_engine, refused
from workflow.errors import BanliError, FormInvalid
from workflow.refusals import render

AS = click.option("--as", "login", required=True, help="Login of the administrator acting.")


@click.group("people")
def people() -> None:
    """People: list, enrol, import from HR's sheet, send an invitation again (Art. 9-10)."""


def _base(engine) -> str:  # type: ignore[no-untyped-def]
    from workflow.paper import DEFAULT_BASE_URL

    return engine.settings.base_url or DEFAULT_BASE_URL


def _form_refused(exc: FormInvalid) -> click.ClickException:
    lines = [f"  {key}: {problem}" for key, problem in exc.errors.items()]
    return click.ClickException("the person was not enrolled:\n" + "\n".join(lines))


@people.command("list")
@click.option("--unit", "unit_code", help="Only this unit (by code) and the units below it.")
@click.option("--status", type=click.Choice(["active", "invited", "removed"]))
@click.option("--search", "q", help="Name, pinyin, initials, login or mobile.")
@AS
@click.pass_context
def people_list(
    ctx: click.Context, unit_code: str | None, status: str | None, q: str | None, login: str
) -> None:
    """The people in your scope: login, name, unit, post, mobile, status."""
    from workflow.org import roster

    engine = org_engine(ctx.obj["settings"])
    actor = administrator(engine, login)
    unit_id = None
    if unit_code:
        unit_id = roster.unit_id_of(engine.db, unit_code)
        if unit_id is None:
            raise click.ClickException(f"no unit {unit_code!r}")
    after, shown = None, 0
    try:
        while True:
            page = roster.list_people(engine.db, actor.id, unit_id=unit_id, status=status, q=q,
                                      after=after, limit=500)  # fmt: skip
            for r in page.rows:
                click.echo(f"{r.login:<20} {r.name:<8} {r.unit:<12} {r.post or '':<10} "
                           f"{r.mobile or '':<12} {r.status}")  # fmt: skip
            shown += len(page.rows)
            if page.after is None:
                break
            after = page.after
    except BanliError as exc:
        raise refused(exc) from None
    click.echo(f"{shown} people")


@people.command("enrol")
@click.option("--name", required=True, help="Real name (Art. 9).")
@click.option("--mobile", required=True, help="Mainland mobile number.")
@click.option("--unit", required=True, help="The unit's code (or name).")
@click.option("--email", default="", help="E-mail address (the invitation goes there too).")
@click.option("--post", default="", help="Position (职务).")
@click.option("--role", "roles", multiple=True, help="A role held in the unit (repeatable).")
@click.option("--login", "new_login", default="", help="Login (default: from the name's pinyin).")
@AS
@click.pass_context
def enrol(ctx: click.Context, name: str, mobile: str, unit: str, email: str, post: str,
          roles: tuple[str, ...], new_login: str, login: str) -> None:  # fmt: skip
    """Enrol a person and send the invitation; prints the invitation link."""
    from workflow.org.people import enrol as enrol_person

    engine = org_engine(ctx.obj["settings"])
    actor = administrator(engine, login)
    fields = {"name": name, "mobile": mobile, "unit": unit, "email": email, "post": post,
              "roles": list(roles), "login": new_login}  # fmt: skip
    try:
        done = enrol_person(engine.db, actor.id, fields, engine.clock(), base_url=_base(engine),
                            hours=engine.settings.invite_hours)  # fmt: skip
    except FormInvalid as exc:
        raise _form_refused(exc) from None
    except BanliError as exc:
        raise refused(exc) from None
    click.echo(f"enrolled {done.name} as {done.login} (invited)")
    click.echo(f"invitation link (valid until {engine.local(done.expires_at)}): {done.link}")


@people.command("invite")
@click.argument("person_login")
@AS
@click.pass_context
def invite(ctx: click.Context, person_login: str, login: str) -> None:
    """Send a person still invited a new link (the earlier ones stop working)."""
    from workflow.org import invitations

    engine = org_engine(ctx.obj["settings"])
    actor = administrator(engine, login)
    person = administrator(engine, person_login)
    try:
        link, expires_at = invitations.resend(engine.db, actor.id, person.id, engine.clock(),
                                              base_url=_base(engine),
                                              hours=engine.settings.invite_hours)  # fmt: skip
    except BanliError as exc:
        raise refused(exc) from None
    click.echo(f"invitation sent to {person.name}, valid until {engine.local(expires_at)}: {link}")


@people.command("import")
@click.argument("file", type=click.Path(exists=True, dir_okay=False, path_type=Path))
@click.option("--confirm", is_flag=True, help="Apply the plan (default: a dry run only).")
@AS
@click.pass_context
def import_sheet(ctx: click.Context, file: Path, confirm: bool, login: str) -> None:
    """Import people from HR's XLSX or CSV sheet: the plan per row; --confirm applies it."""
    from workflow.org import importing
    from workflow.org.sheets import MAX_BYTES

    engine = org_engine(ctx.obj["settings"])
    actor = administrator(engine, login)
    with file.open("rb") as f:
        data = f.read(MAX_BYTES + 1)  # one byte more than allowed: refused as too large
    try:
        plan = importing.plan_import(engine.db, actor.id, data, file.name)
        _print_plan(plan)
        if not confirm:
            click.echo("dry run: nothing was written; add --confirm to apply")
            return
        done = importing.apply_import(engine.db, actor.id, data, file.name, plan.digest,
                                      engine.clock(), base_url=_base(engine),
                                      hours=engine.settings.invite_hours)  # fmt: skip
    except BanliError as exc:
        raise refused(exc) from None
    counts = done.plan.counts
    click.echo(f"imported: {counts['create']} created, {counts['change']} changed, "
               f"{counts['unchanged']} unchanged, {counts['refused']} refused")  # fmt: skip
    for _user_id, person_login, name, link in done.invited:
        click.echo(f"invited {name} ({person_login}): {link}")


def _print_plan(plan) -> None:  # type: ignore[no-untyped-def]
    for row in plan.rows:
        line = f"row {row.number}: {row.action:<9} {row.name} {row.mobile} {row.unit}"
        if row.login:
            line += f" [{row.login}]"
        click.echo(line)
        for key, old, new in row.changes:
            click.echo(f"    {key}: {_shown(old)} -> {_shown(new)}")
        for column, problem in row.reasons:
            click.echo(f"    {column}: {render(problem.code, problem.params)}")
    counts = plan.counts
    click.echo(f"{counts['create']} to create, {counts['change']} to change, "
               f"{counts['unchanged']} unchanged, {counts['refused']} refused")  # fmt: skip


def _shown(value: object) -> str:
    if isinstance(value, list | tuple):
        return ", ".join(map(str, value)) or "-"
    return "-" if value in (None, "") else str(value)
