"""In a real browser: HR (冯磊) imports a sheet of five new hires, one row bad (shown, skipped),
and confirms; one new hire opens the invitation link the recording channel wrote to the outbox,
sets a password, signs in and lands on the workbench; the 财务部 sub-administrator (林晓燕) sees
only 财务部 people and gets 404 on a person of another unit. The admin chain verifies after."""

from __future__ import annotations

import json
import re
from datetime import timedelta

from playwright.sync_api import expect

from tests.test_org_import import HEADER, xlsx
from tests.web.browser import sign_in
from tests.web.pages import Person
from workflow.audit import verify_all
from workflow.channels import RecordingChannel
from workflow.delivery import make_deliver_handler
from workflow.jobs import Worker

NEW_HIRES = [
    ["赵一鸣", "13812340001", "zym@hdjs.example.com", "finance", "会计", "finance"],
    ["钱二丫", "138-1234-0002", "", "财务部", "出纳", ""],
    ["孙三强", "+86 13812340003", "", "legal", "法务专员", "legal"],
    ["李四海", "12345", "", "engineering", "工程师", ""],  # a bad number: refused, skipped
    ["周五洲", "13812340005", "", "project1", "施工员", ""],
]


def test_hr_imports_new_hires_one_activates_and_the_finance_admin_sees_only_finance(
    live_server, new_page, engine, people, tmp_path
):
    feng = Person(new_page, live_server, "fenglei")
    page = feng.page
    feng.goto("/admin/people")
    with page.expect_navigation():
        page.click("#import-link")
    page.set_input_files("#f-sheet", files=[{
        "name": "新员工.xlsx", "buffer": xlsx(NEW_HIRES, HEADER),
        "mimeType": "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet"}])  # fmt: skip
    with page.expect_navigation():
        page.click("#plan-button")
    rows = page.locator("#plan-rows tbody tr")
    expect(rows).to_have_count(5)
    refused = page.locator("#plan-rows tr[data-action=refused]")
    expect(refused).to_have_count(1)
    expect(refused).to_have_attribute("data-row", "5")
    expect(refused.locator("td.detail")).to_contain_text("须为大陆手机号")
    expect(page.locator("#plan-rows tr[data-action=create]")).to_have_count(4)
    with page.expect_navigation():
        page.click("#confirm-button")
    expect(page.locator("#invited li")).to_have_count(4)
    expect(page.locator("#import-counts li[data-action=refused] strong")).to_have_text("1")

    # the worker sends the invitations through the recording channel into the outbox
    outbox = tmp_path / "outbox.jsonl"
    channel = RecordingChannel(path=outbox)
    worker = Worker(engine.db, worker_id="w1", clock=engine.clock)
    worker.handler("deliver")(make_deliver_handler(engine.db, {"sms": channel, "email": channel}))
    worker.run_once(now=engine.clock() + timedelta(seconds=5))
    sent = [json.loads(line) for line in outbox.read_text(encoding="utf-8").splitlines()]
    to_qian = [m for m in sent if m["to_name"] == "钱二丫" and m["kind"] == "sms"]
    assert len(to_qian) == 1 and to_qian[0]["address"] == "13812340002"
    link = re.search(r"https?://\S+/invite/\S+", to_qian[0]["body"]).group(0)
    assert link.startswith(live_server)

    hire = new_page()
    hire.goto(link)
    expect(hire.locator("#invite-greeting")).to_contain_text("钱二丫")
    expect(hire.locator("#invite-greeting")).to_contain_text("qianerya")
    hire.fill("#f-password", "qianerya-2026")
    hire.fill("#f-confirm", "qianerya-2026")
    with hire.expect_navigation():
        hire.click("#activate-button")
    assert hire.url == f"{live_server}/login"
    sign_in(hire, live_server, "qianerya", "qianerya-2026")
    assert hire.url == f"{live_server}/"
    expect(hire.locator("#count-todo")).to_be_visible()
    assert hire.goto(link).status == 404  # the link is spent

    lin = Person(new_page, live_server, "linxiaoyan")
    lin.goto("/admin/people")
    units = lin.page.locator("#people-rows td.unit").all_inner_texts()
    assert units and set(units) == {"财务部"}
    logins = set(lin.page.locator("#people-rows tr[data-login]").evaluate_all(
        "rows => rows.map(r => r.dataset.login)"))  # fmt: skip
    assert {"linxiaoyan", "mali", "zhaoyiming", "qianerya"} <= logins
    assert "sunsanqiang" not in logins and "wangfang" not in logins
    response = lin.page.goto(f"{live_server}/admin/people/{people['wangfang']}")
    assert response is not None and response.status == 404

    with engine.db.read() as s:
        assert verify_all(s)[1] == []
