"""The demo: the demo organisation plus a handful of flows left in believable states."""

from __future__ import annotations

from collections.abc import Callable

from sqlalchemy import func, select, update

from workflow import messages
from workflow.demo_org import seed_organisation
from workflow.engine import Engine
from workflow.passwords import DEMO_PASSWORD, hash_password
from workflow.store.models import Flow, Unit, User


def seed_demo(engine: Engine) -> int:
    """Seed the organisation and, on a database without flows, a few flows and messages;
    returns the approval flows made."""
    with engine.db.write() as s:
        ids = seed_organisation(s)
        # One hash for all: argon2 is slow on purpose, and demo accounts share the password.
        digest = hash_password(DEMO_PASSWORD)
        s.execute(update(User).where(User.password_hash.is_(None)).values(password_hash=digest))
        if s.scalar(select(func.count()).select_from(Flow)):
            return 0
    scenarios: list[Callable[[Engine, dict[str, int]], None]] = [
        _contract_sealed,
        _contract_in_countersign,
        _incoming_at_instruct,
        _seal_withdrawn,
        _archive_borrowed,
        _messages,
    ]
    for run in scenarios:
        run(engine, ids)
    with engine.db.read() as s:
        return s.scalar(select(func.count()).select_from(Flow).where(Flow.kind == "approval")) or 0


def _item(engine: Engine, user: int, flow_id: int) -> int:
    return next(r.item_id for r in engine.inbox(user, limit=100) if r.flow_id == flow_id)


def _step(engine: Engine, user: int, flow_id: int, action: str, **kw: object) -> None:
    item = _item(engine, user, flow_id)
    engine.open(user, item)
    getattr(engine, action)(user, item, **kw)


def _contract_sealed(e: Engine, p: dict[str, int]) -> None:
    f = e.start(
        p["huangyong"],
        "contract_review",
        {
            "title": "办公楼中央空调维保合同",
            "counterparty": "上海申能机电设备有限公司",
            "amount": "186000.00",
            "contract_type": "service",
            "summary": "2027 年度中央空调维保，按季度付款。",
        },
        opinion="请审核",
    ).flow_id
    _step(e, p["qianxuejun"], f, "forward", opinion="同意，请会签。")
    _step(e, p["yangfan"], f, "sign", decision="approve", opinion="条款无异议。")
    _step(e, p["linxiaoyan"], f, "sign", decision="approve", opinion="在年度预算内。")
    _step(e, p["liming"], f, "forward", host=p["chenzhiqiang"], opinion="会签完毕，呈分管领导。")
    _step(e, p["chenzhiqiang"], f, "forward", opinion="同意。")
    _step(e, p["sunli"], f, "end", opinion="已加盖合同专用章。")


def _contract_in_countersign(e: Engine, p: dict[str, int]) -> None:
    f = e.start(
        p["xiejun"],
        "contract_review",
        {
            "title": "第一项目部钢材采购合同",
            "counterparty": "江苏沙钢集团",
            "amount": "1250000.00",
            "contract_type": "purchase",
            "summary": "HRB400 螺纹钢 300 吨。",
        },
    ).flow_id
    _step(e, p["xiejun"], f, "forward", opinion="项目急需，请尽快会签。")
    _step(e, p["yangfan"], f, "sign", decision="approve", opinion="合同文本已审，可签。")


def _incoming_at_instruct(e: Engine, p: dict[str, int]) -> None:
    f = e.start(
        p["wangfang"],
        "incoming_document",
        {
            "source_unit": "市住房和城乡建设委员会",
            "original_number": "沪建质安〔2026〕112 号",
            "title": "关于开展冬季施工安全大检查的通知",
            "urgency": "urgent",
            "confidentiality": "internal",
            "received_on": "2026-11-27",
        },
    ).flow_id
    _step(
        e,
        p["liming"],
        f,
        "forward",
        host=p["liuhaitao"],
        opinion="拟请刘总阅示，工程管理部牵头落实。",
    )


def _seal_withdrawn(e: Engine, p: dict[str, int]) -> None:
    f = e.start(
        p["fenglei"],
        "seal_usage",
        {
            "title": "员工收入证明",
            "seal": "company",
            "copies": 2,
            "purpose": "员工办理房贷。",
        },
    )
    e.withdraw(p["fenglei"], f.flow_id, reason="份数填错，重新申请。")


def _archive_borrowed(e: Engine, p: dict[str, int]) -> None:
    f = e.start(
        p["huzhigang"],
        "archive_use",
        {
            "archive_name": "滨江花园项目竣工图",
            "archive_number": "GC-2019-031",
            "purpose": "borrow",
            "reason": "编制改造方案。",
            "return_date": "2026-12-15",
        },
    ).flow_id
    _step(e, p["huzhigang"], f, "forward", opinion="同意借阅。")
    _step(e, p["zhaomin"], f, "forward", opinion="准予借出，请按期归还。")


def _messages(e: Engine, p: dict[str, int]) -> None:
    """A notice to the office, read and answered by some; a meeting DING still unconfirmed."""
    with e.db.read() as s:
        office = s.scalar(select(Unit.id).where(Unit.name == "办公室"))
    assert office is not None
    notice = messages.send(
        e,
        p["liming"],
        subject="关于本周五消防安全检查的通知",
        body="各位同事：本周五（下午2点起）物业将对办公楼进行消防安全检查，请提前整理好"
        "各自办公区域的电源和杂物，检查期间请配合工作人员。\n\n办公室",
        to_units=[office],
        category="notice",
    )
    item = next(
        r.item_id for r in messages.received(e, p["wangfang"]).rows if r.flow_id == notice.flow_id
    )
    messages.read(e, p["wangfang"], item)
    messages.reply(e, p["wangfang"], item, body="收到，档案室今天下班前整理完毕。")
    messages.send(
        e,
        p["zhangjianguo"],
        subject="周一上午9点经营分析会",
        body="请各部门负责人周一上午9点到三楼大会议室参加经营分析会，带上本月经营数据。",
        to_users=[p["liming"], p["qianxuejun"], p["chenzhiqiang"]],
        category="meeting",
        ding=True,
    )
