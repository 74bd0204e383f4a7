"""Removing a leaver and moving a person: reassignment on each flow's chain, one transaction each."""

from __future__ import annotations

import pytest
from sqlalchemy import select, update

from tests.conftest import ROOT
from tests.engine.test_incoming_document import DOCUMENT, register, to_instruct
from workflow.audit import verify_all
from workflow.engine.registry import store_definition
from workflow.errors import (
    Conflict,
    Forbidden,
    FormInvalid,
    Hidden,
    InvalidAction,
    NotFound,
    WaitingRuleUnmet,
)
from workflow.integrity import check_flow, verify_trail
from workflow.org import leavers
from workflow.store.models import AuditEvent, SignInSession, User, WorkItem


def assert_trail_clean(engine):
    report = verify_trail(engine.db)
    assert report.broken == [] and report.mismatches == [], [str(m) for m in report.mismatches]


def admin_events(engine, kind):
    with engine.db.read() as s:
        return list(
            s.scalars(
                select(AuditEvent.data).where(AuditEvent.chain == "admin", AuditEvent.kind == kind)
            )
        )


def three_for_liming(engine, people):
    return [register(engine, people) for _ in range(3)]


def test_removing_a_leaver_hands_every_open_item_to_the_successor(engine, people, item_of, clock):
    flows = three_for_liming(engine, people)
    versions = {f: engine.history(f).version for f in flows}
    with engine.db.write() as s:
        s.add(SignInSession(id="s1", user_id=people["liming"], created_at=clock(),
                            last_seen_at=clock()))  # fmt: skip
    plan = leavers.plan(engine, people["fenglei"], people["liming"])
    assert [(i.flow_id, i.step_name, i.role) for i in plan.items] == [
        (f, "拟办", "host") for f in flows
    ]

    out = leavers.remove(engine, people["fenglei"], people["liming"], people["zhaomin"], at=clock())

    assert [(h.flow_id, h.role, h.kept) for h in out.handed] == [(f, "host", False) for f in flows]
    assert out.sessions_ended == 1 and out.person.status == "removed"
    assert out.person.removed_by == "冯磊"
    assert engine.inbox(people["liming"]) == []
    assert sorted(r.flow_id for r in engine.inbox(people["zhaomin"])) == flows
    for f in flows:
        record = engine.history(f)
        assert record.version == versions[f] + 1  # the leaver's open page is outdated
        (visit,) = [v for v in record.visits if v.step == "propose"]
        assert [(p.name, p.status, p.action) for p in visit.people] == [
            ("李明", "cancelled", "reassign"),
            ("赵敏", "open", None),
        ]
    with engine.db.read() as s:
        ended = s.scalar(select(SignInSession.ended_at).where(SignInSession.id == "s1"))
        user = s.execute(select(User).where(User.id == people["liming"])).scalar_one()
        reassigns = s.scalars(select(AuditEvent.data).where(AuditEvent.kind == "reassign")).all()
    assert ended is not None and user.removed_by == people["fenglei"]
    assert {(d["from_name"], d["to_name"], d["reason"], d["by_name"]) for d in reassigns} == {
        ("李明", "赵敏", "leaver", "冯磊")
    }
    (logged,) = admin_events(engine, "person_remove")
    assert logged["after"]["reassigned"] == 3 and logged["after"]["sessions_ended"] == 1
    assert_trail_clean(engine)
    # The successor carries the flows on; the record keeps the leaver's name.
    engine.forward(people["zhaomin"], item_of("zhaomin", flows[0]), host=people["liuhaitao"])
    assert "李明" in [p.name for v in engine.history(flows[0]).visits for p in v.people]
    assert_trail_clean(engine)


def test_the_leaver_can_no_longer_act(engine, people, item_of, clock):
    fid = register(engine, people)
    item = item_of("liming", fid)
    version = engine.history(fid).version
    leavers.remove(engine, people["fenglei"], people["liming"], people["zhaomin"], at=clock())
    with pytest.raises(NotFound) as refused:
        engine.forward(people["liming"], item, host=people["liuhaitao"], version=version)
    assert refused.value.code == "actor_not_active"


def test_flows_the_leaver_started_stay_open_and_name_them(engine, people, item_of, clock):
    fid = register(engine, people, clerk="wangfang")
    out = leavers.remove(engine, people["fenglei"], people["wangfang"], None, at=clock())
    assert out.handed == [] and out.started == [(fid, DOCUMENT["title"])]
    record = engine.history(fid)
    assert record.state == "propose" and record.initiator == "王芳"


