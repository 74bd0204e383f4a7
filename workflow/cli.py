"""The ``banli`` command: set up a database, load definitions, verify the audit trail, print sheets."""

from __future__ import annotations

import sys
from datetime import datetime
from pathlib import Path
from typing import TYPE_CHECKING

import click

from workflow.cli_signins import signins
from workflow.errors import BanliError, DefinitionError
from workflow.settings import Settings, SettingsError, describe, load_settings, markdown_table

if TYPE_CHECKING:
    from workflow.jobs import JobRecord


def _engine(settings: Settings):
    from workflow.engine import Engine
    from workflow.store.db import Database

    # the worker and the command line may wait longer for a lock than a web request
    engine = Engine(
        Database(settings.database_url, lock_timeout=settings.lock_timeout), settings=settings
    )
    ctx = click.get_current_context(silent=True)
    if ctx is not None:  # the command closes its connections when it is done
        ctx.call_on_close(engine.db.dispose)
    return engine


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

    engine = _engine(ctx.obj["settings"])
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

    engine = _engine(ctx.obj["settings"])
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
@click.pass_context
def definitions_check(ctx: click.Context, files: tuple[str, ...]) -> None:
    """Validate and lint definition files; print every problem as file:line: message."""
    from workflow.spec.loader import check_files

    paths = _definition_files(files, ctx.obj["settings"])
    problems = check_files(paths)
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
    if not _load(_engine(settings), _definition_files(files, settings)):
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
    engine = _engine(ctx.obj["settings"])
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

    write_anchor(_engine(ctx.obj["settings"]))


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

    engine = _engine(ctx.obj["settings"])
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


@main.group()
def jobs() -> None:
    """The due-jobs queue: list jobs, retry dead-lettered ones."""


ERROR_WIDTH = 60


@jobs.command("list")
@click.option(
    "--status", type=click.Choice(["dead", "pending", "running", "done"]), default=None,
    help="Only jobs in this state (default: all, newest first).",
)  # fmt: skip
@click.option("--limit", default=50, show_default=True, type=click.IntRange(min=1))
@click.pass_context
def jobs_list(ctx: click.Context, status: str | None, limit: int) -> None:
    """List jobs: id, kind, key, attempts/max, due (or done) time and the last error."""
    from workflow.jobs import job_counts, list_jobs

    engine = _engine(ctx.obj["settings"])
    found = list_jobs(engine.db, status, limit)
    counts = job_counts(engine.db)
    click.echo(", ".join(f"{n} {name}" for name, n in counts.items()))
    if not found:
        click.echo(f"no {status} jobs" if status else "no jobs")
        return
    header = ("ID", "STATUS", "KIND", "KEY", "ATTEMPTS", "DUE/DONE (local)", "LAST ERROR")
    rows = [
        (
            str(job.id),
            job.status,
            job.kind,
            job.key,
            f"{job.attempts}/{job.max_attempts}",
            engine.stamp(_when(job)),
            _one_line(job.last_error),
        )
        for job in found
    ]
    widths = [max(len(r[i]) for r in (header, *rows)) for i in range(len(header) - 1)]
    for row in (header, *rows):
        cells = [cell.ljust(width) for cell, width in zip(row, widths, strict=False)]
        click.echo("  ".join([*cells, row[-1]]).rstrip())


def _when(job: JobRecord) -> datetime:
    """When a finished (done or dead) job ended, else when it is due."""
    return job.done_at if job.status in ("done", "dead") and job.done_at else job.due_at


def _one_line(error: str | None) -> str:
    """An error's first line, cut to ERROR_WIDTH characters."""
    if not error:
        return ""
    lines = error.strip().splitlines()
    line = lines[0] if lines else ""
    if len(line) > ERROR_WIDTH or len(lines) > 1:
        return line[: ERROR_WIDTH - 1] + "…"
    return line


