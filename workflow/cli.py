"""The ``banli`` command: set up a database, load definitions, verify the audit trail, print sheets."""

from __future__ import annotations

import sys
from pathlib import Path

import click

from workflow.cli_engine import command_engine
from workflow.cli_items import items
from workflow.cli_jobs import jobs, worker
from workflow.cli_org import org
from workflow.cli_signins import signins
from workflow.errors import BanliError, DefinitionError
from workflow.settings import Settings, SettingsError, describe, load_settings, markdown_table


def _definition_files(paths: tuple[str, ...], settings: Settings) -> list[Path]:
    if paths:
        return [Path(p) for p in paths]
    return sorted(settings.definitions.glob("*.yaml"))


@click.group()
@click.option(
    "--db",
    "url",
    default=None,
    help="Database URL (default: BANLI_DATABASE_URL, else sqlite:///instance/banli.db).",
)
@click.pass_context
def main(ctx: click.Context, url: str | None) -> None:
    """Banli (办理): approval workflows with legal effects and a verifiable audit trail."""
    try:  # the settings are read once, here, and passed down to what each command builds
        settings = load_settings(database_url=url) if url else load_settings()
    except SettingsError as exc:
        raise click.ClickException(f"bad setting: {exc}") from None
    ctx.obj = {"settings": settings}


@main.command("settings")
@click.option("--markdown", is_flag=True, help="Print README's table of every setting instead.")
@click.pass_context
def show_settings(ctx: click.Context, markdown: bool) -> None:
    """Print the settings in effect (BANLI_* variables, --db), secrets masked."""
    if markdown:
        click.echo(markdown_table(), nl=False)
        return
    rows = describe(ctx.obj["settings"])
    width = max(len(name) for name, _, _ in rows)
    for name, value, default in rows:
        click.echo(f"{name.ljust(width)}  {value}{'  (default)' if default else ''}".rstrip())


@main.command()
@click.pass_context
def init(ctx: click.Context) -> None:
    """Create or upgrade the schema, then load the definitions in ./definitions."""
    from workflow import anchors
    from workflow.store.migrate import upgrade

    engine = command_engine(ctx.obj["settings"])
    upgrade(engine.db)
    _load(engine, _definition_files((), engine.settings))
    anchors.seed(engine.db, engine.clock(), engine.tz)  # the daily audit anchor
    click.echo(f"database ready: {engine.db.url.render_as_string(hide_password=True)}")


@main.command()
@click.pass_context
def demo(ctx: click.Context) -> None:
    """Init, then add the demo organisation (30 people, 8 units) and a few flows."""
    from workflow.demo import seed_demo
    from workflow.store.migrate import upgrade

    engine = command_engine(ctx.obj["settings"])
    upgrade(engine.db)
    _load(engine, _definition_files((), engine.settings))
    made = seed_demo(engine)
    click.echo(
        "demo organisation ready" + (f"; {made} demo flows started" if made else " (already there)")
    )


@main.group()
def definitions() -> None:
    """Check and load approval definitions (YAML)."""


@definitions.command("check")
@click.argument("files", nargs=-1, type=click.Path(exists=True, dir_okay=False))
@click.option("--org", "org_check", is_flag=True,
              help="Also check every role, unit and person named against the organisation.")  # fmt: skip
@click.pass_context
def definitions_check(ctx: click.Context, files: tuple[str, ...], org_check: bool) -> None:
    """Validate and lint definition files; print every problem as file:line: message."""
    from workflow.spec.loader import check_files

    paths = _definition_files(files, ctx.obj["settings"])
    problems = check_files(paths)
    if org_check:
        from workflow.org.defcheck import check_org

        engine = command_engine(ctx.obj["settings"])
        problems = list(dict.fromkeys([*problems, *check_org(engine.db, paths)]))
    for p in problems:
        click.echo(p, err=True)
    if problems:
        sys.exit(1)
    click.echo(f"{len(paths)} definition(s) OK")


@definitions.command("load")
@click.argument("files", nargs=-1, type=click.Path(exists=True, dir_okay=False))
@click.pass_context
def definitions_load(ctx: click.Context, files: tuple[str, ...]) -> None:
    """Store definition files as new versions (unchanged files are skipped)."""
    settings = ctx.obj["settings"]
    if not _load(command_engine(settings), _definition_files(files, settings)):
        sys.exit(1)


def _load(engine, paths: list[Path]) -> bool:
    from workflow.engine.registry import load_definition

    ok = True
    for path in paths:
        try:
            got = load_definition(engine.db, path, engine.clock())
        except DefinitionError as exc:
            ok = False
            for p in exc.problems:
                click.echo(p, err=True)
            continue
        status = "loaded as" if got.new else "unchanged,"
        click.echo(f"{path.name}: {got.key} {status} version {got.version}")
    return ok


