"""Every refusal: the exact error, a message a person can act on, and nothing changed anywhere."""

from __future__ import annotations

import pytest

from workflow.engine.registry import store_definition
from workflow.errors import (
    AlreadyHandled,
    BanliError,
    FlowClosed,
    Forbidden,
    FormInvalid,
    InvalidAction,
    NotYourItem,
    PeopleInvalid,
    RoleNotAllowed,
    StaleVersion,
)

CONTRACT = {"title": "办公楼空调采购合同", "counterparty": "上海申能机电有限公司",
            "amount": "680000", "contract_type": "purchase", "summary": "采购空调 40 台"}  # fmt: skip
SEAL = {"title": "施工许可申请材料", "seal": "company", "copies": "3", "purpose": "报送建设局"}
ERRAND = """\
id: errand
name: {zh: 协办事项, en: Errand}
title: "{subject}"
form:
  - {key: subject, type: text, required: true, label: {zh: 事项, en: Subject}}
  - {key: helper, type: user, label: {zh: 协助人, en: Helper}}
steps:
  draft: {name: {zh: 起草, en: Draft}, host: initiator, next: [review]}
  review:
    name: {zh: 审核, en: Review}
    host: {role: unit_head, of: initiator}
    handlers: {choose_from: [{role: finance}, {role: legal}]}
    can_end: true
"""


@pytest.fixture
def errand(engine, tmp_path):
    """A small extra definition with a user field and handlers chosen among finance and legal."""
    path = tmp_path / "errand.yaml"
    path.write_text(ERRAND, encoding="utf-8")
    with engine.db.write() as s:
        store_definition(s, path, engine.clock())
    return "errand"


def snapshot(engine, people, flow_id=None):
    flow = engine.history(flow_id) if flow_id else None
    boxes = {login: engine.inbox(uid, limit=500) for login, uid in people.items()}
    return flow, boxes, {login: engine.started(uid) for login, uid in people.items()}


def refused(engine, people, flow_id, error, fragment, action):
    """Run ``action``; it must raise exactly ``error`` saying ``fragment`` and change nothing."""
    before = snapshot(engine, people, flow_id)
    with pytest.raises(BanliError) as caught:
        action()
    assert type(caught.value) is error, f"{type(caught.value).__name__}: {caught.value}"
    assert fragment in caught.value.message
    assert snapshot(engine, people, flow_id) == before
    return caught.value


def contract(engine, people, amount="680000", **kw):
    return engine.start(
        people["huangyong"], "contract_review", {**CONTRACT, "amount": amount}, **kw
    ).flow_id


def at_countersign(engine, people, item_of, amount="680000", signed=()):
    fid = contract(engine, people, amount)
    engine.forward(people["qianxuejun"], item_of("qianxuejun", fid))
    for login in signed:
        engine.sign(people[login], item_of(login, fid))
    return fid


def handled_at(engine, flow_id, name):
    times = [
        p.handled_at for v in engine.history(flow_id).visits for p in v.people if p.name == name
    ]
    return engine.local(times[-1])


def test_someone_elses_item(engine, people, item_of):
    fid = contract(engine, people)
    item = item_of("qianxuejun", fid)
    for act in (engine.forward, engine.end, engine.return_, engine.open):
        refused(engine, people, fid, NotYourItem, "belongs to 钱学军, not to you",
                lambda act=act: act(people["wujing"], item))  # fmt: skip


def test_a_co_signer_is_not_the_host_and_the_host_not_a_co_signer(engine, people, item_of):
    fid = at_countersign(engine, people, item_of, signed=("linxiaoyan",))
    mine, host = item_of("yangfan", fid), item_of("liming", fid)
    refused(engine, people, fid, RoleNotAllowed, "only the host of this step may do this; you are a co-signer",
            lambda: engine.forward(people["yangfan"], mine, host=people["chenzhiqiang"]))  # fmt: skip
    refused(engine, people, fid, RoleNotAllowed, "only a co-signer of this step may do this; you are the host",
            lambda: engine.sign(people["liming"], host))  # fmt: skip
    refused(engine, people, fid, RoleNotAllowed, "only a handler of this step may do this; you are a co-signer",
            lambda: engine.finish(people["yangfan"], mine))  # fmt: skip


def test_a_second_forward_of_the_same_item(engine, people, item_of):
    fid = contract(engine, people)
    item = item_of("qianxuejun", fid)
    engine.forward(people["qianxuejun"], item)
    err = refused(engine, people, fid, AlreadyHandled,
                  f"this work item was already handled by 钱学军 at {handled_at(engine, fid, '钱学军')}",
                  lambda: engine.forward(people["qianxuejun"], item))  # fmt: skip
    assert err.params["by"] == "钱学军"


