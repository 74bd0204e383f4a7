"""Contract review (合同评审) end to end along each branch: small, large, veto, rejection, return."""

from __future__ import annotations

import pytest

from tests.engine.helpers import assert_effects_in_order
from workflow.errors import InvalidAction, WaitingRuleUnmet

CONTRACT = {
    "title": "办公楼空调采购合同",
    "counterparty": "上海申能机电有限公司",
    "amount": "680000",
    "contract_type": "purchase",
    "summary": "采购空调 40 台",
}


def steps(engine, flow_id):
    return [v.step for v in engine.history(flow_id).visits]


def parts(engine, flow_id, step):
    """(name, role, status, action, decision, opinion) of the latest visit of ``step``."""
    visit = [v for v in engine.history(flow_id).visits if v.step == step][-1]
    return [(p.name, p.role, p.status, p.action, p.decision, p.opinion) for p in visit.people]


def inbox_titles(engine, user_id):
    return [(r.title, r.step_name, r.role) for r in engine.inbox(user_id)]


def to_countersign(engine, people, item_of, amount):
    flow = engine.start(people["huangyong"], "contract_review", {**CONTRACT, "amount": amount})
    engine.forward(people["qianxuejun"], item_of("qianxuejun", flow.flow_id), opinion="同意送会签")
    return flow.flow_id


def to_leader_review(engine, people, item_of, amount):
    fid = to_countersign(engine, people, item_of, amount)
    engine.sign(people["yangfan"], item_of("yangfan", fid), opinion="条款合规")
    engine.sign(people["linxiaoyan"], item_of("linxiaoyan", fid), opinion="预算已落实")
    engine.forward(people["liming"], item_of("liming", fid), host=people["chenzhiqiang"])
    return fid


def test_below_500000_the_deputy_director_sends_it_straight_to_sealing(engine, people, item_of):
    fid = to_leader_review(engine, people, item_of, "499999.99")
    item = item_of("chenzhiqiang", fid)
    (forward,) = [
        a
        for a in engine.available_actions(people["chenzhiqiang"], item)
        if a["action"] == "forward"
    ]
    assert [o["step"] for o in forward["options"]] == ["sealing"]

    out = engine.forward(people["chenzhiqiang"], item, opinion="同意")
    assert out.state == "sealing"
    assert inbox_titles(engine, people["sunli"]) == [("办公楼空调采购合同", "用印", "host")]
    assert engine.inbox(people["zhangjianguo"]) == []

    end = engine.end(people["sunli"], item_of("sunli", fid), opinion="已加盖合同专用章")
    assert end.state == "ended"
    record = engine.history(fid)
    assert (record.state, record.outcome) == ("ended", "approved")
    assert steps(engine, fid) == ["draft", "dept_review", "countersign", "leader_review", "sealing"]
    assert engine.started(people["huangyong"])[0]["outcome"] == "approved"
    assert all(engine.inbox(uid) == [] for uid in people.values())
    assert_effects_in_order(engine, fid)


def test_from_500000_the_general_manager_approves_before_sealing(engine, people, item_of):
    fid = to_leader_review(engine, people, item_of, "500000")
    item = item_of("chenzhiqiang", fid)
    (forward,) = [
        a
        for a in engine.available_actions(people["chenzhiqiang"], item)
        if a["action"] == "forward"
    ]
    assert [o["step"] for o in forward["options"]] == ["gm_review"]

    assert engine.forward(people["chenzhiqiang"], item).state == "gm_review"
    assert inbox_titles(engine, people["zhangjianguo"]) == [
        ("办公楼空调采购合同", "总经理审批", "host")
    ]
    engine.forward(people["zhangjianguo"], item_of("zhangjianguo", fid), opinion="同意签订")
    engine.end(people["sunli"], item_of("sunli", fid))

    record = engine.history(fid)
    assert (record.state, record.outcome) == ("ended", "approved")
    assert steps(engine, fid) == [
        "draft", "dept_review", "countersign", "leader_review", "gm_review", "sealing",
    ]  # fmt: skip
    assert parts(engine, fid, "gm_review") == [
        ("张建国", "host", "done", "forward", None, "同意签订")
    ]
    assert_effects_in_order(engine, fid)


def test_countersign_waits_for_both_legal_and_finance(engine, people, item_of):
    fid = to_countersign(engine, people, item_of, "120000")
    assert parts(engine, fid, "countersign") == [
        ("李明", "host", "open", None, None, None),
        ("林晓燕", "co_signer", "open", None, None, None),
        ("杨帆", "co_signer", "open", None, None, None),
    ]
    engine.sign(people["yangfan"], item_of("yangfan", fid), opinion="条款合规")
    with pytest.raises(WaitingRuleUnmet, match="still waiting for: 林晓燕"):
        engine.forward(people["liming"], item_of("liming", fid), host=people["liuhaitao"])
    engine.sign(people["linxiaoyan"], item_of("linxiaoyan", fid))
    out = engine.forward(people["liming"], item_of("liming", fid), host=people["liuhaitao"])
    assert out.state == "leader_review"
    assert inbox_titles(engine, people["liuhaitao"]) == [
        ("办公楼空调采购合同", "分管领导审批", "host")
    ]
    assert engine.inbox(people["chenzhiqiang"]) == []


