"""In a real browser: the directory is for signed-in staff only; searching "wf" finds 王芳 as one
types; a hidden mobile is absent from the page source of someone outside the chosen units."""

from __future__ import annotations

from datetime import UTC, datetime

from playwright.sync_api import expect

from tests.web.browser import sign_in
from tests.web.conftest import PASSWORD
from workflow.org import privacy
from workflow.org.directory import unit_tree

LEADER_MOBILE = "13801710001"


def test_directory_sign_in_search_and_a_hidden_mobile(live_server, new_page, engine, people):
    office = next(n.id for n in unit_tree(engine.db) if n.code == "office")
    privacy.set_privacy(engine.db, people["zhouwei"], people["zhangjianguo"], hidden=True,
                        viewer_ids=[office], at=datetime.now(UTC))  # fmt: skip
    page = new_page()
    page.goto(f"{live_server}/directory")
    page.wait_for_url(f"{live_server}/login**")  # anonymous: the sign-in page
    assert page.url.endswith("/login?next=%2Fdirectory")  # … which comes back here afterwards
    expect(page.locator("input[name=password]")).to_be_visible()

    sign_in(page, live_server, "huangyong", PASSWORD)  # 财务部: outside the chosen 办公室
    page.click("#nav-directory")
    page.wait_for_url(f"{live_server}/directory")
    page.fill("#dir-q", "wf")  # as one types: directory.js asks search.json
    expect(page.locator("#dir-results .dir-card")).to_have_count(1)
    expect(page.locator("#dir-results .dir-card .name")).to_have_text("王芳")
    expect(page.locator("#dir-results .mobile")).to_have_text("13901720002")
    page.press("#dir-q", "Enter")  # the plain form: the same result as a page
    page.wait_for_url(f"{live_server}/directory?q=wf")
    expect(page.locator(".dir-card .name")).to_have_text("王芳")

    page.fill("#dir-q", "zjg")
    expect(page.locator("#dir-results .dir-card .name")).to_have_text("张建国")
    expect(page.locator("#dir-results .mobile")).to_have_text("号码已隐藏")
    assert LEADER_MOBILE not in page.content()
    page.click("#dir-results .dir-card .name")
    page.wait_for_url(f"{live_server}/directory/{people['zhangjianguo']}")
    expect(page.locator(".dir-person .mobile")).to_have_text("号码已隐藏")
    assert "张建国" in page.content() and LEADER_MOBILE not in page.content()
