"""``banli jobs`` and ``banli worker``: the due-jobs queue in the terminal, and the worker that runs it."""

from __future__ import annotations

from datetime import datetime
from typing import TYPE_CHECKING

import click

from workflow.cli_engine import command_engine
from workflow.errors import BanliError

if TYPE_CHECKING:
    from workflow.jobs import JobRecord


@click.group()
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

    engine = command_engine(ctx.obj["settings"])
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

    engine = command_engine(ctx.obj["settings"])
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


@click.command()
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
    BANLI_FILES_DIR, default instance/files), `signin_remind` (the daily SMS to people not
    signed in, when an administrator switched it on, see workflow.org.signin_reminders) and the
    built-in `noop`. Jobs of other kinds fail, are retried
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
    from workflow.org import signin_reminders

    settings = ctx.obj["settings"]
    engine = command_engine(settings)
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
    signin_reminders.register(runner, engine)  # signin_remind: daily when switched on
    if once:
        total = RunStats(claimed=runner.batch)
        while total.claimed >= runner.batch:
            stats = runner.run_once()
            total.claimed = stats.claimed
            total.done += stats.done
            total.failed += stats.failed
        click.echo(f"worker {runner.worker_id}: {total.done} done, {total.failed} failed")
        return
    from workflow.heap import settle

    settle()  # a long-running worker: what it loaded stays out of the collector's walks
    stop = threading.Event()
    signal.signal(signal.SIGTERM, lambda *_: stop.set())
    click.echo(f"worker {runner.worker_id} started; Ctrl-C or SIGTERM stops it")
    try:
        runner.run(stop, poll)
    except KeyboardInterrupt:
        stop.set()
    click.echo(f"worker {runner.worker_id} stopped")
