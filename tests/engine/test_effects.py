"""The three legal effects: delivered at activation, confirmed at first open, handled at the action."""

from __future__ import annotations

import contextlib
from datetime import timedelta

from tests.engine.helpers import assert_effects_in_order
from workflow.errors import BanliError

CONTRACT = {"title": "办公楼空调采购合同", "counterparty": "上海申能机电有限公司",
            "amount": "680000", "contract_type": "purchase", "summary": "采购空调 40 台"}  # fmt: skip
DOCUMENT = {"source_unit": "区应急局", "title": "防汛工作通知", "urgency": "urgent",
            "confidentiality": "public", "received_on": "2026-03-01"}  # fmt: skip


def part(engine, flow_id, item_id):
    return next(p for v in engine.history(flow_id).visits for p in v.people if p.item_id == item_id)


def done_parts(engine, flow_id):
    return {
        p.item_id: p for v in engine.history(flow_id).visits for p in v.people if p.status == "done"
    }


def test_delivered_on_activation_confirmed_on_first_open_handled_on_forward(
    engine, people, item_of, clock
):
    out = engine.start(people["huangyong"], "contract_review", CONTRACT)
    fid, item = out.flow_id, out.delivered[0]
    visit = engine.history(fid).visits[-1]
    mine = part(engine, fid, item)
    assert mine.delivered_at == visit.entered_at
    assert (mine.confirmed_at, mine.handled_at, mine.status) == (None, None, "open")
    (row,) = engine.inbox(people["qianxuejun"])
    assert (row.delivered_at, row.confirmed_at, row.handled_at) == (mine.delivered_at, None, None)
    assert engine.local(mine.delivered_at) == "2026-03-02 09:00"  # shown in Asia/Shanghai

    clock.advance(hours=1)
    seq = engine.history(fid).audit_seq
    opened = engine.open(people["qianxuejun"], item)
    assert opened.version == out.version  # a look is not a change of the flow
    first = part(engine, fid, item)
    assert engine.local(first.confirmed_at) == "2026-03-02 10:00"
    assert first.confirmed_at - first.delivered_at >= timedelta(hours=1)
    assert engine.history(fid).audit_seq == seq + 1

    clock.advance(hours=2)
    again = engine.open(people["qianxuejun"], item)
    assert again.version == out.version
    assert part(engine, fid, item) == first  # the second look does not move the confirmation
    assert engine.history(fid).audit_seq == seq + 1

    clock.advance(hours=1)
    forwarded = engine.forward(people["qianxuejun"], item, opinion="同意")
    handled = part(engine, fid, item)
    assert (handled.status, handled.action, handled.opinion) == ("done", "forward", "同意")
    assert handled.confirmed_at == first.confirmed_at and handled.delivered_at == first.delivered_at
    assert engine.local(handled.handled_at) == "2026-03-02 13:00"
    for new in forwarded.delivered:  # the next step's items are delivered at the same moment
        assert part(engine, fid, new).delivered_at == handled.handled_at
    (done_row,) = engine.done(people["qianxuejun"])
    assert (done_row.confirmed_at, done_row.handled_at) == (
        handled.confirmed_at,
        handled.handled_at,
    )


def test_acting_without_opening_first_confirms_at_the_same_moment(engine, people, item_of):
    fid = engine.start(people["huangyong"], "contract_review", CONTRACT).flow_id
    item = item_of("qianxuejun", fid)
    engine.forward(people["qianxuejun"], item)
    mine = part(engine, fid, item)
    assert mine.confirmed_at == mine.handled_at is not None
    assert mine.delivered_at < mine.handled_at


def test_the_initiators_draft_item_is_delivered_confirmed_and_handled_at_start(engine, people):
    fid = engine.start(people["huangyong"], "contract_review", CONTRACT).flow_id
    (draft,) = engine.history(fid).visits[0].people
    assert draft.delivered_at == draft.confirmed_at == draft.handled_at
    assert (draft.role, draft.action) == ("host", "forward")


def test_a_handled_item_never_changes_afterwards(engine, people, item_of, clock):
    fid = engine.start(people["huangyong"], "contract_review", CONTRACT).flow_id
    first = engine.history(fid).visits[0].people[0].item_id
    steps = [
        lambda: engine.open(people["qianxuejun"], item_of("qianxuejun", fid)),
        lambda: engine.forward(people["qianxuejun"], item_of("qianxuejun", fid), opinion="同意"),
        lambda: engine.open(people["yangfan"], item_of("yangfan", fid)),
        lambda: engine.sign(people["yangfan"], item_of("yangfan", fid), opinion="合规"),
        lambda: engine.return_(people["liming"], item_of("liming", fid), opinion="重审"),
        lambda: engine.forward(people["qianxuejun"], item_of("qianxuejun", fid), opinion="已重审"),
        lambda: engine.sign(people["yangfan"], item_of("yangfan", fid), decision="reject", opinion="仍不合规"),
        lambda: engine.end(people["liming"], item_of("liming", fid), outcome="rejected"),
        lambda: engine.open(people["huangyong"], first),  # looking again at a handled item
    ]  # fmt: skip
    seen = done_parts(engine, fid)
    for step in steps:
        clock.advance(minutes=30)
        with contextlib.suppress(BanliError):  # a refusal is fine here: nothing may change
            step()
        now = done_parts(engine, fid)
        assert {k: now[k] for k in seen} == seen
        seen = now
        assert_effects_in_order(engine, fid)
    assert len(seen) >= 6


