"""The flow sheet (流程单) as text: form, steps, people with their roles, opinions, times, chain head."""

from __future__ import annotations

import re

import pytest

from workflow.errors import NotFound
from workflow.sheet import render_text

ORG = "华东建设集团有限公司"
SHA = "a" * 64
CONTRACT = {
    "title": "办公楼空调采购合同", "counterparty": "上海申能机电有限公司", "amount": "680000",
    "contract_type": "purchase", "sign_date": "2026-03-10", "summary": "采购空调 40 台",
    "text": [{"name": "空调采购合同.pdf", "size": 20480, "sha256": SHA},
             {"name": "报价单.xlsx", "size": 4096, "sha256": SHA}],
}  # fmt: skip
DOCUMENT = {"source_unit": "上海市应急管理局", "original_number": "沪应急〔2026〕3号",
            "title": "关于做好汛期安全工作的通知", "urgency": "very_urgent",
            "confidentiality": "internal", "received_on": "2026-03-01", "copies": 2}  # fmt: skip
ROLE = {"host": "主办", "handler": "经办", "co_signer": "会签"}


def sheet(engine, flow_id):
    record = engine.history(flow_id)
    with engine.db.read() as s:
        spec = engine.registry.latest(s, record.definition).spec
    return record, render_text(record, spec, engine.local, ORG)


def assert_people_on_sheet(engine, record, text):
    """Every person of every visit: role, name, the three effect times and the opinion, in order."""
    lines = text.splitlines()
    at = 0
    t = lambda when: engine.local(when) if when else "—"  # noqa: E731
    for visit in record.visits:
        at = lines.index(
            next(x for x in lines[at:] if x.startswith(f"{visit.seq}. {visit.step_name}")), at
        )
        for p in visit.people:
            row = re.compile(rf"^\s+{ROLE[p.role]}\s+{p.name}（{p.unit}）\s")
            at = next(i for i in range(at + 1, len(lines)) if row.match(lines[i]))
            times = f"送达 {t(p.delivered_at)}  确认 {t(p.confirmed_at)}  处理 {t(p.handled_at)}"
            assert lines[at + 1].strip() == times
            if p.opinion:
                assert lines[at + 2].strip() == f"意见：{p.opinion}"


def step(clock, engine, action, *args, **kwargs):
    clock.advance(minutes=37)
    return action(*args, **kwargs)


def test_contract_sheet_has_the_form_steps_people_opinions_times_and_chain_head(
    engine, people, item_of, clock
):
    h = people
    fid = engine.start(h["huangyong"], "contract_review", CONTRACT, opinion="请审核").flow_id
    step(clock, engine, engine.open, h["qianxuejun"], item_of("qianxuejun", fid))
    step(
        clock,
        engine,
        engine.forward,
        h["qianxuejun"],
        item_of("qianxuejun", fid),
        opinion="同意，送会签",
    )
    step(clock, engine, engine.open, h["yangfan"], item_of("yangfan", fid))
    step(clock, engine, engine.sign, h["yangfan"], item_of("yangfan", fid), opinion="合同条款合规")
    step(
        clock,
        engine,
        engine.sign,
        h["linxiaoyan"],
        item_of("linxiaoyan", fid),
        opinion="资金已列入预算",
    )
    step(clock, engine, engine.forward, h["liming"], item_of("liming", fid), host=h["liuhaitao"])
    step(
        clock,
        engine,
        engine.forward,
        h["liuhaitao"],
        item_of("liuhaitao", fid),
        opinion="同意，报总经理",
    )
    step(
        clock,
        engine,
        engine.forward,
        h["zhangjianguo"],
        item_of("zhangjianguo", fid),
        opinion="同意签订",
    )
    step(clock, engine, engine.end, h["sunli"], item_of("sunli", fid), opinion="已加盖合同专用章")

    record, text = sheet(engine, fid)
    assert text.startswith(f"{ORG}  合同评审 流程单\n")
    assert f"流程编号：{fid}    标题：办公楼空调采购合同" in text
    assert (
        f"发起人：黄勇    发起时间：{engine.local(record.started_at)}    状态：已结束（同意）"
        in text
    )
    for label, value in [
        ("合同名称", "办公楼空调采购合同"), ("合同相对方", "上海申能机电有限公司"),
        ("合同金额（元）", "680,000.00"), ("合同类型", "采购合同"), ("拟签订日期", "2026-03-10"),
        ("合同主要内容", "采购空调 40 台"), ("合同文本", "空调采购合同.pdf；报价单.xlsx"),
    ]:  # fmt: skip
        assert re.search(rf"^  {re.escape(label)}：\s*{re.escape(value)}$", text, re.M), label
    for n, name in enumerate(
        ["起草", "部门负责人审核", "会签", "分管领导审批", "总经理审批", "用印"], 1
    ):
        assert re.search(rf"^{n}\. {name}    到达：", text, re.M), name
    for role, name, did in [
        ("主办", "黄勇", "转交下一步"), ("主办", "钱学军", "转交下一步"), ("主办", "李明", "转交下一步"),
        ("会签", "林晓燕", "会签：同意"), ("会签", "杨帆", "会签：同意"), ("主办", "刘海涛", "转交下一步"),
        ("主办", "张建国", "转交下一步"), ("主办", "孙丽", "结束流程"),
    ]:  # fmt: skip
        assert re.search(rf"^   {role}\s+{name}（[^）]+）\s+{did}$", text, re.M), name
    for opinion in (
        "请审核",
        "同意，送会签",
        "合同条款合规",
        "资金已列入预算",
        "同意签订",
        "已加盖合同专用章",
    ):
        assert f"意见：{opinion}" in text
    assert_people_on_sheet(engine, record, text)
    assert f"审计链：{record.audit_seq} 条事件，链头 {record.audit_head}" in text
    assert record.audit_head == engine.history(fid).audit_head and len(record.audit_head) == 64


