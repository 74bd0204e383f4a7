"""``banli org units``, ``banli org roles`` and ``banli org mobile``: the unit tree, the roles
definitions assign by, and a person's mobile number, from the terminal (Art. 7, 8, 11).

Units are named by code, people by login; every command acts as ``--as LOGIN`` and is checked
against that person's ``people`` scope in the engine, like the pages, and recorded on the admin
chain there.
"""

from __future__ import annotations

from typing import Any

import click

from workflow.cli_org_common import administrator, org_engine, refused
from workflow.errors import BanliError

AS = click.option("--as", "as_login", required=True, metavar="LOGIN",
                  help="The administrator acting (checked against their scope).")  # fmt: skip


def _setup(ctx: click.Context, as_login: str) -> tuple[Any, Any]:
    engine = org_engine(ctx.obj["settings"])
    return engine, administrator(engine, as_login)


def _unit_id(engine: Any, code: str) -> int:
    from workflow.org.units import by_code

    found = by_code(engine.db, [code]).get(code)
    if found is None:
        raise click.ClickException(f"no unit with code {code!r}")
    return found


def _person_id(engine: Any, login: str) -> int:
    return administrator(engine, login).id


@click.group("units")
def units_group() -> None:
    """The unit tree: list, create, rename, move, close; heads."""


@units_group.command("list")
@AS
@click.pass_context
def units_list(ctx: click.Context, as_login: str) -> None:
    """The units you administer, as a tree: code, name, kind, people, closed."""
    from workflow.org.units import tree

    engine, me = _setup(ctx, as_login)
    try:
        nodes = tree(engine.db, me.id)
    except BanliError as exc:
        raise refused(exc) from exc
    for n in nodes:
        closed = f"  closed {engine.stamp(n.closed_at)}" if n.closed_at else ""
        click.echo(f"{'  ' * n.depth}{n.code}  {n.name}  [{n.kind}]  {n.people} people{closed}")


def _run(action: Any, done: str) -> None:
    try:
        action()
    except BanliError as exc:
        raise refused(exc) from exc
    click.echo(done)


@units_group.command("create")
@click.argument("code")
@click.argument("name")
@click.option("--parent", "parent", required=True, metavar="CODE", help="The unit above it.")
@click.option("--kind", default="department", show_default=True,
              type=click.Choice(["company", "department", "project", "branch", "subsidiary"]))  # fmt: skip
@AS
@click.pass_context
def units_create(ctx: click.Context, code: str, name: str, parent: str, kind: str,
                 as_login: str) -> None:  # fmt: skip
    """Create a unit CODE named NAME under --parent."""
    from workflow.org import units

    engine, me = _setup(ctx, as_login)
    parent_id = _unit_id(engine, parent)
    _run(lambda: units.create(engine.db, me.id, code=code, name=name, kind=kind,
                              parent_id=parent_id, now=engine.clock()),
         f"created unit {code} ({name}) under {parent}")  # fmt: skip


@units_group.command("rename")
@click.argument("code")
@click.argument("name")
@AS
@click.pass_context
def units_rename(ctx: click.Context, code: str, name: str, as_login: str) -> None:
    """Give unit CODE the name NAME."""
    from workflow.org import units

    engine, me = _setup(ctx, as_login)
    unit_id = _unit_id(engine, code)
    _run(lambda: units.rename(engine.db, me.id, unit_id, name, engine.clock()),
         f"renamed unit {code} to {name}")  # fmt: skip


@units_group.command("move")
@click.argument("code")
@click.argument("parent")
@AS
@click.pass_context
def units_move(ctx: click.Context, code: str, parent: str, as_login: str) -> None:
    """Move unit CODE (and what is below it) under unit PARENT."""
    from workflow.org import units

    engine, me = _setup(ctx, as_login)
    unit_id, parent_id = _unit_id(engine, code), _unit_id(engine, parent)
    _run(lambda: units.move(engine.db, me.id, unit_id, parent_id, engine.clock()),
         f"moved unit {code} under {parent}")  # fmt: skip


