"""The workbench's lists: each tab, its counts, search, paging, order, and what each row shows."""

from __future__ import annotations

from datetime import date

import pytest
from sqlalchemy import insert, select

from tests.conftest import Clock, setup_engine
from workflow.engine import worklist
from workflow.engine.sql import ITEMS, VISITS
from workflow.engine.worklist import Search
from workflow.errors import InvalidAction

CONTRACT = {
    "title": "办公楼空调采购合同",
    "counterparty": "上海申能机电有限公司",
    "amount": "68000",
    "contract_type": "purchase",
    "summary": "采购空调 4 台",
}
DOCUMENT = {
    "source_unit": "上海市住房和城乡建设管理委员会",
    "original_number": "沪建〔2026〕12号",
    "title": "关于开展安全生产检查的通知",
    "urgency": "urgent",
    "confidentiality": "internal",
    "received_on": "2026-03-01",
}
SEAL = {"title": "投标文件用印", "seal": "company", "copies": "3", "purpose": "投标"}


def contract(engine, people, title="办公楼空调采购合同", by="huangyong"):
    return engine.start(people[by], "contract_review", {**CONTRACT, "title": title}).flow_id


def titles(engine, user_id, tab, **search):
    return [r.title for r in engine.worklist(user_id, tab, **search).rows]


def test_a_new_contract_is_to_do_for_the_dept_head_and_started_by_the_initiator(engine, people):
    fid = contract(engine, people)
    head, me = people["qianxuejun"], people["huangyong"]
    assert engine.tab_counts(head) == {"todo": 1, "done": 0, "started": 0, "circulated": 0}
    assert engine.tab_counts(me) == {"todo": 0, "done": 1, "started": 1, "circulated": 0}

    (row,) = engine.worklist(head, "todo").rows
    assert (row.flow_id, row.title, row.definition, row.initiator) == (
        fid, "办公楼空调采购合同", "contract_review", "黄勇",
    )  # fmt: skip
    assert (row.definition_name.zh, row.definition_name.en) == ("合同评审", "Contract review")
    assert (row.step, row.step_name.zh, row.step_name.en) == (
        "dept_review", "部门负责人审核", "Department review",
    )  # fmt: skip
    assert (row.role, row.item_status, row.host, row.waiting_for) == (
        "host", "open", "钱学军", ["钱学军"],
    )  # fmt: skip
    assert row.at == engine.history(fid).visits[-1].people[0].delivered_at
    assert row.due_at is not None  # dept_review: "2 working days"
    assert (row.flow_state, row.rejected, row.overdue, row.due_at) == (
        "dept_review", False, False, engine.history(fid).visits[-1].due_at,
    )  # fmt: skip

    (started,) = engine.worklist(me, "started").rows
    assert started.item_id is None and started.role is None
    assert (started.step, started.host, started.waiting_for) == (
        "dept_review",
        "钱学军",
        ["钱学军"],
    )
    assert started.at == engine.history(fid).started_at

    (done,) = engine.worklist(me, "done").rows
    assert (done.item_step_name.zh, done.step_name.zh, done.item_status) == (
        "起草", "部门负责人审核", "done",
    )  # fmt: skip


def test_waiting_for_names_the_host_then_the_co_signers_still_open(engine, people, item_of):
    fid = contract(engine, people)
    engine.forward(people["qianxuejun"], item_of("qianxuejun", fid))
    (row,) = engine.worklist(people["liming"], "todo").rows
    assert (row.step_name.zh, row.host) == ("会签", "李明")
    co_signers = [p.name for p in engine.history(fid).visits[-1].people if p.role == "co_signer"]
    assert sorted(co_signers) == sorted(["杨帆", "林晓燕"])
    assert row.waiting_for == ["李明", *co_signers]  # the host first, then in the step's order

    engine.sign(people["yangfan"], item_of("yangfan", fid), opinion="条款合规")
    (row,) = engine.worklist(people["liming"], "todo").rows
    assert row.waiting_for == ["李明", "林晓燕"]
    # the dept head's done row follows the flow: where it is now and whom it waits for
    (done,) = engine.worklist(people["qianxuejun"], "done").rows
    assert (done.item_step_name.zh, done.step_name.zh, done.host) == (
        "部门负责人审核",
        "会签",
        "李明",
    )
    assert done.waiting_for == ["李明", "林晓燕"]
    assert [r.title for r in engine.worklist(people["yangfan"], "done").rows] == [row.title]


