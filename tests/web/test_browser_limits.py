"""In a real browser: an opinion the server refuses as too long is shown next to its field."""

from __future__ import annotations

from tests.engine.test_sheet import CONTRACT
from tests.web.pages import Person
from workflow.limits import OPINION_MAX


def test_a_too_long_opinion_is_named_next_to_the_field_in_the_forward_dialog(
    live_server, new_page, engine, people
):
    fid = engine.start(people["huangyong"], "contract_review", CONTRACT).flow_id
    head = Person(new_page, live_server, "qianxuejun")
    item = head.open_from_workbench(fid)
    head.page.click("[data-open-dialog=forward-dialog]")
    box = head.page.locator("#forward-opinion")
    box.fill("审" * (OPINION_MAX + 10))
    assert len(box.input_value()) == OPINION_MAX  # the page's maxlength stops typing there

    # a page without the attribute (an older one, a script): the server is the guard
    box.evaluate("e => e.removeAttribute('maxlength')")
    too_long = "核" * (OPINION_MAX + 1)
    box.fill(too_long)
    response = head.submit(head.page.locator("#forward-dialog button[type=submit]"))
    assert response.status == 400
    assert head.page.url == f"{live_server}/items/{item}/forward"
    error = head.page.locator("#err-forward-opinion")
    assert error.is_visible()  # the dialog is open again, the message under the field
    assert error.inner_text() == f"意见: 共 {OPINION_MAX + 1} 个字，超过了 {OPINION_MAX} 个字的上限"
    assert head.page.locator("#forward-opinion").input_value() == too_long
    assert head.page.locator("#forward-opinion").get_attribute("aria-describedby") == (
        "err-forward-opinion"
    )
    assert engine.history(fid).state == "dept_review"

    box = head.page.locator("#forward-opinion")
    box.fill("同意，送会签")
    head.submit(head.page.locator("#forward-dialog button[type=submit]"))
    assert head.flash() and "会签" in head.page.inner_text("#flow-state")