@main.command()
@click.option("--host", default="127.0.0.1", show_default=True)
@click.option("--port", default=5000, show_default=True, type=int)
@click.pass_context
def serve(ctx: click.Context, host: str, port: int) -> None:
    """Serve the web workbench for development (production: gunicorn, see README)."""
    from web import create_app

    # Development: plain http on this machine, so the session cookie is not Secure-only.
    create_app(ctx.obj["settings"], {"DEVELOPMENT": True}).run(host=host, port=port)


@main.group()
def audit() -> None:
    """The append-only audit trail."""


@audit.command("verify")
@click.option(
    "--anchors", "anchor_file", type=click.Path(exists=True, dir_okay=False),
    help="Also check the database against this anchor file (see `banli audit anchor`).",
)  # fmt: skip
@click.option("--flow", "flow_id", type=click.IntRange(min=1), help="Check this flow's chain only.")
@click.option("--head", help="With --flow: is this chain head (from a printed sheet) the flow's?")
@click.pass_context
def audit_verify(
    ctx: click.Context, anchor_file: str | None, flow_id: int | None, head: str | None
) -> None:
    """Recompute every hash chain, then replay every flow's events against its rows; name each
    broken link and each row or field the events do not bear out.

    With --anchors FILE, also check that every anchored chain head is still there (no flow
    deleted, no chain cut or rewritten) and that the anchors match the file. With --flow N
    --head HEX, say whether HEX is flow N's head now or was at an earlier event.
    """
    from workflow.cli_audit import check_anchor_file, check_flow_paper
    from workflow.integrity import verify_trail

    if head is not None and flow_id is None:
        raise click.UsageError("--head needs --flow: the head of which flow?")
    engine = command_engine(ctx.obj["settings"])
    if flow_id is not None:
        sys.exit(0 if check_flow_paper(engine, flow_id, head) else 1)
    trail = verify_trail(engine.db)
    checked, broken, flows, mismatches = trail.events, trail.broken, trail.flows, trail.mismatches
    for b in broken:
        click.echo(f"BROKEN {b}", err=True)
    for mm in mismatches:
        click.echo(str(mm), err=True)
    if broken or mismatches:
        click.echo(
            f"{len(broken)} broken chain(s), {len(mismatches)} mismatch(es); {checked} events "
            f"checked, {flows} flows replayed against their rows",
            err=True,
        )
    else:
        click.echo(
            f"audit trail intact: {checked} events checked, {flows} flows replayed against "
            "their rows"
        )
    anchored = check_anchor_file(engine, Path(anchor_file)) if anchor_file else True
    if broken or mismatches or not anchored:
        sys.exit(1)


@audit.command("anchor")
@click.pass_context
def audit_anchor(ctx: click.Context) -> None:
    """Anchor every chain's head now: a root appended to BANLI_AUDIT_ANCHOR_FILE (default
    instance/audit-anchors.jsonl) and e-mailed to BANLI_AUDIT_EMAIL when set."""
    from workflow.cli_audit import write_anchor

    write_anchor(command_engine(ctx.obj["settings"]))


@main.command()
@click.argument("flow_id", type=int)
@click.option(
    "-o",
    "--output",
    type=click.Path(dir_okay=False),
    help="Write to a file: PDF if it ends in .pdf.",
)
@click.option(
    "--lang", type=click.Choice(["zh", "en"]), default="zh", show_default=True,
    help="Language of the PDF's labels (the text sheet is Chinese).",
)  # fmt: skip
@click.pass_context
def sheet(ctx: click.Context, flow_id: int, output: str | None, lang: str) -> None:
    """Print the flow sheet (流程单) of FLOW_ID as text, or write it as an A4 PDF (-o FILE.pdf)."""
    from workflow.engine.catalog import compiled
    from workflow.paper import DEFAULT_BASE_URL, verify_url
    from workflow.sheet import render_text

    engine = command_engine(ctx.obj["settings"])
    try:
        rec = engine.history(flow_id)
        spec = compiled(engine, rec.definition_id).spec
    except BanliError as exc:
        raise click.ClickException(str(exc)) from None
    base = engine.settings.base_url or DEFAULT_BASE_URL
    url = verify_url(base, flow_id, rec.audit_head)
    if output and output.lower().endswith(".pdf"):
        from workflow.sheet_pdf import render_pdf

        pdf = render_pdf(rec, spec, engine.stamp, engine.organisation_name(), lang, verify_url=url)
        Path(output).write_bytes(pdf)
        click.echo(f"flow sheet of flow {flow_id} written to {output} (PDF)")
        return
    text = render_text(rec, spec, engine.stamp, engine.organisation_name(), verify_url=url)
    if output:
        Path(output).write_text(text, encoding="utf-8")
        click.echo(f"flow sheet of flow {flow_id} written to {output}")
    else:
        click.echo(text, nl=False)


main.add_command(jobs)
main.add_command(worker)
main.add_command(signins)
main.add_command(org)
main.add_command(items)
