"""The workbench's tabs read by keyset: every tab's query on its index, pages that cover every
row exactly once in order (forwards and back, ties on "done" included), the four counts in one
round trip, and the export of every tab."""

from __future__ import annotations

from datetime import timedelta

import pytest
from sqlalchemy import event, insert, select

from tests.conftest import Clock, setup_engine
from tests.engine.test_worklist import _plan, contract
from workflow.engine import worklist
from workflow.engine.sql import ITEMS, VISITS
from workflow.engine.workexport import csv_pieces
from workflow.engine.worklist import Search

INDEX = {
    "todo": "ix_work_items_open",
    "done": "ix_work_items_done",
    "started": "ix_flows_initiator",
    "circulated": "ix_work_items_reader",
}


@pytest.mark.parametrize("tab", worklist.TABS)
def test_each_tab_its_count_and_its_keyset_pages_read_the_tabs_index(engine, db, tab):
    plain, index = Search().shape, f"INDEX {INDEX[tab]}"
    assert index in _plan(db, worklist.count_statement(tab, plain))
    assert index in _plan(db, worklist.list_statement(tab, plain))
    at = {"b_at": engine.clock()} if tab == "done" else {}
    for direction in ("after", "before"):
        stmt = worklist.list_statement(tab, plain, direction)
        found = _plan(db, stmt, b_key=10**6, **at)
        assert index in found and "TEMP B-TREE" not in found, found  # no sort: the index's order


def test_the_four_counts_read_four_indexes_in_one_statement(engine, db):
    found = _plan(db, worklist.counts_statement(Search().shape))
    assert all(f"INDEX {index}" in found for index in INDEX.values()), found


def _fill(engine, people, db):
    """Work for 钱学军 on every tab: open, handled (ties in the time handled), copies to read."""
    me = people["qianxuejun"]
    flows = [contract(engine, people, f"合同{n:02d}", by="qianxuejun") for n in range(7)]
    now = engine.clock()
    with db.write() as s:
        visits = s.execute(
            select(VISITS.c.id, VISITS.c.flow_id).where(VISITS.c.flow_id.in_(flows))
        ).all()
        rows = []
        for n in range(40):
            v = visits[n % len(visits)]
            handled = now - timedelta(minutes=n // 3) if n % 4 else None  # three a minute: ties
            rows.append(
                {
                    "flow_id": v.flow_id, "visit_id": v.id, "user_id": me,
                    "role": "reader" if n % 5 == 0 else "handler",
                    "status": "done" if handled else "open", "delivered_at": now,
                    "confirmed_at": handled, "handled_at": handled, "closed_at": handled,
                }
            )  # fmt: skip
        s.execute(insert(ITEMS), rows)
    return me


def _keys(tab, rows):
    return [worklist.cursor_of(tab, r) for r in rows]


def _walk(engine, me, tab):
    everything = engine.worklist(me, tab, per_page=100)
    assert everything.total < 100
    pages, page, after = [], 1, None
    while True:
        work = engine.worklist(me, tab, per_page=3, page=page, after=after)
        pages.append(work)
        if work.next_after is None:
            break
        page, after = page + 1, work.next_after
    forwards = [k for w in pages for k in _keys(tab, w.rows)]
    assert forwards == _keys(tab, everything.rows)  # every row once, in the tab's order
    assert len(set(forwards)) == everything.total == len(forwards)
    back, work = [], pages[-1]
    while work.prev_before is not None:
        work = engine.worklist(me, tab, per_page=3, page=work.page - 1, before=work.prev_before)
        back.append(_keys(tab, work.rows))
    assert back == [_keys(tab, w.rows) for w in reversed(pages[:-1])]


@pytest.mark.parametrize("tab", worklist.TABS)
def test_keyset_pages_cover_every_row_once_in_order(engine, people, db, tab):
    me = _fill(engine, people, db)
    _walk(engine, me, tab)


def test_keyset_pages_on_postgres(pg_db):
    engine, people = setup_engine(pg_db, Clock())
    me = _fill(engine, people, pg_db)
    for tab in worklist.TABS:
        _walk(engine, me, tab)
    assert engine.tab_counts(me) == {tab: engine.worklist(me, tab).total for tab in worklist.TABS}


def test_tab_counts_take_one_statement(engine, people, db):
    me = _fill(engine, people, db)
    seen = []
    event.listen(db.engine, "before_cursor_execute", lambda *a: seen.append(a[2]))
    counts = engine.tab_counts(me)
    assert len([q for q in seen if q.lstrip().upper().startswith("SELECT")]) == 1
    assert counts == {tab: engine.worklist(me, tab).total for tab in worklist.TABS}
    work = engine.worklist(me, "done", all_counts=True)
    assert work.counts == counts and work.total == counts["done"]


def test_the_export_has_every_row_of_every_tab(engine, people, db):
    me = _fill(engine, people, db)
    exported = list(engine.export_rows(me, chunk=4))
    for tab in worklist.TABS:
        whole = engine.worklist(me, tab, per_page=100).rows
        assert [(e.r.flow_id, e.r.item_id) for e in exported if e.tab == tab] == [
            (r.flow_id, r.item_id) for r in whole
        ]
        shown = [(e.step, e.due_at) for e in exported if e.tab == tab]
        assert shown == [(r.step, r.due_at) for r in whole]  # the due time the page shows
    text = "".join(csv_pieces(exported, engine.tz))
    assert len(text.splitlines()) == len(exported) + 1
