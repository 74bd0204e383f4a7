"""Returning a flow to an earlier step, and the initiator withdrawing one nobody has opened yet."""

from __future__ import annotations

import pytest

from tests.engine.helpers import assert_effects_in_order
from workflow.errors import FlowClosed, InvalidAction

CONTRACT = {"title": "办公楼空调采购合同", "counterparty": "上海申能机电有限公司",
            "amount": "680000", "contract_type": "purchase", "summary": "采购空调 40 台"}  # fmt: skip


def everyone(engine, flow_id):
    return {p.item_id: p for v in engine.history(flow_id).visits for p in v.people}


def return_action(engine, user_id, item_id):
    return next(a for a in engine.available_actions(user_id, item_id) if a["action"] == "return")


def contract(engine, people, item_of, upto):
    """A contract flow taken as far as ``upto`` (dept_review, countersign or leader_review)."""
    fid = engine.start(people["huangyong"], "contract_review", CONTRACT).flow_id
    if upto == "dept_review":
        return fid
    engine.forward(people["qianxuejun"], item_of("qianxuejun", fid), opinion="同意")
    if upto == "countersign":
        return fid
    engine.sign(people["yangfan"], item_of("yangfan", fid), opinion="合规")
    engine.sign(people["linxiaoyan"], item_of("linxiaoyan", fid), opinion="预算已落实")
    engine.forward(people["liming"], item_of("liming", fid), host=people["chenzhiqiang"])
    return fid


def test_return_to_a_step_before_the_previous_one(engine, people, item_of, clock):
    fid = contract(engine, people, item_of, "leader_review")
    item = item_of("chenzhiqiang", fid)
    assert return_action(engine, people["chenzhiqiang"], item)["options"] == [
        "countersign", "dept_review", "draft",
    ]  # fmt: skip
    before = everyone(engine, fid)
    clock.advance(hours=3)

    out = engine.return_(people["chenzhiqiang"], item, to="dept_review", opinion="请重新核实金额")
    assert out.state == "dept_review"
    (new,) = out.delivered
    assert new not in before and item_of("qianxuejun", fid) == new
    assert [(r.step_name, r.role) for r in engine.inbox(people["qianxuejun"])] == [
        ("部门负责人审核", "host")
    ]
    assert engine.inbox(people["liming"]) == [] and engine.inbox(people["yangfan"]) == []
    after = everyone(engine, fid)
    assert {k: after[k] for k in before if k != item} == {
        k: v for k, v in before.items() if k != item
    }
    assert (after[item].action, after[item].opinion) == ("return", "请重新核实金额")
    last = engine.history(fid).visits[-1]
    assert (last.step, last.via, last.seq) == ("dept_review", "return", 5)
    assert after[new].delivered_at == last.entered_at == after[item].handled_at

    engine.forward(people["qianxuejun"], new, opinion="已核实")  # countersign again, all new items
    assert {item_of(x, fid) for x in ("liming", "yangfan", "linxiaoyan")}.isdisjoint(before)
    assert_effects_in_order(engine, fid)


def test_return_to_the_draft_lets_the_initiator_resubmit(engine, people, item_of):
    fid = contract(engine, people, item_of, "dept_review")
    engine.return_(people["qianxuejun"], item_of("qianxuejun", fid), opinion="请附合同文本")
    assert [(r.step_name, r.role) for r in engine.inbox(people["huangyong"])] == [("起草", "host")]
    draft = item_of("huangyong", fid)
    assert [a["action"] for a in engine.available_actions(people["huangyong"], draft)] == [
        "forward"
    ]
    out = engine.forward(people["huangyong"], draft, opinion="已补充")
    assert out.state == "dept_review"
    assert [v.step for v in engine.history(fid).visits] == [
        "draft",
        "dept_review",
        "draft",
        "dept_review",
    ]
    assert_effects_in_order(engine, fid)


def test_return_only_to_a_step_the_flow_visited_before(engine, people, item_of):
    fid = contract(engine, people, item_of, "leader_review")
    engine.forward(people["chenzhiqiang"], item_of("chenzhiqiang", fid))  # 680000 → gm_review
    item = item_of("zhangjianguo", fid)
    with pytest.raises(InvalidAction, match="not to 'sealing'"):
        engine.return_(people["zhangjianguo"], item, to="sealing")
    with pytest.raises(InvalidAction, match="not to 'gm_review'"):
        engine.return_(people["zhangjianguo"], item, to="gm_review")
    assert engine.history(fid).state == "gm_review"