def test_a_legal_veto_stops_the_countersign_and_the_contract_ends_rejected(engine, people, item_of):
    fid = to_countersign(engine, people, item_of, "120000")
    engine.sign(
        people["yangfan"], item_of("yangfan", fid), decision="reject", opinion="违约条款不可接受"
    )
    # finance no longer needs to sign: the item left the inbox, cancelled, never handled
    assert engine.inbox(people["linxiaoyan"]) == []
    visit = engine.history(fid).visits[-1]
    assert visit.rejected is True
    assert parts(engine, fid, "countersign") == [
        ("李明", "host", "open", None, None, None),
        ("林晓燕", "co_signer", "cancelled", None, None, None),
        ("杨帆", "co_signer", "done", "sign", "reject", "违约条款不可接受"),
    ]
    host_item = item_of("liming", fid)
    actions = {a["action"]: a for a in engine.available_actions(people["liming"], host_item)}
    assert actions["forward"]["ready"] is False and "vetoed" in actions["forward"]["waiting"]
    assert actions["end"]["outcomes"] == ["rejected"]  # countersign cannot end, except vetoed

    with pytest.raises(WaitingRuleUnmet, match="vetoed"):
        engine.forward(people["liming"], host_item, host=people["chenzhiqiang"])
    assert engine.history(fid).state == "countersign"

    out = engine.end(people["liming"], host_item, outcome="rejected", opinion="法务否决，终止")
    assert out.state == "ended"
    record = engine.history(fid)
    assert (record.state, record.outcome) == ("ended", "rejected")
    assert engine.started(people["huangyong"])[0]["outcome"] == "rejected"
    assert engine.inbox(people["chenzhiqiang"]) == [] and engine.inbox(people["liuhaitao"]) == []
    assert_effects_in_order(engine, fid)


def test_the_department_head_rejects_the_contract(engine, people, item_of):
    fid = engine.start(people["huangyong"], "contract_review", CONTRACT).flow_id
    item = item_of("qianxuejun", fid)
    ends = [a for a in engine.available_actions(people["qianxuejun"], item) if a["action"] == "end"]
    assert ends == [
        {"action": "end", "ready": True, "waiting": None, "outcomes": ["approved", "rejected"]}
    ]

    out = engine.end(people["qianxuejun"], item, outcome="rejected", opinion="本年度预算不足")
    assert out.state == "ended"
    record = engine.history(fid)
    assert (record.state, record.outcome) == ("ended", "rejected")
    assert steps(engine, fid) == ["draft", "dept_review"]
    assert parts(engine, fid, "dept_review") == [
        ("钱学军", "host", "done", "end", None, "本年度预算不足")
    ]
    assert engine.inbox(people["liming"]) == []
    assert_effects_in_order(engine, fid)


def test_returning_from_leader_review_to_countersign_gives_legal_and_finance_new_items(
    engine, people, item_of
):
    fid = to_leader_review(engine, people, item_of, "300000")
    old = {p.name: p for p in engine.history(fid).visits[2].people}
    item = item_of("chenzhiqiang", fid)
    (ret,) = [
        a for a in engine.available_actions(people["chenzhiqiang"], item) if a["action"] == "return"
    ]
    assert ret["default"] == "countersign"

    out = engine.return_(people["chenzhiqiang"], item, opinion="请补充付款条件意见")
    assert out.state == "countersign"
    assert len(out.delivered) == 3
    for login in ("liming", "yangfan", "linxiaoyan"):
        new = item_of(login, fid)
        assert new in out.delivered and new not in [p.item_id for p in old.values()]
    visits = engine.history(fid).visits
    assert [(v.step, v.via) for v in visits[-2:]] == [
        ("leader_review", "forward"),
        ("countersign", "return"),
    ]
    assert {p.name: p for p in visits[2].people} == old  # the first countersign is untouched
    assert parts(engine, fid, "leader_review") == [
        ("陈志强", "host", "done", "return", None, "请补充付款条件意见")
    ]

    engine.sign(people["yangfan"], item_of("yangfan", fid), opinion="仍然合规")
    engine.sign(people["linxiaoyan"], item_of("linxiaoyan", fid), opinion="分三期付款")
    engine.forward(people["liming"], item_of("liming", fid), host=people["chenzhiqiang"])
    engine.forward(people["chenzhiqiang"], item_of("chenzhiqiang", fid))
    engine.end(people["sunli"], item_of("sunli", fid))
    assert engine.history(fid).outcome == "approved"
    assert steps(engine, fid) == [
        "draft", "dept_review", "countersign", "leader_review",
        "countersign", "leader_review", "sealing",
    ]  # fmt: skip
    assert_effects_in_order(engine, fid)


def test_countersign_cannot_end_the_flow_unless_vetoed(engine, people, item_of):
    fid = to_countersign(engine, people, item_of, "120000")
    item = item_of("liming", fid)
    assert "end" not in [a["action"] for a in engine.available_actions(people["liming"], item)]
    with pytest.raises(InvalidAction, match=r"'会签' \(countersign\) cannot end the flow"):
        engine.end(people["liming"], item, outcome="rejected")