def test_a_veto_marks_the_row_rejected_and_so_does_a_rejected_end(engine, people, item_of):
    fid = contract(engine, people)
    engine.forward(people["qianxuejun"], item_of("qianxuejun", fid))
    engine.sign(people["yangfan"], item_of("yangfan", fid), decision="reject", opinion="条款缺失")
    (row,) = engine.worklist(people["liming"], "todo").rows
    assert row.rejected and row.flow_state == "countersign"
    assert row.waiting_for == ["李明"]  # the veto cancelled the other co-signer's item

    other = contract(engine, people, "打印机租赁合同")
    engine.end(people["qianxuejun"], item_of("qianxuejun", other), outcome="rejected")
    by_title = {r.title: r for r in engine.worklist(people["huangyong"], "started").rows}
    ended = by_title["打印机租赁合同"]
    assert (ended.flow_state, ended.outcome, ended.rejected) == ("ended", "rejected", True)
    assert (ended.step, ended.step_name, ended.host, ended.waiting_for) == (None, None, None, [])
    assert by_title["办公楼空调采购合同"].rejected


def test_an_approved_end_and_a_withdrawal_are_not_rejected(engine, people, item_of):
    fid = engine.start(people["huangyong"], "seal_usage", SEAL).flow_id
    engine.forward(people["qianxuejun"], item_of("qianxuejun", fid))
    engine.end(people["sunli"], item_of("sunli", fid))
    withdrawn = contract(engine, people, "退回的合同")
    engine.withdraw(people["huangyong"], withdrawn)
    rows = engine.worklist(people["huangyong"], "started").rows
    assert [(r.title, r.flow_state, r.outcome, r.rejected) for r in rows] == [
        ("退回的合同", "withdrawn", None, False),
        ("投标文件用印", "ended", "approved", False),
    ]


def test_tabs_are_newest_first_and_done_by_handling_time(engine, people, item_of):
    first, second, third = (contract(engine, people, t) for t in ("合同一", "合同二", "合同三"))
    head = people["qianxuejun"]
    assert titles(engine, head, "todo") == ["合同三", "合同二", "合同一"]
    assert titles(engine, people["huangyong"], "started") == ["合同三", "合同二", "合同一"]
    for fid in (second, first, third):  # handled in another order than they arrived
        engine.forward(head, item_of("qianxuejun", fid))
    assert titles(engine, head, "done") == ["合同三", "合同一", "合同二"]
    assert titles(engine, head, "todo") == []


def test_paging_gives_every_row_once_with_the_total(engine, people):
    for n in range(5):
        contract(engine, people, f"合同{n}")
    head = people["qianxuejun"]
    pages = [engine.worklist(head, "todo", page=p, per_page=2) for p in (1, 2, 3, 4)]
    assert [[r.title for r in p.rows] for p in pages] == [
        ["合同4", "合同3"], ["合同2", "合同1"], ["合同0"], [],
    ]  # fmt: skip
    assert {(p.total, p.pages, p.per_page) for p in pages} == {(5, 3, 2)}
    assert engine.worklist(head, "todo", page=0, per_page=1000).page == 1
    assert engine.worklist(head, "todo", per_page=1000).per_page == worklist.MAX_PER_PAGE


def test_another_persons_rows_never_show(engine, people, item_of):
    fid = contract(engine, people)
    engine.forward(people["qianxuejun"], item_of("qianxuejun", fid))
    for login in ("mali", "zhengjie", "heting"):
        uid = people[login]
        assert engine.tab_counts(uid) == {"todo": 0, "done": 0, "started": 0, "circulated": 0}
        assert all(engine.worklist(uid, tab).rows == [] for tab in worklist.TABS)
    assert titles(engine, people["linxiaoyan"], "todo") == ["办公楼空调采购合同"]
    assert titles(engine, people["linxiaoyan"], "started") == []


