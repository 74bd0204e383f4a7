"""``banli org admins``: the administrators from the terminal (Art. 29-31) — list them, appoint
a sub-administrator with ``--grant CAPABILITY@UNIT_CODE``, change a scope, revoke, transfer the
main role, read the admin log. Listing, appointing, changing, revoking and transferring are the
main administrator's; the log is read in the ``--as`` person's scope, as on the page."""

from __future__ import annotations

import click

from workflow.cli_org_common import administrator, org_engine, refused
from workflow.errors import BanliError, FormInvalid
from workflow.org import admins as engine_admins
from workflow.org.adminlog_view import read_log


def _pairs(grants: tuple[str, ...]) -> list[tuple[str, int | str]]:
    """``people@finance`` → ("people", "finance"); a malformed one is a usage error."""
    out: list[tuple[str, int | str]] = []
    for grant in grants:
        capability, sep, unit = grant.partition("@")
        if not sep or not capability or not unit:
            raise click.BadParameter(f"{grant!r} is not CAPABILITY@UNIT_CODE", param_hint="--grant")
        out.append((capability, unit))
    return out


def _said(exc: BanliError) -> click.ClickException:
    """A refusal, with each bad field on its own line."""
    if isinstance(exc, FormInvalid):
        lines = [f"{field}: {problem}" for field, problem in exc.errors.items()]
        return click.ClickException("\n".join(lines))
    return refused(exc)


def _grants_line(grants: list[dict]) -> str:
    return ", ".join(f"{g['capability']}@{g['unit_name']}" for g in grants) or "nothing"


def _value(value: object) -> str:
    """A before/after value on one line: grants as CAPABILITY@UNIT, a person by name."""
    if isinstance(value, list) and all(isinstance(g, dict) and "capability" in g for g in value):
        return "[" + ", ".join(f"{g['capability']}@{g.get('unit_name')}" for g in value) + "]"
    if isinstance(value, dict) and "name" in value:
        return str(value["name"])
    return "-" if value is None else str(value)


@click.group("admins")
def admins() -> None:
    """The main administrator and the sub-administrators (Art. 29-31)."""


@admins.command("list")
@click.option("--as", "login", required=True, help="Login of the main administrator.")
@click.pass_context
def admins_list(ctx: click.Context, login: str) -> None:
    """The main administrator, then each sub-administrator with their scope."""
    engine = org_engine(ctx.obj["settings"])
    actor = administrator(engine, login)
    try:
        listed = engine_admins.administrators(engine.db, actor.id)
    except BanliError as exc:
        raise _said(exc) from None
    if listed.main:
        click.echo(f"main  {listed.main.login:<14} {listed.main.name}  ({listed.main.unit})")
    for a in listed.subs:
        scope = ", ".join(f"{g.capability}@{g.unit_name}" for g in a.grants)
        state = "" if a.counts else f"  [{a.status}: grants do not count]"
        click.echo(f"sub   {a.login:<14} {a.name}  ({a.unit})  {scope}{state}")


@admins.command("appoint")
@click.argument("person")
@click.option(
    "--grant", "grants", multiple=True, required=True, help="CAPABILITY@UNIT_CODE (repeatable)."
)
@click.option("--as", "login", required=True, help="Login of the main administrator.")
@click.pass_context
def admins_appoint(ctx: click.Context, person: str, grants: tuple[str, ...], login: str) -> None:
    """Give PERSON (a login) the granted capabilities, each over a unit's subtree."""
    engine = org_engine(ctx.obj["settings"])
    actor = administrator(engine, login)
    try:
        after = engine_admins.appoint(engine.db, actor.id, person, _pairs(grants), engine.clock())
    except BanliError as exc:
        raise _said(exc) from None
    click.echo(f"{person} now administers: {_grants_line(after)}")


@admins.command("change")
@click.argument("person")
@click.option("--add", "adding", multiple=True, help="CAPABILITY@UNIT_CODE to add.")
@click.option("--remove", "removing", multiple=True, help="CAPABILITY@UNIT_CODE to remove.")
@click.option("--as", "login", required=True, help="Login of the main administrator.")
@click.pass_context
def admins_change(
    ctx: click.Context, person: str, adding: tuple[str, ...], removing: tuple[str, ...], login: str
) -> None:
    """Add and remove grants of the sub-administrator PERSON in one act."""
    engine = org_engine(ctx.obj["settings"])
    actor = administrator(engine, login)
    try:
        after = engine_admins.change_scope(engine.db, actor.id, person, add=_pairs(adding),
                                           remove=_pairs(removing), now=engine.clock())  # fmt: skip
    except BanliError as exc:
        raise _said(exc) from None
    click.echo(f"{person} now administers: {_grants_line(after)}")


@admins.command("revoke")
@click.argument("person")
@click.option("--as", "login", required=True, help="Login of the main administrator.")
@click.pass_context
def admins_revoke(ctx: click.Context, person: str, login: str) -> None:
    """Take every grant from the sub-administrator PERSON."""
    engine = org_engine(ctx.obj["settings"])
    actor = administrator(engine, login)
    try:
        held = engine_admins.revoke(engine.db, actor.id, person, engine.clock())
    except BanliError as exc:
        raise _said(exc) from None
    click.echo(f"{person} administers nothing now (held: {_grants_line(held)})")


@admins.command("transfer")
@click.argument("person")
@click.option("--as", "login", required=True, help="Login of the main administrator.")
@click.pass_context
def admins_transfer(ctx: click.Context, person: str, login: str) -> None:
    """Make PERSON the main administrator; the --as person then administers nothing."""
    engine = org_engine(ctx.obj["settings"])
    actor = administrator(engine, login)
    try:
        engine_admins.transfer_main(engine.db, actor.id, person, engine.clock())
    except BanliError as exc:
        raise _said(exc) from None
    click.echo(f"{person} is the main administrator now; {login} administers nothing")


@admins.command("log")
@click.option("--kind", default=None, help="Only events of this kind (admin_appoint …).")
@click.option("--by", "actor", default=None, help="Only acts by this login.")
@click.option("--limit", default=50, show_default=True, type=click.IntRange(1, 1000))
@click.option("--as", "login", required=True, help="Login of the reader (their scope applies).")
@click.pass_context
def admins_log(
    ctx: click.Context, kind: str | None, actor: str | None, limit: int, login: str
) -> None:
    """The admin log newest first, in the --as person's scope; one line per act."""
    engine = org_engine(ctx.obj["settings"])
    reader = administrator(engine, login)
    try:
        page = read_log(engine.db, reader.id, kind=kind, actor=actor, limit=limit, tz=engine.tz)
    except BanliError as exc:
        raise _said(exc) from None
    for e in page.entries:
        about = e.target.get("name") or "-"
        changes = "; ".join(
            f"{c.field}: {_value(c.before)} -> {_value(c.after)}" for c in e.changes
        )
        click.echo(f"{engine.stamp(e.at)}  #{e.seq:<5} {e.kind:<20} {e.actor_name or '-'}"
                   f"  {about}  {changes}".rstrip())  # fmt: skip
