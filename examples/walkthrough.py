"""A contract review from start to printed flow sheet, driven through the engine's actions.

Run by ``make run`` after ``banli demo``; uses the BANLI_* settings (BANLI_DATABASE_URL, default
instance/banli.db).
"""

from __future__ import annotations

from sqlalchemy import select

from workflow.engine import Engine
from workflow.errors import BanliError
from workflow.settings import load_settings
from workflow.sheet import render_text
from workflow.store.db import Database
from workflow.store.models import User


def main() -> None:
    settings = load_settings()
    engine = Engine(Database(settings.database_url), settings=settings)
    with engine.db.read() as s:
        people = dict(s.execute(select(User.login, User.id)).all())

    def act(login: str, flow_id: int, action: str, **kw: object) -> None:
        user = people[login]
        item = next(r.item_id for r in engine.inbox(user, limit=200) if r.flow_id == flow_id)
        engine.open(user, item)  # the confirmation effect: the person has seen it
        out = getattr(engine, action)(user, item, **kw)
        print(f"  {login:<12} {action:<8} → {out.state}")

    print("黄勇 (finance) starts a contract review of ¥680,000:")
    flow = engine.start(
        people["huangyong"],
        "contract_review",
        {
            "title": "办公楼空调采购合同",
            "counterparty": "上海申能机电设备有限公司",
            "amount": "680000",
            "contract_type": "purchase",
            "summary": "采购多联机空调 40 套。",
        },
        opinion="请审核。",
    ).flow_id
    act("qianxuejun", flow, "forward", opinion="同意，请法务、财务会签。")
    try:
        act("liming", flow, "forward")
    except BanliError as exc:
        print(f"  liming       forward  refused: {exc}")
    act("yangfan", flow, "sign", decision="approve", opinion="条款无异议。")
    act("linxiaoyan", flow, "sign", decision="approve", opinion="在年度预算内。")
    act("liming", flow, "forward", host=people["chenzhiqiang"], opinion="会签完毕。")
    act("chenzhiqiang", flow, "forward", opinion="金额超过 50 万，报总经理。")
    act("zhangjianguo", flow, "forward", opinion="同意。")
    act("sunli", flow, "end", opinion="已用印。")

    record = engine.history(flow)
    with engine.db.read() as s:
        spec = engine.registry.latest(s, "contract_review").spec
    print()
    print(render_text(record, spec, engine.stamp, engine.organisation_name()))


if __name__ == "__main__":
    main()
