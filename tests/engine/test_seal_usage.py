"""Seal usage (印章使用) end to end: company and contract seals go straight to the seal keeper, the
legal representative's seal through the general manager."""

from __future__ import annotations

import pytest

from tests.engine.helpers import assert_effects_in_order
from workflow.errors import InvalidAction

REQUEST = {
    "title": "第一项目部施工许可申请材料",
    "copies": "3",
    "purpose": "报送区建设局办理施工许可",
}


def apply(engine, people, seal):
    out = engine.start(people["gaofeng"], "seal_usage", {**REQUEST, "seal": seal})
    assert out.state == "dept_review"
    assert [(r.title, r.step_name) for r in engine.inbox(people["huzhigang"])] == [
        ("第一项目部施工许可申请材料", "部门负责人审核")
    ]
    return out.flow_id


def next_steps(engine, user_id, item_id):
    (forward,) = [a for a in engine.available_actions(user_id, item_id) if a["action"] == "forward"]
    return [o["step"] for o in forward["options"]]


def walk(engine, flow_id):
    return [
        (v.step, [(p.name, p.action, p.opinion) for p in v.people])
        for v in engine.history(flow_id).visits
    ]


@pytest.mark.parametrize("seal", ["company", "contract"])
def test_an_ordinary_seal_goes_from_the_department_to_the_seal_keeper(
    engine, people, item_of, seal
):
    fid = apply(engine, people, seal)
    item = item_of("huzhigang", fid)
    assert next_steps(engine, people["huzhigang"], item) == ["sealing"]
    assert engine.forward(people["huzhigang"], item, opinion="同意用印").state == "sealing"
    assert engine.inbox(people["zhangjianguo"]) == []
    assert [r.step_name for r in engine.inbox(people["sunli"])] == ["印章管理员用印"]

    out = engine.end(people["sunli"], item_of("sunli", fid), opinion="已盖章 3 份")
    assert out.state == "ended"
    record = engine.history(fid)
    assert (record.state, record.outcome, record.form["copies"]) == ("ended", "approved", 3)
    assert walk(engine, fid) == [
        ("apply", [("高峰", "forward", None)]),
        ("dept_review", [("胡志刚", "forward", "同意用印")]),
        ("sealing", [("孙丽", "end", "已盖章 3 份")]),
    ]
    assert_effects_in_order(engine, fid)


def test_the_legal_representatives_seal_needs_the_general_manager(engine, people, item_of):
    fid = apply(engine, people, "legal_representative")
    item = item_of("huzhigang", fid)
    assert next_steps(engine, people["huzhigang"], item) == ["gm_review"]
    assert engine.forward(people["huzhigang"], item, opinion="同意").state == "gm_review"
    assert [r.step_name for r in engine.inbox(people["zhangjianguo"])] == ["总经理审批"]
    assert engine.inbox(people["sunli"]) == []

    engine.forward(people["zhangjianguo"], item_of("zhangjianguo", fid), opinion="同意使用法人章")
    out = engine.end(people["sunli"], item_of("sunli", fid), opinion="已盖章")
    assert out.state == "ended"
    assert walk(engine, fid) == [
        ("apply", [("高峰", "forward", None)]),
        ("dept_review", [("胡志刚", "forward", "同意")]),
        ("gm_review", [("张建国", "forward", "同意使用法人章")]),
        ("sealing", [("孙丽", "end", "已盖章")]),
    ]
    assert engine.history(fid).outcome == "approved"
    assert_effects_in_order(engine, fid)


def test_the_general_manager_refuses_the_legal_representatives_seal(engine, people, item_of):
    fid = apply(engine, people, "legal_representative")
    engine.forward(people["huzhigang"], item_of("huzhigang", fid))
    engine.end(
        people["zhangjianguo"], item_of("zhangjianguo", fid), outcome="rejected", opinion="改用公章"
    )
    record = engine.history(fid)
    assert (record.state, record.outcome) == ("ended", "rejected")
    assert engine.inbox(people["sunli"]) == []
    assert_effects_in_order(engine, fid)


def test_a_company_seal_cannot_be_sent_to_the_general_manager(engine, people, item_of):
    fid = apply(engine, people, "company")
    with pytest.raises(
        InvalidAction, match="condition \"seal == 'legal_representative'\" does not hold"
    ):
        engine.forward(people["huzhigang"], item_of("huzhigang", fid), to="gm_review")
    assert engine.history(fid).state == "dept_review"
