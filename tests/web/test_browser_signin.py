"""In a real browser: sign in, see the workbench in Chinese, switch to English, sign out; the
lock after repeated failures."""

from __future__ import annotations

from playwright.sync_api import expect

from tests.web.browser import sign_in
from tests.web.conftest import PASSWORD
from workflow.signin import ACCOUNT_RULE, current_waits


def test_sign_in_switch_language_sign_out(live_server, new_page):
    page = new_page()
    sign_in(page, live_server, "wangfang", PASSWORD)
    assert "王芳" in page.inner_text("header")
    page.click("button[name=lang][value=en]")
    assert page.locator("html").get_attribute("lang") == "en"
    page.click("#logout")
    page.wait_for_url(f"{live_server}/login")


def test_repeated_failures_show_the_lock_and_when_it_lifts(live_server, new_page, engine, clock):
    """Ten wrong passwords in a real browser: the page says the login is locked and until when
    (local time); the right password is then refused with the same message."""
    page = new_page()
    page.goto(f"{live_server}/login")
    for _ in range(ACCOUNT_RULE.lock_at):
        page.fill("input[name=login]", "wangfang")
        page.fill("input[name=password]", "not-my-password")
        page.click("button[type=submit]")
        expect(page.locator("#login-error")).to_have_text("登录名或密码错误。")
        clock.advance(seconds=100)  # wait out each growing delay (the test clock, not a sleep)
    (lock,) = current_waits(engine.db, clock.now)
    message = (f"登录失败次数过多，该登录名已暂时锁定，将于 {engine.local(lock.until)} 解除；"
               "管理员可提前解除。")  # fmt: skip
    expect(page.locator("#login-wait")).to_have_text(message)

    page.fill("input[name=login]", "wangfang")
    page.fill("input[name=password]", PASSWORD)
    page.click("button[type=submit]")
    expect(page.locator("#login-wait")).to_have_text(message)
    expect(page.locator("#login-error")).to_have_count(0)
    assert page.url.startswith(f"{live_server}/login")
