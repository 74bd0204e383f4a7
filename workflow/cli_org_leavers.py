"""``banli org people move`` and ``banli org people remove``: moving a person, removing a leaver.

Both run ``workflow.org.leavers`` as the administrator ``--as LOGIN`` names, within that
person's ``people`` scope, and print what was handed to whom.
"""

from __future__ import annotations

import click

from workflow.cli_org_common import administrator, org_engine, refused
from workflow.errors import BanliError, FormInvalid
from workflow.org import leavers
from workflow.org.leavers import Result


def _person_id(engine, login: str) -> int:  # type: ignore[no-untyped-def]
    found = engine.person(login)
    if found is None:
        raise click.ClickException(f"no user with login {login!r}")
    return int(found.id)


def _form_refused(exc: FormInvalid) -> click.ClickException:
    said = "; ".join(f"{field}: {message}" for field, message in exc.errors.items())
    return click.ClickException(said)


def _print_handed(result: Result) -> None:
    for h in result.handed:
        kept = " (successor already held this part: kept theirs)" if h.kept else ""
        click.echo(
            f"  flow {h.flow_id} {h.title} · {h.step_name} · {h.role}: "
            f"item {h.old_item} → item {h.new_item}{kept}"
        )


@click.command("move")
@click.argument("login")
@click.option("--unit", "unit", required=True, help="The code of the unit to move them to.")
@click.option("--reassign-to", "successor", default=None,
              help="Hand all their open work items to this person (login).")  # fmt: skip
@click.option("--as", "actor", required=True, help="The administrator doing it (login).")
@click.pass_context
def move(ctx: click.Context, login: str, unit: str, successor: str | None, actor: str) -> None:
    """Move LOGIN to another unit; their open items stay theirs unless --reassign-to is given."""
    engine = org_engine(ctx.obj["settings"])
    admin = administrator(engine, actor)
    person_id = _person_id(engine, login)
    try:
        items = None
        successor_id = None
        if successor is not None:
            successor_id = _person_id(engine, successor)
            items = [i.item_id for i in leavers.plan(engine, admin.id, person_id).items]
        result = leavers.move(engine, admin.id, person_id, unit, at=engine.clock(),
                              successor_id=successor_id, items=items)  # fmt: skip
    except FormInvalid as exc:
        raise _form_refused(exc) from None
    except BanliError as exc:
        raise refused(exc) from None
    click.echo(
        f"moved {result.person.name} ({login}): {result.unit_before} → {result.unit_after}; "
        f"{len(result.handed)} open work items reassigned"
    )
    _print_handed(result)


@click.command("remove")
@click.argument("login")
@click.option("--successor", default=None,
              help="Who takes over their open work items (login); required if they have any.")  # fmt: skip
@click.option("--as", "actor", required=True, help="The administrator doing it (login).")
@click.pass_context
def remove(ctx: click.Context, login: str, successor: str | None, actor: str) -> None:
    """Remove the leaver LOGIN: sessions ended, sign-in refused, open items to the successor."""
    engine = org_engine(ctx.obj["settings"])
    admin = administrator(engine, actor)
    person_id = _person_id(engine, login)
    try:
        successor_id = None if successor is None else _person_id(engine, successor)
        result = leavers.remove(engine, admin.id, person_id, successor_id, at=engine.clock())
    except FormInvalid as exc:
        raise _form_refused(exc) from None
    except BanliError as exc:
        raise refused(exc) from None
    click.echo(
        f"removed {result.person.name} ({login}): {result.sessions_ended} sessions ended, "
        f"{len(result.handed)} open work items reassigned"
    )
    _print_handed(result)
    for fid, title in result.started:
        click.echo(f"  still open, started by them: flow {fid} {title}")
    for where in result.definitions:
        click.echo(f"  needs attention: {where} names {login}")


def attach(org: click.Group) -> None:
    """Add ``move`` and ``remove`` to ``banli org people`` (the people area's group if it is
    attached already, else a ``people`` group of their own)."""
    group = org.commands.get("people")
    if not isinstance(group, click.Group):
        group = click.Group("people", help="People: enrol, import, move, remove.")
        org.add_command(group)
    group.add_command(move)
    group.add_command(remove)
