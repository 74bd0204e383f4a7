"""Checking the database against the anchor file: the anchors' own chain, the file's roots, and
every anchored chain head still present as that event with that hash."""

from __future__ import annotations

from collections import defaultdict
from dataclasses import dataclass, field
from itertools import groupby
from pathlib import Path
from typing import Any

from sqlalchemy import and_, func, or_, select
from sqlalchemy.orm import Session

from workflow.anchors import ANCHOR_HEADS, ANCHORS, AnchorLine, anchor_root
from workflow.audit import EVENTS, GENESIS
from workflow.store.db import Database


@dataclass
class AnchorReport:
    """What ``banli audit verify --anchors FILE`` found."""

    anchors: int = 0
    lines: int = 0
    heads: int = 0
    #: anchors in the database after the file's last line (made since that copy of the file)
    not_in_file: list[int] = field(default_factory=list)
    problems: list[str] = field(default_factory=list)


def read_file(path: Path) -> tuple[list[AnchorLine], list[str]]:
    """The file's anchor lines, and a problem for each line that is not one."""
    lines: list[AnchorLine] = []
    problems: list[str] = []
    text = path.read_text(encoding="utf-8", errors="replace")
    for n, raw in enumerate(text.splitlines(), start=1):
        if not raw.strip():
            continue
        try:
            lines.append(AnchorLine.from_json(raw))
        except (ValueError, KeyError, TypeError) as exc:
            problems.append(f"{path}:{n}: not an anchor line ({exc})")
    return lines, problems


def check_anchors(s: Session, lines: list[AnchorLine]) -> AnchorReport:
    """Every check of the anchors: in the database, against the file's ``lines``, against the events."""
    report = AnchorReport(lines=len(lines))
    stored = {
        a.seq: a for a in map(AnchorLine.of, s.execute(select(ANCHORS).order_by(ANCHORS.c.seq)))
    }
    report.anchors = len(stored)
    report.problems += _chain_of_anchors(s, stored)
    report.problems += _against_file(stored, lines, report)
    report.problems += _against_events(s, stored, report)
    return report


def _label(stored: dict[int, AnchorLine], seq: int) -> str:
    return stored[seq].label() if seq in stored else f"anchor {seq}"


def _chain_of_anchors(s: Session, stored: dict[int, AnchorLine]) -> list[str]:
    """Each anchor links to the one before, and its stored heads give its stored root.

    The heads are streamed anchor by anchor (a year of anchors may hold a million of them).
    """
    stmt = select(ANCHOR_HEADS).order_by(ANCHOR_HEADS.c.anchor_seq, ANCHOR_HEADS.c.chain)
    groups = groupby(s.execute(stmt.execution_options(yield_per=5000)), lambda r: r.anchor_seq)
    group = next(groups, None)
    problems = []
    prev, expected = GENESIS, 1
    for seq, a in stored.items():
        while group is not None and group[0] < seq and group[0] not in stored:
            problems.append(f"anchor {group[0]}: heads stored for an anchor that is not there")
            group = next(groups, None)
        mine: list[tuple[str, int, str]] = []
        if group is not None and group[0] == seq:
            mine = [(row.chain, row.seq, row.head) for row in group[1]]
            group = next(groups, None)
        if seq != expected:
            problems.append(f"anchor {expected}: missing from the database (next is {seq})")
        if a.prev != prev:
            problems.append(f"{a.label()}: does not link to the anchor before it")
        if len(mine) != a.chains:
            problems.append(f"{a.label()}: records {a.chains} chain(s), {len(mine)} are stored")
        if anchor_root(a.prev, seq, a.at, a.day, mine) != a.root:
            problems.append(f"{a.label()}: its stored heads do not give its root (changed)")
        prev, expected = a.root, seq + 1
    return problems


def _against_file(
    stored: dict[int, AnchorLine], lines: list[AnchorLine], report: AnchorReport
) -> list[str]:
    """Every file line has its anchor in the database, with the same root, time and links."""
    problems = []
    seen: set[int] = set()
    for line in lines:
        seen.add(line.seq)
        mine = stored.get(line.seq)
        if mine is None:
            problems.append(f"{line.label()}: in the file, missing from the database")
            continue
        if mine.root != line.root:
            problems.append(f"anchor {line.seq}: root in file differs from database")
        for name in ("at", "day", "chains", "prev"):
            if getattr(mine, name) != getattr(line, name):
                problems.append(f"{line.label()}: {name} in file differs from database")
    last = max(seen, default=0)
    for seq in stored:
        if seq <= last and seq not in seen:
            problems.append(f"{stored[seq].label()}: in the database, missing from the file")
        elif seq > last:
            report.not_in_file.append(seq)
    return problems


def _against_events(s: Session, stored: dict[int, AnchorLine], report: AnchorReport) -> list[str]:
    """Every anchored (chain, seq, head) is still that chain's event seq with that hash.

    The database compares (one join on the events' unique (chain, seq) index); only mismatches
    come back. A chain is named once, at the first anchor it fails, with how many more do.
    """
    h, e = ANCHOR_HEADS, EVENTS
    joined = h.outerjoin(e, and_(e.c.chain == h.c.chain, e.c.seq == h.c.seq))
    report.heads = s.scalar(select(func.count()).select_from(h)) or 0
    stmt = (
        select(h.c.anchor_seq, h.c.chain, h.c.seq, h.c.head, e.c.hash)
        .select_from(joined)
        .where(or_(e.c.hash.is_(None), e.c.hash != h.c.head))
        .order_by(h.c.chain, h.c.anchor_seq)
    )
    found: dict[str, list[Any]] = defaultdict(list)
    for row in s.execute(stmt):
        found[row.chain].append(row)
    problems = []
    for chain, rows in found.items():
        first = rows[0]
        if first.hash is None:
            what = f"event seq {first.seq} is gone (chain cut or flow deleted)"
        else:
            what = (
                f"event seq {first.seq} has hash {first.hash[:12]}…, anchored "
                f"{first.head[:12]}… (rewritten)"
            )
        more = f" (and in {len(rows) - 1} later anchor(s))" if len(rows) > 1 else ""
        problems.append(f"{_label(stored, first.anchor_seq)}: {chain}: {what}{more}")
    return problems


def check_anchors_in(db: Database, lines: list[AnchorLine]) -> AnchorReport:
    """:func:`check_anchors` in a read transaction of its own (``banli audit verify --anchors``)."""
    with db.read() as s:
        return check_anchors(s, lines)