def test_search_by_title_or_document_number(engine, people):
    contract(engine, people, "办公楼空调采购合同")
    contract(engine, people, "Server maintenance 100%_agreement")
    engine.start(people["wangfang"], "incoming_document", DOCUMENT)
    engine.start(people["wangfang"], "archive_use", {
        "archive_name": "2019年工程竣工档案", "archive_number": "GC-2019-007",
        "purpose": "consult", "reason": "查阅图纸"})  # fmt: skip
    head, director = people["qianxuejun"], people["liming"]
    assert titles(engine, head, "todo", query="空调") == ["办公楼空调采购合同"]
    assert titles(engine, head, "todo", query="  SERVER  ") == ["Server maintenance 100%_agreement"]
    # % and _ are searched as themselves, not as wildcards
    assert titles(engine, head, "todo", query="100%_") == ["Server maintenance 100%_agreement"]
    assert titles(engine, head, "todo", query="%") == ["Server maintenance 100%_agreement"]
    assert titles(engine, head, "todo", query="a_r") == []
    assert titles(engine, director, "todo", query="沪建〔2026〕") == ["关于开展安全生产检查的通知"]
    (row,) = engine.worklist(director, "todo", query="12号").rows
    assert row.doc_number == "沪建〔2026〕12号"
    assert titles(engine, people["wangfang"], "started", query="gc-2019") == ["2019年工程竣工档案"]
    assert titles(engine, head, "todo", query="无此合同") == []
    assert titles(engine, head, "todo", query="") == titles(engine, head, "todo")


def test_search_by_approval_type(engine, people):
    contract(engine, people)
    engine.start(people["huangyong"], "seal_usage", SEAL)
    me = people["huangyong"]
    assert titles(engine, me, "started", definition="seal_usage") == ["投标文件用印"]
    assert titles(engine, me, "started", definition="contract_review") == ["办公楼空调采购合同"]
    assert titles(engine, me, "started", definition="no_such_type") == []
    assert engine.tab_counts(me, definition="seal_usage") == {
        "todo": 0, "done": 1, "started": 1, "circulated": 0,
    }  # fmt: skip


def test_search_by_local_calendar_days(engine, people, clock):
    # The clock starts at 2026-03-02 01:00 UTC, 09:00 in Shanghai.
    contract(engine, people, "三月二日")
    clock.advance(hours=15)  # 2026-03-02 16:00 UTC = 2026-03-03 00:00 in Shanghai
    contract(engine, people, "三月三日")
    clock.advance(days=2)
    contract(engine, people, "三月五日")
    head = people["qianxuejun"]
    on = {"since": date(2026, 3, 3), "until": date(2026, 3, 3)}
    assert titles(engine, head, "todo", **on) == ["三月三日"]
    assert titles(engine, head, "todo", since=date(2026, 3, 3)) == ["三月五日", "三月三日"]
    assert titles(engine, head, "todo", until=date(2026, 3, 2)) == ["三月二日"]
    assert titles(engine, people["huangyong"], "started", **on) == ["三月三日"]
    assert titles(engine, people["huangyong"], "done", **on) == ["三月三日"]
    assert engine.tab_counts(head, **on)["todo"] == 1


def test_done_is_searched_by_when_it_was_handled(engine, people, item_of, clock):
    fid = contract(engine, people)
    clock.advance(days=3)  # 2026-03-05 in Shanghai
    engine.forward(people["qianxuejun"], item_of("qianxuejun", fid))
    head = people["qianxuejun"]
    assert titles(engine, head, "done", since=date(2026, 3, 5)) == ["办公楼空调采购合同"]
    assert titles(engine, head, "done", until=date(2026, 3, 4)) == []


def test_search_by_flow_state(engine, people, item_of):
    contract(engine, people, "进行中")
    rejected = contract(engine, people, "已驳回")
    engine.end(people["qianxuejun"], item_of("qianxuejun", rejected), outcome="rejected")
    withdrawn = contract(engine, people, "已撤回")
    engine.withdraw(people["huangyong"], withdrawn)
    approved = engine.start(people["huangyong"], "seal_usage", {**SEAL, "title": "已通过"}).flow_id
    engine.forward(people["qianxuejun"], item_of("qianxuejun", approved))
    engine.end(people["sunli"], item_of("sunli", approved))
    me = people["huangyong"]
    assert titles(engine, me, "started", state="active") == ["进行中"]
    assert titles(engine, me, "started", state="ended") == ["已通过", "已驳回"]
    assert titles(engine, me, "started", state="approved") == ["已通过"]
    assert titles(engine, me, "started", state="rejected") == ["已驳回"]
    assert titles(engine, me, "started", state="withdrawn") == ["已撤回"]
    assert titles(engine, people["qianxuejun"], "done", state="active") == []
    assert titles(engine, people["qianxuejun"], "todo", state="active") == ["进行中"]
    assert engine.tab_counts(me, state="ended") == {
        "todo": 0, "done": 2, "started": 2, "circulated": 0,
    }  # fmt: skip