def test_a_successor_must_be_active_and_someone_else(engine, people, clock):
    register(engine, people)
    with engine.db.write() as s:
        s.execute(update(User).where(User.id == people["wujing"]).values(status="invited"))
    leavers.remove(engine, people["fenglei"], people["sunli"], None, at=clock())
    cases = {None: "successor_required", people["liming"]: "successor_is_person",
             people["sunli"]: "successor_removed", people["wujing"]: "successor_invited",
             99999: "successor_unknown"}  # fmt: skip
    for successor, code in cases.items():
        with pytest.raises(FormInvalid) as refused:
            leavers.remove(engine, people["fenglei"], people["liming"], successor, at=clock())
        assert refused.value.errors["successor"].code == code
    # nothing was written by the refused attempts
    assert [r.step for r in engine.inbox(people["liming"])] == ["propose"]
    assert len(admin_events(engine, "person_remove")) == 1


def test_removing_twice_says_who_did_it_and_when(engine, people, clock):
    leavers.remove(engine, people["fenglei"], people["songjia"], None, at=clock())
    with pytest.raises(Conflict) as refused:
        leavers.remove(engine, people["zhouwei"], people["songjia"], None, at=clock())
    assert refused.value.code == "person_already_removed"
    assert "冯磊" in str(refused.value) and "2026-03-02" in str(refused.value)


def test_strangers_and_self_and_the_main_administrator(engine, people, clock):
    with pytest.raises(Hidden):  # 财务部's sub-administrator does not see the office
        leavers.plan(engine, people["linxiaoyan"], people["liming"])
    with pytest.raises(Hidden):
        leavers.remove(engine, people["linxiaoyan"], people["liming"], None, at=clock())
    with pytest.raises(Hidden):  # not an administrator at all
        leavers.remove(engine, people["wujing"], people["songjia"], None, at=clock())
    with pytest.raises(Forbidden, match="yourself"):
        leavers.remove(engine, people["fenglei"], people["fenglei"], None, at=clock())
    with pytest.raises(Forbidden, match="main administrator"):
        leavers.remove(engine, people["fenglei"], people["zhouwei"], None, at=clock())
    # within their scope, 林晓燕 removes a 财务部 person, choosing a 财务部 successor only
    with pytest.raises(FormInvalid):
        leavers.remove(engine, people["linxiaoyan"], people["mali"], people["liming"], at=clock())
    assert leavers.candidates(engine, people["linxiaoyan"], people["mali"]) == [
        (people["huangyong"], "黄勇", "财务部"),
        (people["linxiaoyan"], "林晓燕", "财务部"),
        (people["qianxuejun"], "钱学军", "财务部"),
    ]


def test_a_handler_successor_who_already_holds_the_part_keeps_one_item(
    engine, people, item_of, clock
):
    fid = to_instruct(engine, people, item_of)
    engine.forward(people["liuhaitao"], item_of("liuhaitao", fid), host=people["huzhigang"],
                   handlers=[people["gaofeng"], people["luobin"]])  # fmt: skip
    out = leavers.remove(engine, people["fenglei"], people["gaofeng"], people["luobin"], at=clock())
    (handed,) = out.handed
    assert handed.kept and handed.new_item == item_of("luobin", fid)
    visit = engine.history(fid).visits[-1]
    assert [(p.name, p.role, p.status) for p in visit.people] == [
        ("胡志刚", "host", "open"), ("高峰", "handler", "cancelled"), ("罗斌", "handler", "open")
    ]  # fmt: skip
    # the waiting rule waits for 罗斌 alone now, not for the leaver's closed item
    with pytest.raises(WaitingRuleUnmet, match=r"still waiting for: 罗斌$"):
        engine.end(people["huzhigang"], item_of("huzhigang", fid))
    engine.finish(people["luobin"], item_of("luobin", fid))
    assert engine.end(people["huzhigang"], item_of("huzhigang", fid)).state == "ended"
    assert_trail_clean(engine)


def test_a_handler_part_goes_to_a_new_handler(engine, people, item_of, clock):
    fid = to_instruct(engine, people, item_of)
    engine.forward(people["liuhaitao"], item_of("liuhaitao", fid), host=people["huzhigang"],
                   handlers=[people["gaofeng"]])  # fmt: skip
    leavers.remove(engine, people["fenglei"], people["gaofeng"], people["liangxue"], at=clock())
    with pytest.raises(WaitingRuleUnmet, match=r"still waiting for: 梁雪$"):
        engine.end(people["huzhigang"], item_of("huzhigang", fid))
    engine.finish(people["liangxue"], item_of("liangxue", fid), opinion="已落实")
    # a return to this step later goes to the successor, not the leaver
    engine.return_(people["huzhigang"], item_of("huzhigang", fid), to="instruct")
    engine.forward(people["liuhaitao"], item_of("liuhaitao", fid), host=people["huzhigang"],
                   handlers=[people["liangxue"]])  # fmt: skip
    assert_trail_clean(engine)