def test_items_cancelled_when_the_step_moves_on_have_no_handling_effect(
    engine, people, item_of, clock
):
    fid = engine.start(people["huangyong"], "contract_review", CONTRACT).flow_id
    engine.forward(people["qianxuejun"], item_of("qianxuejun", fid))
    legal, finance = item_of("yangfan", fid), item_of("linxiaoyan", fid)
    clock.advance(minutes=10)
    engine.open(people["yangfan"], legal)
    opened = part(engine, fid, legal).confirmed_at
    clock.advance(minutes=10)
    engine.return_(people["liming"], item_of("liming", fid), opinion="金额有误，退回")

    for item, confirmed in ((legal, opened), (finance, None)):
        p = part(engine, fid, item)
        assert (p.status, p.handled_at, p.action, p.confirmed_at) == (
            "cancelled",
            None,
            None,
            confirmed,
        )
    assert engine.inbox(people["yangfan"]) == [] and engine.inbox(people["linxiaoyan"]) == []
    assert engine.done(people["yangfan"]) == []
    assert_effects_in_order(engine, fid)


def test_effects_are_in_order_in_every_flow_of_a_busy_day(engine, people, item_of, clock):
    """Several flows of every type, interleaved, with people opening their work at odd moments."""
    h = people
    c = engine.start(h["huangyong"], "contract_review", CONTRACT).flow_id
    d = engine.start(h["wangfang"], "incoming_document", DOCUMENT).flow_id
    a = engine.start(
        h["heting"], "archive_use", {"archive_name": "图纸", "purpose": "borrow", "reason": "施工"}
    ).flow_id
    s = engine.start(
        h["gaofeng"],
        "seal_usage",
        {"title": "报告", "seal": "legal_representative", "copies": 1, "purpose": "报送"},
    ).flow_id
    w = engine.start(h["huangyong"], "contract_review", {**CONTRACT, "amount": "10"}).flow_id
    actions = [
        ("open", "qianxuejun", c), ("forward", "liming", d, {"host": h["liuhaitao"]}),
        ("forward", "yangfan", a, {}), ("forward", "qianxuejun", c, {}), ("open", "liuhaitao", d),
        ("forward", "huzhigang", s, {}), ("sign", "yangfan", c), ("open", "zhaomin", a),
        ("forward", "liuhaitao", d, {"host": h["wujing"], "handlers": [h["songjia"], h["mali"]]}),
        ("sign", "linxiaoyan", c), ("forward", "zhaomin", a, {}), ("forward", "zhangjianguo", s, {}),
        ("open", "mali", d), ("finish", "songjia", d), ("forward", "liming", c, {"host": h["chenzhiqiang"]}),
        ("finish", "mali", d), ("forward", "zhaomin", a, {}), ("end", "sunli", s), ("end", "wujing", d),
        ("forward", "chenzhiqiang", c, {}), ("end", "zhaomin", a), ("forward", "zhangjianguo", c, {}),
        ("end", "sunli", c),
    ]  # fmt: skip
    for action, login, fid, *kw in actions:
        clock.advance(minutes=7)
        item = item_of(login, fid)
        if action == "open":
            engine.open(h[login], item)
        else:
            getattr(engine, action)(h[login], item, **(kw[0] if kw else {}))
    engine.withdraw(h["huangyong"], w)
    flows = {f["flow_id"]: f["state"] for uid in h.values() for f in engine.started(uid)}
    assert flows == {c: "ended", d: "ended", a: "ended", s: "ended", w: "withdrawn"}
    for fid in flows:
        assert_effects_in_order(engine, fid)
    assert all(engine.inbox(uid) == [] for uid in h.values())


def test_opening_an_item_closed_by_a_withdraw_records_nothing(engine, people, item_of):
    fid = engine.start(
        people["huangyong"],
        "seal_usage",
        {"title": "收入证明", "seal": "company", "copies": 1, "purpose": "办理贷款"},
    ).flow_id
    item = item_of("qianxuejun", fid)
    engine.withdraw(people["huangyong"], fid, reason="不需要了")
    before = engine.history(fid)
    engine.open(people["qianxuejun"], item)
    after = engine.history(fid)
    assert part(engine, fid, item).confirmed_at is None
    assert (after.audit_seq, after.audit_head) == (before.audit_seq, before.audit_head)