def test_filters_combine(engine, people):
    contract(engine, people, "空调采购合同")
    engine.start(people["huangyong"], "seal_usage", {**SEAL, "title": "空调合同用印"})
    me = people["huangyong"]
    assert titles(engine, me, "started", query="空调") == ["空调合同用印", "空调采购合同"]
    assert titles(engine, me, "started", query="空调", definition="seal_usage",
                  state="active", since=date(2026, 3, 2)) == ["空调合同用印"]  # fmt: skip
    assert titles(engine, me, "started", query="空调", until=date(2026, 3, 1)) == []


def test_circulated_lists_items_given_to_read(engine, people, db):
    """The circulate verb comes later; a reader's item, written here by hand, is what it lists."""
    fid = contract(engine, people)
    reader = people["wujing"]
    with db.write() as s:
        visit = s.scalar(
            select(VISITS.c.id).where(VISITS.c.flow_id == fid).order_by(VISITS.c.id.desc())
        )
        s.execute(insert(ITEMS).values(flow_id=fid, visit_id=visit, user_id=reader, role="reader",
                                       status="open", delivered_at=engine.clock()))  # fmt: skip
    assert engine.tab_counts(reader)["circulated"] == 1
    (row,) = engine.worklist(reader, "circulated").rows
    assert (row.title, row.role, row.host, row.waiting_for) == (
        "办公楼空调采购合同", "reader", "钱学军", ["钱学军"],
    )  # fmt: skip
    assert engine.worklist(people["qianxuejun"], "circulated").rows == []


def test_unknown_tab_or_state_is_refused(engine, people):
    with pytest.raises(InvalidAction, match="tab must be one of"):
        engine.worklist(people["huangyong"], "inbox")
    with pytest.raises(InvalidAction, match="state must be one of"):
        engine.tab_counts(people["huangyong"], state="lost")


def test_approval_types_for_the_type_filter(engine):
    types = dict(engine.approval_types())
    assert types["contract_review"].zh == "合同评审" and types["seal_usage"].en == "Seal usage"
    assert set(types) == {"archive_use", "contract_review", "incoming_document", "seal_usage"}


def _plan(db, stmt, **params):
    comp = stmt.compile(db.engine)
    values = comp.construct_params({"b_user": 1, "b_limit": 20, "b_offset": 0, **params})
    with db.engine.connect() as c:
        rows = c.exec_driver_sql("EXPLAIN QUERY PLAN " + str(comp),
                                 tuple(values[k] for k in comp.positiontup)).all()  # fmt: skip
    return " | ".join(r[-1] for r in rows)


def test_the_plain_to_do_tab_and_its_count_read_the_partial_index(engine, db):
    plain = Search().shape
    assert "USING INDEX ix_work_items_open" in _plan(db, worklist.list_statement("todo", plain))
    # the count reads the index alone (it carries status and role)
    assert "USING COVERING INDEX ix_work_items_open" in _plan(
        db, worklist.count_statement("todo", plain)
    )
    searched = Search.of("空调", "contract_review", state="active").shape
    assert "ix_work_items_open" in _plan(
        db, worklist.list_statement("todo", searched), b_q="%空调%", b_definition="contract_review"
    )


def test_the_search_on_postgres(pg_db):
    """JSON path and case-insensitive LIKE are dialect-specific: the same answers on PostgreSQL."""
    engine, people = setup_engine(pg_db, Clock())
    contract(engine, people, "Server Maintenance 100%_agreement")
    engine.start(people["wangfang"], "incoming_document", DOCUMENT)
    head, director = people["qianxuejun"], people["liming"]
    assert titles(engine, head, "todo", query="server maint") == [
        "Server Maintenance 100%_agreement"
    ]
    assert titles(engine, head, "todo", query="100%_") == ["Server Maintenance 100%_agreement"]
    assert titles(engine, head, "todo", query="a_r") == []
    (row,) = engine.worklist(director, "todo", query="〔2026〕12").rows
    assert row.doc_number == "沪建〔2026〕12号" and row.waiting_for == ["李明"]
    me = people["huangyong"]
    assert titles(engine, me, "started", definition="contract_review", state="active",
                  since=date(2026, 3, 2), until=date(2026, 3, 2)) == [
        "Server Maintenance 100%_agreement"]  # fmt: skip
    assert engine.tab_counts(me, query="server") == {
        "todo": 0, "done": 1, "started": 1, "circulated": 0,
    }  # fmt: skip
    assert engine.worklist(me, "started", page=2, per_page=1).rows == []
