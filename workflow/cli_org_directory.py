"""``banli org directory``: the directory's administrator command — hide or show a person's
mobile number to everyone outside chosen units (Art. 5, 21), checked against the scope of the
administrator named by ``--as`` like the privacy page."""

from __future__ import annotations

import click

from workflow.cli_org_common import administrator, org_engine, refused
from workflow.errors import BanliError, FormInvalid
from workflow.org import privacy


@click.group("directory")
def directory() -> None:
    """The directory (通讯录): mobile-number privacy."""


@directory.command("privacy")
@click.argument("login")
@click.option("--hide/--show", "hide", default=None,
              help="Hide the mobile from everyone outside the chosen units, or show it to all.")  # fmt: skip
@click.option("--viewers", default=None,
              help="Comma-separated unit codes whose people (and those below) still see it; "
                   "'' for none. Unchanged when left out.")  # fmt: skip
@click.option("--as", "as_login", required=True, help="Login of the administrator.")
@click.pass_context
def privacy_command(ctx: click.Context, login: str, hide: bool | None, viewers: str | None,
                    as_login: str) -> None:  # fmt: skip
    """Show, or change, who sees the mobile of LOGIN (recorded on the admin chain)."""
    engine = org_engine(ctx.obj["settings"])
    actor = administrator(engine, as_login)
    person = engine.person(login)
    if person is None:
        raise click.ClickException(f"no user with login {login!r}")
    try:
        current = privacy.privacy_of(engine.db, actor.id, person.id)
        if hide is not None or viewers is not None:
            units = ([u.id for u in current.viewers] if viewers is None
                     else privacy.units_by_code(engine.db, viewers.split(",")))  # fmt: skip
            current = privacy.set_privacy(
                engine.db, actor.id, person.id, at=engine.clock(), viewer_ids=units,
                hidden=current.hidden if hide is None else hide,
            )  # fmt: skip
            if not current.changed:
                click.echo("nothing changed")
    except FormInvalid as exc:
        raise click.ClickException(f"--viewers {exc.errors['viewers']}") from None
    except BanliError as exc:
        raise refused(exc) from None
    state = "hidden" if current.hidden else "visible to all staff"
    chosen = ", ".join(f"{u.code} ({u.name})" for u in current.viewers) or "none"
    click.echo(f"{current.name} ({login}): mobile {state}; units that see it when hidden: {chosen}")
