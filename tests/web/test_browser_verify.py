"""In a real browser: the initiator opens a finished flow's print view, follows the sheet's verify
link (what its QR code encodes) and reads that the paper matches the system's records."""

from __future__ import annotations

from tests.test_sheet_pdf import finish_contract
from tests.web.browser import sign_in
from tests.web.conftest import PASSWORD


def test_the_print_views_verify_link_says_the_sheet_matches(
    live_server, new_page, engine, people, item_of, clock
):
    fid = finish_contract(engine, people, item_of, clock)
    head = engine.history(fid).audit_head
    page = new_page()
    sign_in(page, live_server, "huangyong", PASSWORD)
    page.goto(f"{live_server}/flows/{fid}/sheet")
    assert page.locator("#sheet-qr svg").is_visible()
    link = page.locator("#sheet-verify-link")
    assert link.get_attribute("href") == f"{live_server}/verify?flow={fid}&head={head}"
    link.click()
    page.wait_for_url(f"{live_server}/verify?flow={fid}&head={head}")
    result = page.locator("#verify-result").inner_text()
    assert "此流程单与系统记录一致" in result and "截至" in result