def test_a_plain_return_after_a_return_goes_further_back(engine, people, item_of):
    """Returned from leader_review to countersign, the host there returns again: to dept_review,
    the step before countersign on the flow's path, not back up to leader_review."""
    fid = contract(engine, people, item_of, "leader_review")
    engine.return_(people["chenzhiqiang"], item_of("chenzhiqiang", fid))
    item = item_of("liming", fid)
    ret = return_action(engine, people["liming"], item)
    assert ret["options"] == ["dept_review", "draft"]
    assert ret["default"] in ret["options"]
    assert ret["default"] == "dept_review"
    out = engine.return_(people["liming"], item, opinion="退回部门")
    assert out.state == "dept_review"


def test_withdraw_while_nobody_has_opened_it(engine, people, item_of):
    fid = contract(engine, people, item_of, "dept_review")
    item = item_of("qianxuejun", fid)
    out = engine.withdraw(people["huangyong"], fid, reason="金额填错")
    assert out.state == "withdrawn"
    record = engine.history(fid)
    assert (record.state, record.outcome) == ("withdrawn", None)
    assert record.ended_at is not None and record.visits[-1].left_at == record.ended_at
    p = everyone(engine, fid)[item]
    assert (p.status, p.handled_at, p.confirmed_at) == ("cancelled", None, None)
    assert engine.inbox(people["qianxuejun"]) == []
    assert engine.started(people["huangyong"])[0]["state"] == "withdrawn"

    with pytest.raises(
        FlowClosed, match=f"already withdrawn by 黄勇 at {engine.local(record.ended_at)}"
    ):
        engine.forward(people["qianxuejun"], item)
    with pytest.raises(FlowClosed, match="already withdrawn by 黄勇"):
        engine.withdraw(people["huangyong"], fid)
    assert engine.history(fid) == record
    assert_effects_in_order(engine, fid)


def test_withdraw_at_countersign_cancels_every_open_item(engine, people, item_of):
    fid = contract(engine, people, item_of, "countersign")
    open_items = {item_of(x, fid) for x in ("liming", "yangfan", "linxiaoyan")}
    handled = {k: v for k, v in everyone(engine, fid).items() if v.status == "done"}
    engine.withdraw(people["huangyong"], fid)
    after = everyone(engine, fid)
    assert {after[i].status for i in open_items} == {"cancelled"}
    assert all(after[i].handled_at is None for i in open_items)
    assert {k: after[k] for k in handled} == handled
    for login in ("liming", "yangfan", "linxiaoyan", "qianxuejun", "huangyong"):
        assert engine.inbox(people[login]) == []
    assert_effects_in_order(engine, fid)


def test_no_withdraw_once_a_co_signer_opened_it(engine, people, item_of):
    fid = contract(engine, people, item_of, "countersign")
    engine.open(people["linxiaoyan"], item_of("linxiaoyan", fid))
    with pytest.raises(InvalidAction, match="can no longer be withdrawn: 林晓燕 opened it at"):
        engine.withdraw(people["huangyong"], fid)
    assert engine.history(fid).state == "countersign"
    assert len(engine.inbox(people["yangfan"])) == 1


def test_the_initiator_may_withdraw_a_draft_returned_to_them(engine, people, item_of):
    fid = contract(engine, people, item_of, "dept_review")
    engine.open(people["qianxuejun"], item_of("qianxuejun", fid))
    engine.return_(people["qianxuejun"], item_of("qianxuejun", fid))
    engine.open(people["huangyong"], item_of("huangyong", fid))  # their own look does not count
    assert engine.withdraw(people["huangyong"], fid).state == "withdrawn"
    assert engine.inbox(people["huangyong"]) == []
    assert_effects_in_order(engine, fid)


def test_an_unsubmitted_draft_can_be_withdrawn(engine, people, item_of):
    fid = engine.start(people["huangyong"], "contract_review", CONTRACT, submit=False).flow_id
    assert [r.step_name for r in engine.inbox(people["huangyong"])] == ["起草"]
    assert engine.withdraw(people["huangyong"], fid).state == "withdrawn"
    assert engine.inbox(people["huangyong"]) == []
