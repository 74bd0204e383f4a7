"""``banli signins``: refused sign-ins and current locks in the terminal, and lifting a lock."""

from __future__ import annotations

import click

from workflow.errors import BanliError
from workflow.settings import Settings

AGENT_WIDTH = 40


def _engine(settings: Settings):
    from workflow.engine import Engine
    from workflow.store.db import Database

    db = Database(settings.database_url, lock_timeout=settings.lock_timeout)
    return Engine(db, settings=settings)


def _table(header: tuple[str, ...], rows: list[tuple[str, ...]]) -> None:
    widths = [max(len(r[i]) for r in (header, *rows)) for i in range(len(header) - 1)]
    for row in (header, *rows):
        cells = [cell.ljust(width) for cell, width in zip(row, widths, strict=False)]
        click.echo("  ".join([*cells, row[-1]]).rstrip())


@click.group()
def signins() -> None:
    """Sign-in security: refused sign-ins, waiting and locked logins and addresses."""


@signins.command("list")
@click.option("--limit", default=50, show_default=True, type=click.IntRange(min=1))
@click.pass_context
def signins_list(ctx: click.Context, limit: int) -> None:
    """The logins and addresses that must wait or are locked, then the newest refused sign-ins."""
    from workflow.signin import current_waits, recent_attempts

    engine = _engine(ctx.obj["settings"])
    now = engine.clock()
    waits = current_waits(engine.db, now)
    if waits:
        rows = [(w.scope, w.key, str(w.failures), "locked" if w.locked else "waits",
                 engine.stamp(w.until)) for w in waits]  # fmt: skip
        _table(("SCOPE", "KEY", "FAILURES", "STATE", "UNTIL (local)"), rows)
    else:
        click.echo("nobody is waiting or locked")
    click.echo("")
    attempts = recent_attempts(engine.db, limit)
    if not attempts:
        click.echo("no refused sign-ins")
        return
    rows = [
        (engine.stamp(a.at), repr(a.login)[1:-1], a.user_name or "-", a.address or "-", a.reason,
         (a.user_agent or "-")[:AGENT_WIDTH])
        for a in attempts
    ]  # fmt: skip
    _table(("AT (local)", "LOGIN AS TYPED", "PERSON", "ADDRESS", "REASON", "USER AGENT"), rows)


@signins.command("unlock")
@click.argument("scope", type=click.Choice(["account", "address"]))
@click.argument("key")
@click.option("--as", "login", required=True, help="Login of the administrator lifting it.")
@click.pass_context
def signins_unlock(ctx: click.Context, scope: str, key: str, login: str) -> None:
    """Forget the failures of login (account) or address KEY: it may sign in again now (audited)."""
    from workflow.signin import lift

    engine = _engine(ctx.obj["settings"])
    user = engine.person(login)
    if user is None:
        raise click.ClickException(f"no user with login {login!r}")
    try:
        lifted = lift(engine.db, scope, key, user.id, engine.clock())
    except BanliError as exc:
        raise click.ClickException(str(exc)) from None
    click.echo(f"{scope} {key} may sign in again now ({lifted.failures} failures forgotten); "
               f"lifted by {user.name} ({login})")  # fmt: skip
