"""In a real browser: "sign out everywhere else" throws a second browser out on its next click;
the sign-in statistics show the counts made here and the XLSX export holds the same figures."""

from __future__ import annotations

from datetime import datetime, time

from openpyxl import load_workbook
from playwright.sync_api import expect

from tests.web.browser import sign_in
from tests.web.conftest import PASSWORD
from workflow.org.presence_days import local_day, mark


def test_sign_out_everywhere_ends_the_other_browsers_session(live_server, new_page):
    pc, phone = new_page(), new_page()
    sign_in(pc, live_server, "wangfang", PASSWORD)
    sign_in(phone, live_server, "wangfang", PASSWORD)  # both at once: both keep working
    pc.goto(f"{live_server}/me/devices")
    expect(pc.locator("#devices tbody tr")).to_have_count(2)
    expect(pc.locator("#this-device")).to_have_count(1)
    phone.goto(f"{live_server}/")
    expect(phone.locator("header")).to_contain_text("王芳")

    pc.click("#end-others")
    expect(pc.locator(".flash")).to_contain_text("1 个其他登录已结束")
    expect(pc.locator("#devices tbody tr")).to_have_count(1)

    phone.click("header a.brand")  # the next click of the other browser
    phone.wait_for_url(f"{live_server}/login**")
    expect(phone.locator(".flash")).to_contain_text("此登录已在其他设备上或由管理员结束")
    pc.reload()
    expect(pc.locator("#this-device")).to_be_visible()


def test_statistics_show_the_counts_and_the_xlsx_matches(live_server, new_page, engine, people,
                                                         tmp_path):  # fmt: skip
    today = local_day(engine.clock(), engine.tz)
    at = datetime.combine(today, time(8, 30), tzinfo=engine.tz)
    with engine.db.write() as s:
        for login in ("huangyong", "mali"):
            mark(s, people[login], at, engine.tz)
    page = new_page()
    sign_in(page, live_server, "linxiaoyan", PASSWORD)  # stats over 财务部 only
    page.click("#nav-presence")
    row = page.locator(f"#day-{today.isoformat()}")
    expect(row.locator(".expected")).to_have_text("4")
    expect(row.locator(".present")).to_have_text("2")
    expect(row.locator(".absent")).to_have_text("2")
    expect(page.locator("svg#chart title").first).to_have_text("每日登录人数")
    expect(page.locator("#absent-people tbody tr")).to_have_count(2)

    with page.expect_download() as info:
        page.click("#export-xlsx")
    path = tmp_path / "signins.xlsx"
    info.value.save_as(path)
    sheet = load_workbook(path).active
    cells = [[c.value for c in r] for r in sheet.iter_rows()]
    assert cells[0] == ["日期", "部门", "登录名", "姓名", "已登录", "首次登录时间"]
    on_today = {r[3]: r[4] for r in cells[1:] if r[0] == today.isoformat()}
    assert on_today == {"钱学军": "否", "林晓燕": "否", "黄勇": "是", "马丽": "是"}
    assert sum(1 for r in cells[1:] if r[4] == "是") == 2
