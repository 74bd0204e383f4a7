"""The 离职 and 调动 dialogs: what HR sees, what the successor and the leaver see afterwards."""

from __future__ import annotations

import re

import pytest
from sqlalchemy import update

from tests.engine.test_incoming_document import register
from tests.web.conftest import Auth
from workflow.store.models import User


def text_of(html: str, element_id: str) -> str:
    found = re.search(rf'id="{element_id}"[^>]*>(.*?)</(?:table|p|ul|div|small|span)>', html, re.S)
    assert found, f"no #{element_id} on the page"
    return re.sub(r"\s+", " ", re.sub(r"<[^>]+>", " ", found.group(1))).strip()


@pytest.fixture
def hr(client):
    auth = Auth(client)
    auth.login("fenglei")
    return auth


def other_client(app, login):
    client = app.test_client()
    Auth(client).login(login)
    return client


def test_hr_removes_a_leaver_and_the_work_goes_on(app, engine, people, hr):
    flows = [register(engine, people) for _ in range(3)]
    leaver = other_client(app, "liming")
    assert leaver.get("/").status_code == 200
    url = f"/admin/people/{people['liming']}/remove"

    page = hr.client.get(url)
    assert page.status_code == 200
    html = page.text
    assert html.index('id="open-items"') < html.index('id="successor"')  # the items come first
    items = text_of(html, "open-items")
    assert items.count("关于开展2026年度安全生产检查的通知") == 3 and "拟办" in items

    unconfirmed = hr.post(url, {"successor": people["zhaomin"]}, page=url)
    assert unconfirmed.status_code == 400 and "确认: 此项为必填项" in unconfirmed.text
    nobody = hr.post(url, {"confirm": "1"}, page=url)
    assert nobody.status_code == 400
    assert "接替人: 必填：李明 有 3 项待办需要移交" in nobody.text

    done = hr.post(url, {"confirm": "1", "successor": people["zhaomin"]}, page=url)
    assert done.status_code == 200, done.text
    assert "李明 已办理离职" in done.text
    assert "已结束 1 个登录；已转办 3 项待办。" in text_of(done.text, "result-summary")
    assert text_of(done.text, "handed").count("赵敏") == 3

    again = hr.post(url, {"confirm": "1", "successor": people["zhaomin"]}, page=url)
    assert "李明 已于" in again.text and "由 冯磊 办理离职" in again.text

    # the leaver's open browser is signed out at its next click
    assert leaver.get("/").status_code == 302
    # the successor finds the three in 待办, each with the reason
    successor = other_client(app, "zhaomin")
    todo = successor.get("/").text
    assert todo.count("因 李明 离职，转由 赵敏 办理") == 3
    for fid in flows:
        assert f'data-flow="{fid}"' in todo
    # the flow page keeps the leaver's name, with what happened
    flow = successor.get(f"/flows/{flows[0]}").text
    assert "李明" in flow and "已转办" in flow and "因 李明 离职，转由 赵敏 办理" in flow


def test_the_printed_sheet_keeps_the_leavers_name(app, engine, people, hr, clock):
    fid = register(engine, people)
    url = f"/admin/people/{people['liming']}/remove"
    hr.post(url, {"confirm": "1", "successor": people["zhaomin"]}, page=url)
    (row,) = [r for r in engine.inbox(people["zhaomin"]) if r.flow_id == fid]
    engine.end(people["zhaomin"], row.item_id, opinion="存档")
    sheet = other_client(app, "wangfang").get(f"/flows/{fid}/sheet")
    assert sheet.status_code == 200
    assert "李明" in sheet.text and "因 李明 离职，转由 赵敏 办理" in sheet.text


def test_a_removed_or_invited_successor_is_refused_by_the_field(app, engine, people, hr):
    register(engine, people)
    with engine.db.write() as s:
        s.execute(update(User).where(User.id == people["wujing"]).values(status="invited"))
    url = f"/admin/people/{people['liming']}/remove"
    refused = hr.post(url, {"confirm": "1", "successor": people["wujing"]}, page=url)
    assert refused.status_code == 400
    assert "接替人: 不能是 吴静：此人尚未接受邀请" in refused.text
    assert engine.inbox(people["liming"]) != []


def test_strangers_get_404(app, people):
    for login in ("linxiaoyan", "wujing"):  # 财务部's sub-administrator; no administrator
        client = other_client(app, login)
        for what in ("remove", "move"):
            assert client.get(f"/admin/people/{people['liming']}/{what}").status_code == 404
    finance = other_client(app, "linxiaoyan")
    assert finance.get(f"/admin/people/{people['mali']}/move").status_code == 200


def test_hr_moves_a_person_and_hands_over_the_ticked_item(app, engine, people, hr):
    a, b = register(engine, people), register(engine, people)
    url = f"/admin/people/{people['liming']}/move"
    page = hr.client.get(url).text
    assert "工程管理部" in page and "调入部门" in page
    items = {r.flow_id: r.item_id for r in engine.inbox(people["liming"])}

    unticked_no_unit = hr.post(url, {"unit": "", "item": str(items[b])}, page=url)
    assert unticked_no_unit.status_code == 400
    assert "调入部门: 不是您管理的部门" in unticked_no_unit.text
    assert f'id="tick-{items[b]}" aria-label' in unticked_no_unit.text
    assert "checked" in unticked_no_unit.text.split(f'id="tick-{items[b]}"')[1].split(">")[0]

    done = hr.post(url, {"unit": "engineering", "item": str(items[b]),
                         "successor": people["wujing"]}, page=url)  # fmt: skip
    assert done.status_code == 200, done.text
    assert "办公室 → 工程管理部；已转办 1 项待办。" in text_of(done.text, "result-summary")
    assert [r.flow_id for r in engine.inbox(people["liming"])] == [a]
    todo = other_client(app, "wujing").get("/").text
    assert "因 李明 调动，转由 吴静 办理" in todo
