"""In a real browser: 王芳 changes her mobile in 我的设置 › 手机号 with the code the recording
channel wrote to its outbox; the 财务部 sub-administrator (林晓燕) sees 财务部 on 组织架构 and
not 人力资源部. The admin chain verifies after both."""

from __future__ import annotations

import json
import re

from playwright.sync_api import expect
from sqlalchemy import select

from tests.org.helpers import admin_events, chains_intact
from tests.web.pages import Person
from workflow.channels import RecordingChannel
from workflow.delivery import make_deliver_handler
from workflow.jobs import Worker
from workflow.store.models import Unit


def deliver_queued(engine, outbox) -> None:
    """What ``banli worker`` does in development: the queued SMS go to the recording outbox."""
    worker = Worker(engine.db, "test-worker")
    channel = RecordingChannel("sms", outbox)
    worker.handler("deliver")(make_deliver_handler(engine.db, {"sms": channel}))
    worker.run_once(engine.clock())


def test_a_person_changes_their_mobile_with_the_code_from_the_outbox(
    live_server, new_page, engine, tmp_path
):
    wang = Person(new_page, live_server, "wangfang")
    page = wang.page
    wang.goto("/me/mobile")
    expect(page.locator("#tab-mobile")).to_have_class(re.compile("active"))
    expect(page.locator("#current-mobile")).to_contain_text("13901720002")
    page.fill("#f-mobile", "139-1234-5678")
    with page.expect_navigation():
        page.click("#send-code")
    expect(page.locator("#pending")).to_contain_text("13912345678")
    outbox = tmp_path / "outbox.jsonl"
    deliver_queued(engine, outbox)
    [line] = [json.loads(x) for x in outbox.read_text().splitlines()]
    assert line["address"] == "13912345678"
    code = re.search(r"\d{6}", line["body"]).group(0)
    page.fill("#f-code", code)
    with page.expect_navigation():
        page.click("#confirm-code")
    expect(page.locator("#current-mobile")).to_contain_text("13912345678")
    expect(page.locator(".flash")).to_contain_text("13912345678")
    assert [e.kind for e in admin_events(engine.db)] == ["mobile_change_self"]
    chains_intact(engine.db)


def test_the_finance_sub_administrator_sees_only_finance(live_server, new_page, engine):
    lin = Person(new_page, live_server, "linxiaoyan")
    page = lin.page
    lin.goto("/")
    with page.expect_navigation():
        page.click("#nav-units")
    tree = page.locator("#unit-tree")
    expect(tree).to_contain_text("财务部")
    expect(tree).not_to_contain_text("人力资源部")
    expect(tree).not_to_contain_text("华东建设集团有限公司")
    # a unit below 财务部, created from the page, appears in the tree; HR's unit page is 404
    page.fill("#f-code", "fin-tax")
    page.fill("#f-name", "税务组")
    with page.expect_navigation():
        page.click("#create-unit")
    expect(page.locator("#unit-name")).to_contain_text("税务组")
    with engine.db.read() as s:
        hr = s.scalar(select(Unit.id).where(Unit.code == "hr"))  # 人力资源部
    response = page.goto(f"{live_server}/admin/units/{hr}")
    assert response is not None and response.status == 404
    assert [e.kind for e in admin_events(engine.db)] == ["unit_create"]
    chains_intact(engine.db)