def test_a_co_signer_acts_after_the_host_returned_the_step(engine, people, item_of):
    fid = at_countersign(engine, people, item_of)
    mine = item_of("yangfan", fid)
    engine.return_(people["liming"], item_of("liming", fid), opinion="金额有误")
    refused(engine, people, fid, AlreadyHandled,
            f"this step was already handled by 李明 at {handled_at(engine, fid, '李明')}",
            lambda: engine.sign(people["yangfan"], mine))  # fmt: skip


def test_a_co_signer_acts_after_the_other_vetoed(engine, people, item_of):
    fid = at_countersign(engine, people, item_of)
    mine = item_of("linxiaoyan", fid)
    engine.sign(people["yangfan"], item_of("yangfan", fid), decision="reject", opinion="不合规")
    err = refused(engine, people, fid, AlreadyHandled, "杨帆",
                  lambda: engine.sign(people["linxiaoyan"], mine))  # fmt: skip
    assert handled_at(engine, fid, "杨帆") in err.message and "?" not in err.message


def test_a_page_that_saw_an_older_version(engine, people, item_of):
    fid = at_countersign(engine, people, item_of, signed=("yangfan",))
    seen = engine.history(fid).version
    engine.sign(people["linxiaoyan"], item_of("linxiaoyan", fid))
    refused(engine, people, fid, StaleVersion,
            f"changed since your page was loaded (version {seen}, now {seen + 1})",
            lambda: engine.forward(people["liming"], item_of("liming", fid),
                                   host=people["chenzhiqiang"], version=seen))  # fmt: skip


def test_forward_to_a_step_that_is_not_next(engine, people, item_of):
    fid = contract(engine, people)
    refused(engine, people, fid, InvalidAction,
            "'archive' is not a next step of 'dept_review'; the next steps are: countersign",
            lambda: engine.forward(people["qianxuejun"], item_of("qianxuejun", fid), to="archive"))  # fmt: skip
    refused(engine, people, fid, InvalidAction, "'sealing' is not a next step of 'dept_review'",
            lambda: engine.forward(people["qianxuejun"], item_of("qianxuejun", fid), to="sealing"))  # fmt: skip


def test_forward_where_the_condition_does_not_hold(engine, people, item_of):
    fid = at_countersign(engine, people, item_of, "100000", signed=("yangfan", "linxiaoyan"))
    engine.forward(people["liming"], item_of("liming", fid), host=people["chenzhiqiang"])
    refused(engine, people, fid, InvalidAction,
            "the flow cannot go to 'gm_review': its condition 'amount >= 500000' does not hold",
            lambda: engine.forward(people["chenzhiqiang"], item_of("chenzhiqiang", fid), to="gm_review"))  # fmt: skip


def test_the_next_host_must_be_a_candidate_and_chosen_when_several(engine, people, item_of):
    fid = at_countersign(engine, people, item_of, signed=("yangfan", "linxiaoyan"))
    item = item_of("liming", fid)
    refused(engine, people, fid, PeopleInvalid,
            "张建国 may not host step 'leader_review'; the candidates are: 陈志强, 刘海涛",
            lambda: engine.forward(people["liming"], item, host=people["zhangjianguo"]))  # fmt: skip
    refused(engine, people, fid, PeopleInvalid, "choose the host of step 'leader_review' among: 陈志强, 刘海涛",
            lambda: engine.forward(people["liming"], item))  # fmt: skip


def test_handlers_and_co_signers_outside_the_candidates(engine, people, item_of, errand):
    fid = engine.start(people["huangyong"], errand, {"subject": "年中盘点"}, submit=False).flow_id
    draft = item_of("huangyong", fid)
    refused(engine, people, fid, PeopleInvalid,
            "何婷 may not be handlers of step 'review'; the candidates are: 林晓燕, 杨帆",
            lambda: engine.forward(people["huangyong"], draft, handlers=[people["yangfan"], people["heting"]]))  # fmt: skip
    refused(engine, people, fid, PeopleInvalid, "choose at least 1 handlers for step 'review' (0 chosen)",
            lambda: engine.forward(people["huangyong"], draft))  # fmt: skip
    other = contract(engine, people)
    refused(engine, people, other, PeopleInvalid,
            "the co-signers of step 'countersign' are set by the definition",
            lambda: engine.forward(people["qianxuejun"], item_of("qianxuejun", other),
                                   co_signers=[people["heting"]]))  # fmt: skip