def test_incoming_document_sheet_names_the_handlers(engine, people, item_of, clock):
    h = people
    fid = engine.start(h["wangfang"], "incoming_document", DOCUMENT).flow_id
    step(
        clock,
        engine,
        engine.forward,
        h["liming"],
        item_of("liming", fid),
        host=h["chenzhiqiang"],
        opinion="拟请陈总阅批",
    )
    step(clock, engine, engine.forward, h["chenzhiqiang"], item_of("chenzhiqiang", fid), host=h["huzhigang"],
         handlers=[h["gaofeng"], h["luobin"]], opinion="请工程部落实")  # fmt: skip
    step(clock, engine, engine.open, h["gaofeng"], item_of("gaofeng", fid))
    step(
        clock,
        engine,
        engine.finish,
        h["gaofeng"],
        item_of("gaofeng", fid),
        opinion="已排查 3 个工地",
    )
    step(
        clock, engine, engine.finish, h["luobin"], item_of("luobin", fid), opinion="防汛物资已到位"
    )
    step(clock, engine, engine.end, h["huzhigang"], item_of("huzhigang", fid), opinion="办结")

    record, text = sheet(engine, fid)
    assert "收文处理 流程单" in text.splitlines()[0]
    for label, value in [("来文单位", "上海市应急管理局"), ("原文号", "沪应急〔2026〕3号"), ("缓急", "特急"),
                         ("密级", "内部"), ("收文日期", "2026-03-01"), ("份数", "2")]:  # fmt: skip
        assert re.search(rf"^  {label}：\s*{re.escape(value)}$", text, re.M), label
    assert re.search(r"^4\. 承办    到达：", text, re.M)
    assert re.search(r"^   经办\s+高峰（[^）]+）\s+办理完毕$", text, re.M)
    assert re.search(r"^   经办\s+罗斌（[^）]+）\s+办理完毕$", text, re.M)
    assert re.search(r"^   主办\s+胡志刚（[^）]+）\s+结束流程$", text, re.M)
    assert "意见：已排查 3 个工地" in text and "意见：防汛物资已到位" in text
    assert_people_on_sheet(engine, record, text)
    assert f"链头 {engine.history(fid).audit_head}" in text


def test_a_vetoed_countersign_and_a_rejection_on_the_sheet(engine, people, item_of, clock):
    h = people
    fid = engine.start(h["huangyong"], "contract_review", {**CONTRACT, "amount": "90000"}).flow_id
    step(clock, engine, engine.forward, h["qianxuejun"], item_of("qianxuejun", fid))
    step(
        clock,
        engine,
        engine.sign,
        h["yangfan"],
        item_of("yangfan", fid),
        decision="reject",
        opinion="违约金过高",
    )
    step(
        clock, engine, engine.return_, h["liming"], item_of("liming", fid), opinion="法务否决，退回"
    )
    step(
        clock,
        engine,
        engine.end,
        h["qianxuejun"],
        item_of("qianxuejun", fid),
        outcome="rejected",
        opinion="不再签订",
    )

    record, text = sheet(engine, fid)
    assert "状态：已结束（不同意）" in text
    assert re.search(r"^3\. 会签（会签否决）    到达：", text, re.M)
    assert re.search(r"^   会签\s+杨帆（[^）]+）\s+会签：不同意$", text, re.M)
    assert re.search(r"^   会签\s+林晓燕（[^）]+）\s+未办理（已关闭）$", text, re.M)
    assert re.search(r"^   主办\s+李明（[^）]+）\s+退回$", text, re.M)
    assert re.search(r"^4\. 部门负责人审核    到达：", text, re.M)
    assert "意见：违约金过高" in text and "意见：不再签订" in text
    assert_people_on_sheet(engine, record, text)


def test_a_running_flow_and_a_withdrawn_flow_on_the_sheet(engine, people, item_of):
    fid = engine.start(people["huangyong"], "contract_review", CONTRACT).flow_id
    record, text = sheet(engine, fid)
    assert "状态：进行中（部门负责人审核）" in text
    assert re.search(r"^   主办\s+钱学军（[^）]+）\s+待办$", text, re.M)
    assert_people_on_sheet(engine, record, text)
    head = record.audit_head

    engine.withdraw(people["huangyong"], fid)
    record, text = sheet(engine, fid)
    assert "状态：已撤回" in text
    assert re.search(r"^   主办\s+钱学军（[^）]+）\s+未办理（已关闭）$", text, re.M)
    assert record.audit_head != head and f"链头 {record.audit_head}" in text  # an old print differs


def test_only_people_with_a_part_may_read_the_record(engine, people, item_of):
    fid = engine.start(people["huangyong"], "contract_review", CONTRACT).flow_id
    with pytest.raises(NotFound, match="does not exist or you have no part in it"):
        engine.history(fid, viewer_id=people["pengtao"])
    for login in ("huangyong", "qianxuejun", "zhouwei"):  # initiator, host, administrator
        assert engine.history(fid, viewer_id=people[login]).id == fid
