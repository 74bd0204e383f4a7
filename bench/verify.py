"""Benchmark 6: ``banli audit verify`` on 10,000 flows: the hash chains, then the replay of every
flow's events against its rows (``workflow.integrity.check_all``).

The flows are made through the engine on a SQLite file: nine contract reviews run to the end (13
actions each, ``flows.engine_flow``) for every message sent to three people, delivered to and
read by one of them. Printed: the time to make them, then the seconds for the chains
(``audit.verify_all``), for the replay and in all, with events and flows per second.
"""

from __future__ import annotations

import tempfile
import time
from pathlib import Path

from common import Setup, fig, header, record, setup, target
from flows import engine_flow

from workflow import messages
from workflow.audit import verify_all
from workflow.integrity import check_all

FLOWS = 10_000
TARGET_SECONDS = 60.0


def _make(st: Setup, n: int) -> None:
    eng, p = st.engine, st.people
    to = [p["wangfang"], p["zhaomin"], p["liming"]]
    for i in range(n):
        if i % 10 == 9:
            flow = messages.send(
                eng, p["huangyong"], subject=f"通知 {i}", body="请查收", to_users=to
            )
            messages.mark_delivered(eng, p["wangfang"])
            item = flow.delivered[1]  # [0] is the sender's own item
            messages.read(eng, p["wangfang"], item)
        else:
            engine_flow(eng, p)


def run(quick: bool = False) -> None:
    n = FLOWS // 10 if quick else FLOWS
    header(
        f"6. Verify {n:,} flows: hash chains, then every flow's events replayed against its rows"
    )
    with tempfile.TemporaryDirectory(prefix="banli-bench-") as tmp:
        st = setup(Path(tmp) / "verify.db")
        t = time.perf_counter()
        _make(st, n)
        print(f"  {n:,} flows made through the engine in {time.perf_counter() - t:.0f} s")
        with st.db.read() as s:
            t = time.perf_counter()
            events, broken = verify_all(s)
            chains = time.perf_counter() - t
            t = time.perf_counter()
            flows, mismatches = check_all(s)
            replay = time.perf_counter() - t
        assert not broken and not mismatches and flows == n, (broken[:3], mismatches[:3])
        total = chains + replay
        print(f"  chains: {events:,} events in {chains:6.2f} s = {events / chains:8,.0f} events/s")
        print(f"  replay: {flows:,} flows in {replay:6.2f} s = {flows / replay:8,.0f} flows/s")
        print(
            f"  verify {n:,} flows (chain + replay): {total:.1f} s   "
            f"{target(total <= TARGET_SECONDS * n / FLOWS, f'≤ {TARGET_SECONDS * n / FLOWS:g} s')}"
        )
        limit = TARGET_SECONDS * n / FLOWS
        record(
            "verify",
            {
                "flows": n,
                "chain_events_per_s": fig(events / chains, "events/s"),
                "replay_flows_per_s": fig(flows / replay, "flows/s"),
                "total_s": fig(total, "s", f"≤ {limit:g} s", total <= limit),
            },
        )
        st.db.dispose()