@jobs.command("retry")
@click.argument("job_id", type=int)
@click.option("--as", "login", required=True, help="Login of the administrator retrying it.")
@click.pass_context
def jobs_retry(ctx: click.Context, job_id: int, login: str) -> None:
    """Run a dead-lettered job JOB_ID again (recorded on the admin audit chain)."""
    from workflow.jobs import retry

    engine = _engine(ctx.obj["settings"])
    user = engine.person(login)
    if user is None:
        raise click.ClickException(f"no user with login {login!r}")
    if not user.admin:
        raise click.ClickException(f"{login} ({user.name}) is not an active administrator")
    try:
        job = retry(engine.db, job_id, user.id, engine.clock())
    except BanliError as exc:
        raise click.ClickException(str(exc)) from None
    click.echo(
        f"job {job.id} ({job.kind} {job.key}) is pending again, due now; "
        f"retried by {user.name} ({login})"
    )


@main.command()
@click.option("--once", is_flag=True, help="Run the jobs due now, then exit.")
@click.option(
    "--poll", default=5.0, show_default=True, type=float,
    help="Seconds to wait when no job is due.",
)  # fmt: skip
@click.pass_context
def worker(ctx: click.Context, once: bool, poll: float) -> None:
    """Run due jobs (deadlines, reminders); several workers may share one database.

    Handled job kinds: `deliver` (SMS / voice / e-mail through the channels configured by the
    BANLI_SMTP_* and BANLI_OUTBOX environment variables, see workflow.channels), `remind` and
    `timeout` (a step's reminder before its deadline and its on_timeout action, see
    workflow.engine.timeouts), `anchor` (the daily audit anchor, see workflow.anchors; queued at
    every start), `sweep_uploads` (daily: removes stored files that no flow or message refers
    to a day after their last upload, see workflow.uploads; the files are under
    BANLI_FILES_DIR, default instance/files) and the built-in `noop`. Jobs of other kinds fail, are retried
    with back-off and end up dead-lettered.
    """
    import signal
    import threading

    from workflow import anchors, messages, uploads
    from workflow.channels import channels_from_settings
    from workflow.delivery import KIND as DELIVER
    from workflow.delivery import make_deliver_handler
    from workflow.engine import timeouts
    from workflow.jobs import RunStats, Worker

    settings = ctx.obj["settings"]
    engine = _engine(settings)
    runner = Worker.of(engine.db, settings)  # BANLI_JOB_BATCH / _LEASE / _HEARTBEAT
    # a DING's delivery or failure is recorded on its message (receipts: delivered / failed)
    hooks = messages.delivery_hooks(engine)
    channels = channels_from_settings(settings)
    runner.handler(DELIVER)(make_deliver_handler(runner.db, channels, **hooks))
    runner.on_dead[DELIVER] = hooks["on_failed"]  # a worker died on its last attempt
    timeouts.register(runner, engine)  # remind, timeout: step deadlines
    anchoring = anchors.AnchorSettings.of(settings)
    runner.handler(anchors.KIND)(
        anchors.make_anchor_handler(runner.db, engine.tz, anchoring, engine.clock)
    )
    anchors.seed(runner.db, engine.clock(), engine.tz)  # the next daily anchor is always queued
    uploads.register(runner, engine)  # sweep_uploads: daily, files nothing refers to
    if once:
        total = RunStats(claimed=runner.batch)
        while total.claimed >= runner.batch:
            stats = runner.run_once()
            total.claimed = stats.claimed
            total.done += stats.done
            total.failed += stats.failed
        click.echo(f"worker {runner.worker_id}: {total.done} done, {total.failed} failed")
        return
    stop = threading.Event()
    signal.signal(signal.SIGTERM, lambda *_: stop.set())
    click.echo(f"worker {runner.worker_id} started; Ctrl-C or SIGTERM stops it")
    try:
        runner.run(stop, poll)
    except KeyboardInterrupt:
        stop.set()
    click.echo(f"worker {runner.worker_id} stopped")


main.add_command(signins)