def test_tampering_with_a_reassignment_is_found(engine, people, clock):
    fid = register(engine, people)
    out = leavers.remove(engine, people["fenglei"], people["liming"], people["zhaomin"], at=clock())
    (handed,) = out.handed
    with engine.db.write() as s:
        s.execute(update(WorkItem).where(WorkItem.id == handed.new_item)
                  .values(user_id=people["wujing"]))  # fmt: skip
        s.execute(update(WorkItem).where(WorkItem.id == handed.old_item)
                  .values(status="open", action=None))  # fmt: skip
    with engine.db.read() as s:
        found = {(m.row, m.field) for m in check_flow(s, fid)}
    assert found == {
        (f"work item {handed.new_item}", "user_id"),
        (f"work item {handed.old_item}", "status"),
        (f"work item {handed.old_item}", "action"),
    }
    with engine.db.write() as s:  # and a rewritten event breaks the chain
        s.execute(update(AuditEvent).where(AuditEvent.kind == "reassign")
                  .values(data={"item": handed.old_item}))  # fmt: skip
    with engine.db.read() as s:
        assert verify_all(s)[1] != []


def test_moving_a_person_keeps_their_items_unless_ticked(engine, people, clock):
    a, b = register(engine, people), register(engine, people)
    with engine.db.read() as s:
        unit_before = s.scalar(select(WorkItem.unit_id).where(WorkItem.flow_id == a,
                                                               WorkItem.user_id == people["liming"]))  # fmt: skip
    items = {i.flow_id: i.item_id for i in leavers.plan(engine, people["fenglei"],
                                                         people["liming"]).items}  # fmt: skip
    out = leavers.move(engine, people["fenglei"], people["liming"], "engineering", at=clock(),
                       successor_id=people["wujing"], items=[items[b]])  # fmt: skip
    assert (out.unit_before, out.unit_after) == ("办公室", "工程管理部")
    assert [h.flow_id for h in out.handed] == [b]
    assert [r.flow_id for r in engine.inbox(people["liming"])] == [a]
    assert [r.flow_id for r in engine.inbox(people["wujing"])] == [b]
    with engine.db.read() as s:
        assert s.scalar(select(WorkItem.unit_id).where(WorkItem.id == items[a])) == unit_before
        data = s.scalars(select(AuditEvent.data).where(AuditEvent.kind == "reassign")).one()
    assert data["reason"] == "moved"
    (logged,) = admin_events(engine, "person_move")
    assert (logged["before"]["unit_name"], logged["after"]["unit_name"]) == ("办公室", "工程管理部")
    assert_trail_clean(engine)


def test_a_move_refuses_bad_units_by_the_field(engine, people, clock):
    for code, problem in (("nowhere", "move_unit_unknown"), ("office", "move_unit_same")):
        with pytest.raises(FormInvalid) as refused:
            leavers.move(engine, people["fenglei"], people["liming"], code, at=clock())
        assert refused.value.errors["unit"].code == problem
    with pytest.raises(FormInvalid) as refused:  # outside 林晓燕's scope: no such unit to her
        leavers.move(engine, people["linxiaoyan"], people["mali"], "office", at=clock())
    assert refused.value.errors["unit"].code == "move_unit_unknown"
    assert admin_events(engine, "person_move") == []


def test_definitions_naming_the_leaver_are_listed(engine, people, clock, tmp_path):
    source = (ROOT / "definitions" / "incoming_document.yaml").read_text(encoding="utf-8")
    source = source.replace("id: incoming_document", "id: incoming_by_name").replace(
        "host: {role: office_director}", "host: {user: liming}"
    )
    path = tmp_path / "incoming_by_name.yaml"
    path.write_text(source, encoding="utf-8")
    with engine.db.write() as s:
        store_definition(s, path, clock())
    line = source.splitlines().index("    host: {user: liming}") + 1
    where = [f"incoming_by_name.yaml:{line}"]
    assert leavers.plan(engine, people["fenglei"], people["liming"]).definitions == where
    assert leavers.plan(engine, people["fenglei"], people["wujing"]).definitions == []
    out = leavers.remove(engine, people["fenglei"], people["liming"], people["zhaomin"], at=clock())
    assert out.definitions == where
    (logged,) = admin_events(engine, "person_remove")
    assert logged["after"]["definitions"] == where


def test_a_step_whose_host_has_left_cannot_be_returned_to(engine, people, item_of, clock):
    fid = to_instruct(engine, people, item_of)  # 李明 proposed (done), 刘海涛 instructs
    leavers.remove(engine, people["fenglei"], people["liming"], people["zhaomin"], at=clock())
    with pytest.raises(InvalidAction) as refused:
        engine.return_(people["liuhaitao"], item_of("liuhaitao", fid), to="propose")
    assert refused.value.code == "return_host_left"
    assert "李明, who hosted step '拟办', has left" in str(refused.value)
    assert engine.history(fid).state == "instruct"
