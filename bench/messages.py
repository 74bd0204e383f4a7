"""Benchmark 5: messages on the engine — sending to a large unit, the live-update poll, DINGs.

1. ``messages.send`` to a unit of 1,000 people (expanded at send time): ms per message and µs per
   recipient item (each recipient is one work item and one entry in the ``send`` event).
2. The poll a signed-in page makes every few seconds (``unread_count`` + ``mark_delivered`` with
   nothing pending) and the first page of the message list, for a person who has received
   10,000 messages (2,000 with ``--quick``): p50 and p95 — it must not grow with the mailbox,
   as the partial indexes ``ix_work_items_unread`` / ``…_undelivered`` / ``…_received`` keep it.
3. ``messages.ding`` to one unconfirmed recipient, one transaction each (quota, DING row,
   delivery job, audit event): DINGs per second.
"""

from __future__ import annotations

import tempfile
import time
from pathlib import Path

from common import fig, header, percentile, record, setup
from sqlalchemy import insert, select, update

from workflow import messages
from workflow.settings import Settings
from workflow.store.models import Unit, User, WorkItem


def _poll(eng, user: int, what: str, key: str) -> None:
    """p50 / p95 of the live poll and of the list's first page, 300 times each."""
    polls, pages = [], []
    for _ in range(300):
        t = time.perf_counter()
        messages.unread_count(eng, user)
        messages.mark_delivered(eng, user)
        polls.append(time.perf_counter() - t)
        t = time.perf_counter()
        messages.received(eng, user)
        pages.append(time.perf_counter() - t)
    for label, xs in (("poll (unread count + delivery check)", polls),
                      ("message list, first page of 20", pages)):  # fmt: skip
        print(f"  {label:<40} p50 {percentile(xs, 0.5) * 1000:6.2f} ms   "
              f"p95 {percentile(xs, 0.95) * 1000:6.2f} ms   ({what})")  # fmt: skip
    record(
        "messages",
        {
            f"poll_p50_ms_{key}": fig(percentile(polls, 0.5) * 1000, "ms"),
            f"list_p50_ms_{key}": fig(percentile(pages, 0.5) * 1000, "ms"),
        },
    )


def run(quick: bool) -> None:
    header("5. messages: send to a 1,000-person unit, the live-update poll, DINGs")
    with tempfile.TemporaryDirectory() as tmp:
        st = setup(Path(tmp) / "bench.db")
        eng, p = st.engine, st.people
        with st.db.engine.begin() as conn:
            parent = conn.scalar(select(Unit.id).where(Unit.code == "engineering"))
            unit = conn.execute(
                insert(Unit).returning(Unit.id),
                {"code": "bench_site", "name": "测试项目部", "kind": "team", "parent_id": parent},
            ).scalar_one()
            conn.execute(
                insert(User),
                [
                    {"login": f"site{i}", "name": f"项目部员工{i}", "unit_id": unit,
                     "status": "active"}
                    for i in range(1000)
                ],
            )  # fmt: skip

        sends = 3 if quick else 10
        t = time.perf_counter()
        for i in range(sends):
            out = messages.send(eng, p["liming"], subject=f"安全通知{i}", to_units=[unit])
        per = (time.perf_counter() - t) / sends
        n = len(out.delivered) - 1
        print(f"  send to the unit ({n} recipients): {per * 1000:7.1f} ms per message, "
              f"{per / n * 1e6:6.1f} µs per recipient")  # fmt: skip
        record("messages", {"send_to_unit_ms": fig(per * 1000, "ms"), "recipients": n})

        mailbox = 2000 if quick else 10_000
        t = time.perf_counter()
        for i in range(mailbox):
            messages.send(eng, p["zhangjianguo"], subject=f"日报{i}", to_users=[p["wangfang"]])
        fill = time.perf_counter() - t
        print(f"  filled 王芳's mailbox with {mailbox:,} messages in {fill:.1f} s "
              f"({fill / mailbox * 1000:.2f} ms per one-recipient send)")  # fmt: skip
        t = time.perf_counter()
        delivered = messages.mark_delivered(eng, p["wangfang"], limit=mailbox)
        print(f"  first poll delivers {delivered:,} in {time.perf_counter() - t:.2f} s")
        messages.read(eng, p["wangfang"], messages.received(eng, p["wangfang"]).rows[0].item_id)

        _poll(eng, p["wangfang"], f"{mailbox:,} received, all unread", "all_unread")
        # She reads them over the weeks (set directly: 10,000 reads through the engine would
        # only time the engine again): the poll then counts what is unread, not the mailbox.
        with st.db.engine.begin() as conn:
            keep = conn.scalars(
                select(WorkItem.id).where(WorkItem.user_id == p["wangfang"])
                .order_by(WorkItem.id.desc()).limit(20)
            ).all()  # fmt: skip
            conn.execute(
                update(WorkItem)
                .where(WorkItem.user_id == p["wangfang"], WorkItem.id.not_in(keep),
                       WorkItem.confirmed_at.is_(None))
                .values(confirmed_at=WorkItem.delivered_at)
            )  # fmt: skip
        _poll(eng, p["wangfang"], f"{mailbox:,} received, 20 unread", "20_unread")

        eng.settings = Settings.defaults(ding_limit=100000)
        target_flow = messages.send(eng, p["liming"], subject="待确认", to_users=[p["huangyong"]])
        count = 100 if quick else 500
        t = time.perf_counter()
        for _ in range(count):
            messages.ding(eng, p["liming"], target_flow.flow_id)
        rate = count / (time.perf_counter() - t)
        print(f"  ding (quota + DING row + delivery job + audit event): {rate:7.0f} DINGs/s")
        record("messages", {"dings_per_s": fig(rate, "DINGs/s")})
        st.db.dispose()
