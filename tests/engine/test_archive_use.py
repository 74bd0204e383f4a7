"""Archive use (档案利用) end to end: consult and copy end at the archivist; a loan is lent and returned."""

from __future__ import annotations

import pytest

from tests.engine.helpers import assert_effects_in_order
from workflow.errors import InvalidAction

REQUEST = {
    "archive_name": "2019年度财务凭证",
    "archive_number": "CW-2019-017",
    "reason": "年度审计需要核对原始凭证",
}


def to_archivist(engine, people, item_of, purpose, **extra):
    out = engine.start(people["heting"], "archive_use", {**REQUEST, "purpose": purpose, **extra})
    assert out.state == "dept_review"
    assert [(r.title, r.role) for r in engine.inbox(people["yangfan"])] == [
        ("2019年度财务凭证", "host")
    ]
    engine.forward(people["yangfan"], item_of("yangfan", out.flow_id), opinion="同意")
    assert [r.step_name for r in engine.inbox(people["zhaomin"])] == ["档案管理员办理"]
    return out.flow_id


def walk(engine, flow_id):
    return [
        (v.step, [(p.name, p.action) for p in v.people]) for v in engine.history(flow_id).visits
    ]


@pytest.mark.parametrize("purpose", ["consult", "copy"])
def test_consulting_or_copying_ends_at_the_archivist(engine, people, item_of, purpose):
    fid = to_archivist(engine, people, item_of, purpose)
    item = item_of("zhaomin", fid)
    actions = [a["action"] for a in engine.available_actions(people["zhaomin"], item)]
    assert actions == ["end", "return"]  # no forward: lending is for loans only
    with pytest.raises(InvalidAction, match="no next step for this form; it can only end the flow"):
        engine.forward(people["zhaomin"], item)

    out = engine.end(people["zhaomin"], item, opinion="已在档案室查阅")
    assert out.state == "ended"
    record = engine.history(fid)
    assert (record.state, record.outcome) == ("ended", "approved")
    assert walk(engine, fid) == [
        ("apply", [("何婷", "forward")]),
        ("dept_review", [("杨帆", "forward")]),
        ("archivist_review", [("赵敏", "end")]),
    ]
    assert engine.inbox(people["zhaomin"]) == []
    assert_effects_in_order(engine, fid)


def test_a_loan_is_lent_returned_and_ended(engine, people, item_of, clock):
    fid = to_archivist(engine, people, item_of, "borrow", return_date="2026-03-20")
    assert engine.history(fid).form["return_date"] == "2026-03-20"

    first = item_of("zhaomin", fid)
    assert engine.forward(people["zhaomin"], first, opinion="同意借出").state == "lend"
    second = item_of("zhaomin", fid)
    assert second != first
    assert [r.step_name for r in engine.inbox(people["zhaomin"])] == ["借出"]
    with pytest.raises(InvalidAction, match=r"'借出' \(lend\) cannot end the flow"):
        engine.end(people["zhaomin"], second)

    engine.forward(people["zhaomin"], second, opinion="已借出，原件一册")
    clock.advance(days=14)
    third = item_of("zhaomin", fid)
    assert [r.step_name for r in engine.inbox(people["zhaomin"])] == ["归还确认"]
    engine.open(people["zhaomin"], third)
    out = engine.end(people["zhaomin"], third, opinion="已归还，完好")

    assert out.state == "ended"
    record = engine.history(fid)
    assert (record.state, record.outcome) == ("ended", "approved")
    assert walk(engine, fid) == [
        ("apply", [("何婷", "forward")]),
        ("dept_review", [("杨帆", "forward")]),
        ("archivist_review", [("赵敏", "forward")]),
        ("lend", [("赵敏", "forward")]),
        ("returned", [("赵敏", "end")]),
    ]
    (keeper,) = record.visits[-1].people  # the file came back two weeks after it was lent
    assert (keeper.confirmed_at - keeper.delivered_at).days == 14
    assert keeper.confirmed_at < keeper.handled_at
    assert [r.step_name for r in engine.done(people["zhaomin"])] == [
        "归还确认",
        "借出",
        "档案管理员办理",
    ]
    assert_effects_in_order(engine, fid)


def test_the_department_head_refuses_the_request(engine, people, item_of):
    out = engine.start(people["heting"], "archive_use", {**REQUEST, "purpose": "borrow"})
    engine.end(
        people["yangfan"],
        item_of("yangfan", out.flow_id),
        outcome="rejected",
        opinion="无需借阅原件",
    )
    record = engine.history(out.flow_id)
    assert (record.state, record.outcome) == ("ended", "rejected")
    assert engine.inbox(people["zhaomin"]) == []
    assert_effects_in_order(engine, out.flow_id)
