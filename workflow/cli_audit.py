"""The parts of ``banli audit`` beyond the chains: anchors (write, check a file) and the paper check."""

from __future__ import annotations

from pathlib import Path
from typing import TYPE_CHECKING

import click

if TYPE_CHECKING:
    from workflow.engine import Engine


def write_anchor(engine: Engine) -> None:
    """``banli audit anchor``: one anchor now, appended to the file, its e-mails queued."""
    from workflow.anchors import AnchorSettings, anchor_now

    settings = AnchorSettings.of(engine.settings)
    line = anchor_now(engine.db, engine.clock(), engine.tz, settings)
    click.echo(f"{line.label()}: {line.chains} chain head(s) recorded, root {line.root}")
    click.echo(f"appended to {settings.file}")
    if settings.emails:
        click.echo(f"e-mail to {', '.join(settings.emails)} queued (banli worker sends it)")


def check_anchor_file(engine: Engine, path: Path) -> bool:
    """Check the database against an anchor file; print each problem; True if there is none."""
    from workflow.anchor_check import check_anchors_in, read_file

    lines, problems = read_file(path)
    report = check_anchors_in(engine.db, lines)
    problems += report.problems
    for problem in problems:
        click.echo(problem, err=True)
    summary = (
        f"{report.lines} line(s) in {path}, {report.anchors} anchor(s) in the database, "
        f"{report.heads} anchored head(s) checked"
    )
    if report.not_in_file:
        newer = ", ".join(map(str, report.not_in_file))
        click.echo(
            f"anchor(s) {newer}: newer than the file's last line, checked in the database only"
        )
    if problems:
        click.echo(f"{len(problems)} anchor problem(s); {summary}", err=True)
        return False
    if not lines:
        click.echo(f"{path} has no anchor line: nothing outside the database to compare", err=True)
        return False
    click.echo(f"anchors intact: {summary}")
    return True


def check_flow_paper(engine: Engine, flow_id: int, head: str | None) -> bool:
    """``banli audit verify --flow N [--head HEX]``: that flow's chain, and where HEX stands in it."""
    from workflow.errors import NotFound
    from workflow.paper import check as check_paper

    try:
        check = check_paper(engine.db, flow_id, head or "")
    except NotFound as exc:
        raise click.ClickException(str(exc)) from None
    ok = check.intact
    if check.chain_problem:
        click.echo(f"BROKEN {check.chain_problem}", err=True)
    for problem in check.problems:
        click.echo(problem, err=True)
    if ok:
        click.echo(f"flow {flow_id}: audit chain intact")
    if head is None:
        return ok
    shown = check.head[:16] + ("…" if len(check.head) > 16 else "")
    if check.found is None:
        click.echo(
            f"{shown} is not in flow {flow_id}'s chain: the sheet may have been altered", err=True
        )
        return False
    ev = check.found
    where = f"event {ev.seq} ({ev.kind}, {engine.local(ev.at)})"
    if check.current:
        click.echo(f"{shown} is flow {flow_id}'s head now: the head after {where}")
    else:
        kinds = ", ".join(e.kind for e in check.since)
        click.echo(
            f"{shown} was flow {flow_id}'s head after {where}; "
            f"{len(check.since)} event(s) since: {kinds}"
        )
    return ok
