"""In a real browser: sign in, see the workbench in Chinese, switch to English, sign out."""

from __future__ import annotations

from tests.web.browser import sign_in
from tests.web.conftest import PASSWORD


def test_sign_in_switch_language_sign_out(live_server, new_page):
    page = new_page()
    sign_in(page, live_server, "wangfang", PASSWORD)
    assert "王芳" in page.inner_text("header")
    page.click("button[name=lang][value=en]")
    assert page.locator("html").get_attribute("lang") == "en"
    page.click("#logout")
    page.wait_for_url(f"{live_server}/login")
