"""Incoming document (收文处理) end to end: register, propose, instruct, handle — and the early ends."""

from __future__ import annotations

import pytest

from tests.engine.helpers import assert_effects_in_order
from workflow.errors import InvalidAction, PeopleInvalid, WaitingRuleUnmet

DOCUMENT = {
    "source_unit": "上海市住房和城乡建设管理委员会",
    "original_number": "沪建〔2026〕12号",
    "title": "关于开展2026年度安全生产检查的通知",
    "urgency": "urgent",
    "confidentiality": "internal",
    "received_on": "2026-03-01",
    "copies": "2",
}
TITLE = DOCUMENT["title"]


def parts(engine, flow_id, step):
    visit = [v for v in engine.history(flow_id).visits if v.step == step][-1]
    return [(p.name, p.role, p.status, p.action, p.opinion) for p in visit.people]


def register(engine, people, clerk="wangfang"):
    out = engine.start(people[clerk], "incoming_document", DOCUMENT, opinion="已登记，请主任拟办")
    assert out.state == "propose"
    return out.flow_id


def to_instruct(engine, people, item_of, leader="liuhaitao"):
    fid = register(engine, people)
    engine.forward(
        people["liming"], item_of("liming", fid), host=people[leader], opinion="拟请刘总批示"
    )
    return fid


def test_the_clerk_registers_and_the_office_director_proposes(engine, people, item_of):
    fid = register(engine, people)
    record = engine.history(fid)
    assert record.title == TITLE and record.form["copies"] == 2
    assert [r.title for r in engine.inbox(people["liming"])] == [TITLE]
    assert parts(engine, fid, "register") == [
        ("王芳", "host", "done", "forward", "已登记，请主任拟办")
    ]
    (forward,) = [
        a for a in engine.available_actions(people["liming"], item_of("liming", fid))
        if a["action"] == "forward"
    ]  # fmt: skip
    (option,) = forward["options"]
    assert option["step"] == "instruct" and option["host"]["choose"] is True
    leaders = {people[x] for x in ("zhangjianguo", "chenzhiqiang", "liuhaitao")}
    assert set(option["host"]["ids"]) == leaders


def test_document_is_instructed_handled_and_completed(engine, people, item_of):
    fid = to_instruct(engine, people, item_of)
    assert [(r.step_name, r.role) for r in engine.inbox(people["liuhaitao"])] == [("批办", "host")]
    assert engine.inbox(people["chenzhiqiang"]) == []

    engine.forward(
        people["liuhaitao"], item_of("liuhaitao", fid), host=people["huzhigang"],
        handlers=[people["gaofeng"], people["luobin"]], opinion="请工程管理部牵头落实",
    )  # fmt: skip
    assert engine.history(fid).state == "handle"
    for login, role in (("huzhigang", "host"), ("gaofeng", "handler"), ("luobin", "handler")):
        assert [(r.title, r.step_name, r.role) for r in engine.inbox(people[login])] == [
            (TITLE, "承办", role)
        ]

    host_item = item_of("huzhigang", fid)
    with pytest.raises(WaitingRuleUnmet, match="still waiting for: 高峰, 罗斌"):
        engine.end(people["huzhigang"], host_item, opinion="已办结")
    actions = engine.available_actions(people["huzhigang"], host_item)
    assert [a["action"] for a in actions] == ["end", "return"]
    assert actions[0]["outcomes"] == ["rejected"] and "高峰" in actions[0]["waiting"]
    assert engine.available_actions(people["gaofeng"], item_of("gaofeng", fid)) == [
        {"action": "finish"}
    ]

    engine.finish(people["gaofeng"], item_of("gaofeng", fid), opinion="已完成现场检查")
    with pytest.raises(WaitingRuleUnmet, match=r"1 done\); still waiting for: 罗斌"):
        engine.end(people["huzhigang"], host_item)
    engine.finish(people["luobin"], item_of("luobin", fid), opinion="隐患已整改")
    out = engine.end(people["huzhigang"], host_item, opinion="已办结，归档")

    assert out.state == "ended"
    record = engine.history(fid)
    assert (record.state, record.outcome) == ("ended", "approved")
    assert [v.step for v in record.visits] == ["register", "propose", "instruct", "handle"]
    assert parts(engine, fid, "handle") == [
        ("胡志刚", "host", "done", "end", "已办结，归档"),
        ("高峰", "handler", "done", "finish", "已完成现场检查"),
        ("罗斌", "handler", "done", "finish", "隐患已整改"),
    ]
    assert parts(engine, fid, "instruct") == [
        ("刘海涛", "host", "done", "forward", "请工程管理部牵头落实")
    ]
    assert [r.title for r in engine.done(people["gaofeng"])] == [TITLE]
    assert engine.started(people["wangfang"])[0]["state"] == "ended"
    assert all(engine.inbox(uid) == [] for uid in people.values())
    assert_effects_in_order(engine, fid)


def test_the_general_manager_may_be_chosen_to_instruct(engine, people, item_of):
    fid = to_instruct(engine, people, item_of, leader="zhangjianguo")
    assert [r.step_name for r in engine.inbox(people["zhangjianguo"])] == ["批办"]
    engine.end(people["zhangjianguo"], item_of("zhangjianguo", fid), opinion="阅")
    assert engine.history(fid).outcome == "approved"


def test_the_office_director_cannot_instruct(engine, people, item_of):
    fid = register(engine, people)
    with pytest.raises(PeopleInvalid, match="李明 may not host step 'instruct'"):
        engine.forward(people["liming"], item_of("liming", fid), host=people["liming"])
    assert engine.history(fid).state == "propose"


def test_handling_without_handlers_ends_at_once(engine, people, item_of):
    fid = to_instruct(engine, people, item_of)
    engine.forward(
        people["liuhaitao"], item_of("liuhaitao", fid), host=people["wujing"], handlers=[]
    )
    assert parts(engine, fid, "handle") == [("吴静", "host", "open", None, None)]
    with pytest.raises(InvalidAction, match="it can only end the flow"):
        engine.forward(people["wujing"], item_of("wujing", fid))
    assert engine.end(people["wujing"], item_of("wujing", fid)).state == "ended"
    assert_effects_in_order(engine, fid)


def test_the_office_director_files_it_at_propose(engine, people, item_of):
    fid = register(engine, people)
    out = engine.end(people["liming"], item_of("liming", fid), opinion="存档备查")
    assert out.state == "ended"
    record = engine.history(fid)
    assert (record.state, record.outcome) == ("ended", "approved")
    assert [v.step for v in record.visits] == ["register", "propose"]
    assert parts(engine, fid, "propose") == [("李明", "host", "done", "end", "存档备查")]
    assert engine.inbox(people["liming"]) == []
    assert_effects_in_order(engine, fid)


def test_the_leader_reads_it_and_ends_it_at_instruct(engine, people, item_of):
    fid = to_instruct(engine, people, item_of, leader="chenzhiqiang")
    out = engine.end(people["chenzhiqiang"], item_of("chenzhiqiang", fid), opinion="阅知")
    assert out.state == "ended"
    record = engine.history(fid)
    assert [v.step for v in record.visits] == ["register", "propose", "instruct"]
    assert parts(engine, fid, "instruct") == [("陈志强", "host", "done", "end", "阅知")]
    assert record.outcome == "approved"
    assert_effects_in_order(engine, fid)


def test_a_clerk_of_another_unit_registers_too(engine, people, item_of):
    fid = register(engine, people, clerk="hanmei")
    assert engine.history(fid).initiator == "韩梅"
    assert [r.initiator for r in engine.inbox(people["liming"])] == ["韩梅"]
