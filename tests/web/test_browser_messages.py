"""In a real browser, messages between people, each in their own browser: 李明 (office director)
sends a notice to 王芳, whose open message list shows it without a reload; she opens it and his
receipts page turns to 已读 by itself. Then a DING: 李明 DINGs 孙丽, who has not read his message;
she clicks 确认收到 and his page shows 已确认."""

from __future__ import annotations

import re

from playwright.sync_api import expect

from tests.web.pages import Person

LIVE = 10_000  # the pages poll every 4 s


def compose(person: Person, to: list[int], subject: str, body: str) -> int:
    """From 消息 → 写消息: choose people, fill, send; returns the new message's id."""
    page = person.page
    person.goto("/messages")
    with page.expect_navigation():
        page.click("#compose-link")
    page.select_option("#compose-users", [str(i) for i in to])
    page.fill("#f-subject", subject)
    page.fill("#f-body", body)
    page.select_option("#f-category", "notice")
    with page.expect_navigation():
        page.click("#send-button")
    found = re.fullmatch(rf"{re.escape(person.base)}/messages/(\d+)", page.url)
    assert found, page.url
    return int(found.group(1))


def receipt(person: Person, user_id: int):
    return person.page.locator(f"#receipts-table tr[data-user='{user_id}']")


def test_a_notice_is_read_and_the_sender_sees_it_live(live_server, new_page, people):
    wang = Person(new_page, live_server, "wangfang")
    wang.goto("/messages")
    expect(wang.page.locator("#nav-unread")).to_be_hidden()

    li = Person(new_page, live_server, "liming")
    fid = compose(li, [people["wangfang"]], "周五下午开会", "周五下午三点在三楼会议室开会。")
    assert "消息已发送" in li.page.inner_text(".flash")
    row = receipt(li, people["wangfang"])
    expect(row.locator("td.status")).to_contain_text("已发送")

    # 王芳's list, open all along, shows the new message and the unread badge within seconds.
    badge = wang.page.locator("#nav-unread")
    expect(badge).to_be_visible(timeout=LIVE)
    expect(badge).to_have_text("1")
    expect(wang.page.locator("#box-unread")).to_have_text("1")
    listed = wang.page.locator(f"#message-rows tr[data-flow='{fid}']")
    expect(listed).to_contain_text("周五下午开会")
    expect(listed).to_contain_text("李明")
    expect(listed.locator(".mark-unread")).to_be_visible()
    # … and her device fetching it is its delivery: 李明's receipts say so without a reload.
    expect(row.locator("td.status")).to_contain_text("已送达", timeout=LIVE)

    with wang.page.expect_navigation():
        listed.locator("td.subject a").click()
    assert wang.page.url == f"{live_server}/messages/{fid}"
    assert "周五下午三点在三楼会议室开会。" in wang.page.inner_text("#message-text")
    expect(wang.page.locator("#nav-unread")).to_be_hidden()

    # 李明's page, never reloaded, now reads 已读 for 王芳.
    expect(row.locator("td.status")).to_contain_text("已读", timeout=LIVE)
    expect(li.page.locator("#read-summary")).to_have_text("1/1 已读")


def test_a_ding_is_confirmed_and_the_sender_sees_it_live(live_server, new_page, people):
    li = Person(new_page, live_server, "liming")
    fid = compose(li, [people["wangfang"], people["sunli"]], "明早九点检查消防设施",
                  "请各位明早九点到一楼大厅集合。")  # fmt: skip
    wang = Person(new_page, live_server, "wangfang")
    wang.goto(f"/messages/{fid}")  # 王芳 reads it; 孙丽 does not
    expect(receipt(li, people["wangfang"]).locator("td.status")).to_contain_text(
        "已读", timeout=LIVE
    )

    # 李明 turns it into a DING for 孙丽, the one who has not read it.
    li.page.reload()
    form = li.page.locator("#ding-form")
    assert form.locator(f"input[value='{people['wangfang']}']").count() == 0
    expect(form.locator(f"input[value='{people['sunli']}']")).to_be_checked()
    expect(form.locator("#dings-used")).to_contain_text("0/60")
    with li.page.expect_navigation():
        li.page.click("#ding-button")
    assert "已转为钉消息：1 人" in li.page.inner_text(".flash")
    sun_row = receipt(li, people["sunli"])
    expect(sun_row.locator("td.ding")).to_contain_text("未确认")

    sun = Person(new_page, live_server, "sunli")
    sun.goto("/messages")
    listed = sun.page.locator(f"#message-rows tr[data-flow='{fid}']")
    expect(listed.locator(".mark-ding")).to_be_visible()
    with sun.page.expect_navigation():
        listed.locator("td.subject a").click()
    button = sun.page.locator("#confirm-button")
    expect(button).to_have_text("确认收到")
    with sun.page.expect_navigation():
        button.click()
    assert "已确认收到" in sun.page.inner_text(".flash")
    expect(sun.page.locator("#confirm-button")).to_have_count(0)

    # 李明's page shows her confirmation without a reload.
    expect(sun_row.locator("td.ding .ding-confirmed")).to_contain_text("已确认", timeout=LIVE)
    expect(sun_row.locator("td.status")).to_contain_text("已读")
