"""In a real browser: HR removes a leaver holding 3 open items and moves a person; the successor
finds the work in 待办 with the reason, the leaver's open browser is thrown out on its next click,
and the leaver's name stays on the flow page and the printed sheet."""

from __future__ import annotations

from playwright.sync_api import expect

from tests.engine.test_incoming_document import register
from tests.web.browser import sign_in
from tests.web.conftest import PASSWORD

REASON = "因 李明 离职，转由 赵敏 办理"


def test_hr_removes_a_leaver_and_moves_a_person(live_server, new_page, engine, people):
    flows = [register(engine, people) for _ in range(3)]
    leaver = new_page()
    sign_in(leaver, live_server, "liming", PASSWORD)
    expect(leaver.locator("tr[data-item]")).to_have_count(3)

    hr = new_page()
    sign_in(hr, live_server, "fenglei", PASSWORD)
    hr.goto(f"{live_server}/admin/people/{people['liming']}/remove")
    expect(hr.locator("#open-items tbody tr")).to_have_count(3)
    hr.select_option("#successor", str(people["zhaomin"]))
    hr.check("#confirm")
    hr.click("#remove-submit")
    expect(hr.locator("#result-summary")).to_have_text("已结束 1 个登录；已转办 3 项待办。")
    expect(hr.locator("#handed tbody tr")).to_have_count(3)

    # the leaver's next click, in the browser still open, lands on the sign-in page
    leaver.click("#tab-done")
    leaver.wait_for_url(f"{live_server}/login**")

    successor = new_page()
    sign_in(successor, live_server, "zhaomin", PASSWORD)
    expect(successor.locator("tr[data-item]")).to_have_count(3)
    expect(successor.locator(".reassign-note")).to_have_text([REASON] * 3)
    successor.click(f"tr[data-flow='{flows[0]}'] td.title a")
    expect(successor.locator("#timeline")).to_contain_text("李明")
    expect(successor.locator("#timeline .reassign-note").first).to_have_text(REASON)

    (row,) = [r for r in engine.inbox(people["zhaomin"]) if r.flow_id == flows[0]]
    engine.end(people["zhaomin"], row.item_id, opinion="存档")
    clerk = new_page()
    sign_in(clerk, live_server, "wangfang", PASSWORD)
    clerk.goto(f"{live_server}/flows/{flows[0]}/sheet")
    expect(clerk.locator("#sheet")).to_contain_text("李明")
    expect(clerk.locator("#sheet")).to_contain_text(REASON)

    # HR moves a person to another unit in the same way
    hr.goto(f"{live_server}/admin/people/{people['wujing']}/move")
    hr.select_option("#unit", "engineering")
    hr.click("#move-submit")
    expect(hr.locator("#result-summary")).to_have_text("办公室 → 工程管理部；已转办 0 项待办。")