def test_end_at_a_step_that_cannot_end(engine, people, item_of):
    fid = at_countersign(engine, people, item_of)
    refused(engine, people, fid, InvalidAction, "step '会签' (countersign) cannot end the flow",
            lambda: engine.end(people["liming"], item_of("liming", fid), outcome="rejected"))  # fmt: skip
    draft = contract(engine, people, submit=False)
    refused(engine, people, draft, InvalidAction, "step '起草' (draft) cannot end the flow",
            lambda: engine.end(people["huangyong"], item_of("huangyong", draft)))  # fmt: skip


def test_return_at_the_first_step(engine, people, item_of):
    fid = contract(engine, people, submit=False)
    refused(engine, people, fid, InvalidAction, "this is the first step: there is nothing to return to",
            lambda: engine.return_(people["huangyong"], item_of("huangyong", fid)))  # fmt: skip


def test_withdraw_by_someone_else_or_after_the_next_host_opened_it(engine, people, item_of):
    fid = contract(engine, people)
    refused(engine, people, fid, Forbidden, "only the initiator may withdraw a flow",
            lambda: engine.withdraw(people["qianxuejun"], fid))  # fmt: skip
    engine.open(people["qianxuejun"], item_of("qianxuejun", fid))
    opened = engine.local(engine.history(fid).visits[-1].people[0].confirmed_at)
    refused(engine, people, fid, InvalidAction,
            f"the flow can no longer be withdrawn: 钱学军 opened it at {opened}",
            lambda: engine.withdraw(people["huangyong"], fid))  # fmt: skip


def test_actions_on_an_ended_flow(engine, people, item_of):
    fid = contract(engine, people)
    item = item_of("qianxuejun", fid)
    engine.end(people["qianxuejun"], item, outcome="rejected")
    at = handled_at(engine, fid, "钱学军")
    refused(engine, people, fid, FlowClosed, f"this flow was already ended by 钱学军 at {at}",
            lambda: engine.withdraw(people["huangyong"], fid))  # fmt: skip
    refused(engine, people, fid, AlreadyHandled, "this work item was already handled by 钱学军",
            lambda: engine.forward(people["qianxuejun"], item))  # fmt: skip


def test_a_handler_acts_after_the_host_ended_the_flow(engine, people, item_of):
    fid = engine.start(people["wangfang"], "incoming_document", {
        "source_unit": "区应急局", "title": "防汛通知", "urgency": "normal",
        "confidentiality": "public", "received_on": "2026-03-01"}).flow_id  # fmt: skip
    engine.forward(people["liming"], item_of("liming", fid), host=people["chenzhiqiang"])
    engine.forward(people["chenzhiqiang"], item_of("chenzhiqiang", fid), host=people["huzhigang"],
                   handlers=[people["gaofeng"]])  # fmt: skip
    mine = item_of("gaofeng", fid)
    engine.end(people["huzhigang"], item_of("huzhigang", fid), outcome="rejected", opinion="不适用")
    refused(engine, people, fid, FlowClosed,
            f"this flow was already ended by 胡志刚 at {handled_at(engine, fid, '胡志刚')}",
            lambda: engine.finish(people["gaofeng"], mine, opinion="晚了"))  # fmt: skip


@pytest.mark.parametrize(
    ("definition", "field", "value", "message"),
    [
        ("seal_usage", "copies", "abc", "must be a whole number, not 'abc'"),
        ("contract_review", "amount", "-5", "must not be negative"),
        ("contract_review", "sign_date", "2026-13-01", "must be a date such as 2026-03-01, not '2026-13-01'"),
        ("seal_usage", "seal", "private", "must be one of company, contract, legal_representative, not 'private'"),
        ("errand", "helper", "nobody", "names no active person: 'nobody'"),
        ("errand", "helper", 99999, "names no active person: 99999"),
        ("contract_review", "text", "合同.pdf", "must be a list of attachments"),
        ("contract_review", "text", [{"name": "合同.pdf"}], "attachment 1 (合同.pdf) has no valid size"),
        ("contract_review", "text", [{"name": "合同.pdf", "size": 10, "sha256": "x"}],
         "attachment 1 (合同.pdf) has no valid sha256"),
        ("contract_review", "budget_code", "X-1", "is not a field of this form"),
    ],
)  # fmt: skip
def test_invalid_form_values(engine, people, errand, definition, field, value, message):
    base = {"contract_review": CONTRACT, "seal_usage": SEAL, "errand": {"subject": "盘点"}}[
        definition
    ]
    err = refused(engine, people, None, FormInvalid, f"{field}: {message}",
                  lambda: engine.start(people["huangyong"], definition, {**base, field: value}))  # fmt: skip
    assert err.errors == {field: message}
    assert all(engine.started(uid) == [] for uid in people.values())
