"""Benchmark 8: removing a leaver who holds 1,000 open work items, in one transaction (Art. 12).

The office director 李明 hosts the 拟办 step of 1,000 incoming documents (each its own flow, made
through the engine: the worst case, one flow lock, chain event and version bump per item); HR
removes him with 赵敏 as successor (``workflow.org.leavers.remove``: status, sessions, every
item reassigned on its flow's chain, the admin-chain event). Printed: the seconds for that one
transaction against the target, then a check that every chain and replay still verifies.
"""

from __future__ import annotations

import tempfile
import time
from pathlib import Path

from common import fig, header, record, setup, target

from workflow.integrity import verify_trail
from workflow.org import leavers

ITEMS = 1_000
TARGET_SECONDS = 2.0
DOCUMENT = {
    "source_unit": "上海市住房和城乡建设管理委员会",
    "original_number": "沪建〔2026〕12号",
    "title": "关于开展2026年度安全生产检查的通知",
    "urgency": "urgent",
    "confidentiality": "internal",
    "received_on": "2026-03-01",
    "copies": "2",
}


def run(quick: bool = False) -> None:
    n = ITEMS // 5 if quick else ITEMS
    limit = TARGET_SECONDS * n / ITEMS
    header(f"8. Remove a leaver holding {n:,} open work items (one transaction, SQLite)")
    with tempfile.TemporaryDirectory(prefix="banli-bench-") as tmp:
        st = setup(Path(tmp) / "leavers.db")
        eng, p = st.engine, st.people
        t = time.perf_counter()
        for i in range(n):
            eng.start(p["wangfang"], "incoming_document", {**DOCUMENT, "title": f"收文 {i}"})
        print(f"  {n:,} flows with an open item for 李明 made in {time.perf_counter() - t:.0f} s")
        t = time.perf_counter()
        out = leavers.remove(eng, p["fenglei"], p["liming"], p["zhaomin"], at=eng.clock())
        took = time.perf_counter() - t
        assert len(out.handed) == n, len(out.handed)
        print(
            f"  removal with {n:,} items reassigned: {took:.2f} s "
            f"({took / n * 1e3:.2f} ms per item)   {target(took <= limit, f'≤ {limit:g} s')}"
        )
        record(
            "leavers",
            {"items": n, "removal_s": fig(took, "s", f"≤ {limit:g} s", took <= limit)},
        )
        t = time.perf_counter()
        report = verify_trail(st.db)
        assert not report.broken and not report.mismatches, report.mismatches[:3]
        print(f"  audit trail verified afterwards ({report.flows:,} flows) in "
              f"{time.perf_counter() - t:.1f} s")  # fmt: skip
        st.db.dispose()
