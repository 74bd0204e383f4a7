"""What every ``banli org`` command shares: its engine, its administrator, its refusals."""

from __future__ import annotations

import click

from workflow.errors import BanliError
from workflow.settings import Settings


def org_engine(settings: Settings):  # type: ignore[no-untyped-def]
    """The engine the org commands run on (settings read once by ``banli``)."""
    from workflow.cli_engine import command_engine

    return command_engine(settings)


def administrator(engine, login: str):  # type: ignore[no-untyped-def]
    """The person ``--as LOGIN`` names, or a ClickException saying there is nobody by that login."""
    person = engine.person(login)
    if person is None:
        raise click.ClickException(f"no user with login {login!r}")
    return person


def refused(exc: BanliError) -> click.ClickException:
    """A refusal as the terminal says it: the engine's sentence, exit status 1."""
    return click.ClickException(str(exc))
