"""``banli items``: a person's work from the command line (the workbench's CSV export)."""

from __future__ import annotations

import sys
from pathlib import Path

import click

from workflow.cli_engine import command_engine


@click.group()
def items() -> None:
    """A person's work items: the workbench's tabs."""


@items.command("export")
@click.option("--as", "login", required=True, help="Login of the person whose work it is.")
@click.option(
    "--output", "-o", type=click.Path(dir_okay=False, path_type=Path),
    help="File to write (default: standard output).",
)  # fmt: skip
@click.option("--lang", type=click.Choice(["zh", "en"]), default="zh", show_default=True)
@click.pass_context
def items_export(ctx: click.Context, login: str, output: Path | None, lang: str) -> None:
    """Every row of every workbench tab of LOGIN as CSV, as GET /workbench/export.csv gives it."""
    from workflow.engine.workexport import csv_pieces

    engine = command_engine(ctx.obj["settings"])
    user = engine.person(login)
    if user is None:
        raise click.ClickException(f"no user with login {login!r}")
    pieces = csv_pieces(engine.export_rows(user.id), engine.tz, lang)
    if output is None:
        for piece in pieces:
            sys.stdout.write(piece)
        return
    with output.open("w", encoding="utf-8", newline="") as f:
        for piece in pieces:
            f.write(piece)
    click.echo(f"written to {output}", err=True)
