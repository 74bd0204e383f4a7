"""Benchmark: the cost of audit anchors at N flows (``python bench/anchors.py [N] [EVENTS]``).

N flows of EVENTS events each are written straight into a SQLite file database (valid chains
made with ``workflow.audit.chain_rows``; the anchors read only heads and events, so the flows need
no visits or work items). Timed, once each (a daily job, not a hot path): the first anchor over
every chain, a second one after 1 % of the flows moved on, ``check_anchors`` against the file,
and for comparison ``verify_all`` (every chain recomputed). Prints seconds; asserts nothing.
"""

from __future__ import annotations

import sys
import tempfile
import time
from datetime import UTC, datetime, timedelta
from pathlib import Path
from zoneinfo import ZoneInfo

from common import fig, header, record, setup
from sqlalchemy import insert, update

from workflow.anchor_check import check_anchors, read_file
from workflow.anchors import AnchorSettings, anchor_now
from workflow.audit import EVENTS, GENESIS, PendingEvent, chain_rows, verify_all
from workflow.store.models import Flow

FLOWS = Flow.__table__
TZ = ZoneInfo("Asia/Shanghai")
START = datetime(2026, 3, 2, 1, 0, tzinfo=UTC)


def _events(n: int, at: datetime) -> list[PendingEvent]:
    return [
        PendingEvent(at + timedelta(seconds=i), 7, "王芳", "confirm", {"item": i, "step": "draft"})
        for i in range(n)
    ]


def build(path: Path, flows: int, per_flow: int) -> tuple:
    made = setup(path)
    db = made.db
    with db.write() as s:
        for start in range(0, flows, 1000):
            rows, heads = [], []
            ids = s.execute(
                insert(FLOWS).returning(FLOWS.c.id),
                [dict(definition_id=made.contract_version, title=f"合同 {i}", kind="approval",
                      form={}, initiator_id=1, state="ended", started_at=START, version=1,
                      audit_seq=0, audit_head="") for i in range(start, min(start + 1000, flows))],
            ).scalars().all()  # fmt: skip
            for fid in ids:
                chain, seq, head = chain_rows(
                    f"flow:{fid}", fid, 0, GENESIS, _events(per_flow, START)
                )
                rows += chain
                heads.append({"b_id": fid, "seq": seq, "head": head})
            s.execute(insert(EVENTS), rows)
            for h in heads:
                s.execute(update(FLOWS).where(FLOWS.c.id == h["b_id"]).values(
                    audit_seq=h["seq"], audit_head=h["head"]))  # fmt: skip
    return made, db


def move_on(db, flows: int) -> None:
    """One more event on every hundredth flow."""
    with db.write() as s:
        for fid in range(1, flows + 1, 100):
            head = s.execute(FLOWS.select().where(FLOWS.c.id == fid)).first()
            if head is None:
                continue
            rows, seq, new = chain_rows(f"flow:{fid}", fid, head.audit_seq, head.audit_head,
                                        _events(1, START + timedelta(days=1)))  # fmt: skip
            s.execute(insert(EVENTS), rows)
            s.execute(update(FLOWS).where(FLOWS.c.id == fid).values(audit_seq=seq, audit_head=new))


def timed(label: str, fn, key: str | None = None):
    t = time.perf_counter()
    out = fn()
    took = time.perf_counter() - t
    print(f"  {label:<44} {took:8.2f} s")
    if key:
        record("anchors", {key: fig(took, "s")})
    return out


def run(quick: bool = False, flows: int | None = None, per_flow: int = 20) -> None:
    """The anchors' cost at 10,000 flows (1,000 with ``quick``); part of ``bench/run.py``."""
    flows = flows or (1_000 if quick else 10_000)
    header(f"7. Audit anchors: {flows:,} flows × {per_flow} events (SQLite file, WAL)")
    with tempfile.TemporaryDirectory() as tmp:
        _made, db = timed(
            "build (not part of the cost)", lambda: build(Path(tmp) / "a.db", flows, per_flow)
        )
        settings = AnchorSettings(Path(tmp) / "anchors.jsonl")
        record("anchors", {"flows": flows})
        first = timed(
            "anchor 1 (every chain)", lambda: anchor_now(db, START, TZ, settings), "first_anchor_s"
        )
        move_on(db, flows)
        later = START + timedelta(days=1)
        second = timed(
            "anchor 2 (1 % of the flows moved)",
            lambda: anchor_now(db, later, TZ, settings),
            "second_anchor_s",
        )
        lines, _ = read_file(settings.file)

        def check():
            with db.read() as s:
                return check_anchors(s, lines)

        report = timed("verify --anchors (check_anchors)", check, "check_anchors_s")

        def chains():
            with db.read() as s:
                return verify_all(s)

        checked, broken = timed(
            "verify (every chain recomputed), for scale", chains, "verify_chains_s"
        )
        print(f"  anchors: {first.chains:,} then {second.chains:,} chains; {report.heads:,} "
              f"anchored heads checked, {len(report.problems)} problem(s); {checked:,} events, "
              f"{len(broken)} broken")  # fmt: skip
        db.dispose()


def main() -> None:
    flows = int(sys.argv[1]) if len(sys.argv) > 1 else 10_000
    per_flow = int(sys.argv[2]) if len(sys.argv) > 2 else 20
    run(flows=flows, per_flow=per_flow)


if __name__ == "__main__":
    main()