@units_group.command("close")
@click.argument("code")
@AS
@click.pass_context
def units_close(ctx: click.Context, code: str, as_login: str) -> None:
    """Close unit CODE (nobody active or invited left in it, no open unit below)."""
    from workflow.org import units

    engine, me = _setup(ctx, as_login)
    unit_id = _unit_id(engine, code)
    _run(lambda: units.close(engine.db, me.id, unit_id, engine.clock()), f"closed unit {code}")


@units_group.command("head")
@click.argument("code")
@click.argument("login")
@click.option("--unset", is_flag=True, help="Take the head's role away instead.")
@AS
@click.pass_context
def units_head(ctx: click.Context, code: str, login: str, unset: bool, as_login: str) -> None:
    """Make LOGIN a head of unit CODE (or, with --unset, no longer one)."""
    _grant_or_revoke(ctx, code, login, "unit_head", as_login, revoke=unset)


def _grant_or_revoke(ctx: click.Context, code: str, login: str, role: str, as_login: str,
                     *, revoke: bool) -> None:  # fmt: skip
    from workflow.org import roles

    engine, me = _setup(ctx, as_login)
    unit_id, user_id = _unit_id(engine, code), _person_id(engine, login)
    now = engine.clock()
    if revoke:
        _run(lambda: roles.revoke(engine.db, me.id, unit_id, user_id, role, now),
             f"{login} no longer holds {role} in {code}")  # fmt: skip
    else:
        _run(lambda: roles.grant(engine.db, engine.registry, me.id, unit_id, user_id, role, now),
             f"{login} now holds {role} in {code}")  # fmt: skip


@click.group("roles")
def roles_group() -> None:
    """The roles definitions assign by, held by people in units."""


@roles_group.command("list")
@click.option("--unit", "code", metavar="CODE", help="Only the roles held in this unit.")
@AS
@click.pass_context
def roles_list(ctx: click.Context, code: str | None, as_login: str) -> None:
    """The roles you may grant (with their names), then who holds which where."""
    from workflow.org import roles, units

    engine, me = _setup(ctx, as_login)
    try:
        nodes = {n.id: n for n in units.tree(engine.db, me.id)}
    except BanliError as exc:
        raise refused(exc) from exc
    for role in roles.vocabulary_of(engine.db, engine.registry):
        zh, en = roles.LABELS.get(role, (role, role))
        click.echo(f"{role}  {zh}  {en}")
    wanted = [_unit_id(engine, code)] if code else list(nodes)
    click.echo("")
    for unit_id in wanted:
        if unit_id not in nodes:
            raise click.ClickException(f"unit {code} is not in your scope")
        for h in roles.held_in(engine.db, unit_id):
            click.echo(f"{nodes[unit_id].code}  {h.role}  {h.name}")


@roles_group.command("grant")
@click.argument("code")
@click.argument("login")
@click.argument("role")
@AS
@click.pass_context
def roles_grant(ctx: click.Context, code: str, login: str, role: str, as_login: str) -> None:
    """Give LOGIN the role ROLE in unit CODE."""
    _grant_or_revoke(ctx, code, login, role, as_login, revoke=False)


@roles_group.command("revoke")
@click.argument("code")
@click.argument("login")
@click.argument("role")
@AS
@click.pass_context
def roles_revoke(ctx: click.Context, code: str, login: str, role: str, as_login: str) -> None:
    """Take the role ROLE in unit CODE from LOGIN."""
    _grant_or_revoke(ctx, code, login, role, as_login, revoke=True)


@click.group("mobile")
def mobile_group() -> None:
    """A person's mobile number (Art. 8)."""


@mobile_group.command("set")
@click.argument("login")
@click.argument("number")
@AS
@click.pass_context
def mobile_set(ctx: click.Context, login: str, number: str, as_login: str) -> None:
    """Set LOGIN's mobile NUMBER at once (an administrator's change, recorded)."""
    from workflow.org import mobile

    engine, me = _setup(ctx, as_login)
    user_id = _person_id(engine, login)
    try:
        stored = mobile.admin_set(engine.db, me.id, user_id, number, engine.clock())
    except BanliError as exc:
        raise refused(exc) from exc
    click.echo(f"{login}'s mobile number is now {stored}")
