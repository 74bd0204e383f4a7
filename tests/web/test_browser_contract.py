"""In a real browser, 合同评审 with a countersign and a veto, each person in their own browser; and
the same work item acted on from two tabs: the second is told who handled it and when."""

from __future__ import annotations

from tests.web.pages import Person, flat

CONTRACT = {
    "title": "办公楼中央空调采购合同",
    "counterparty": "上海申能机电有限公司",
    "amount": "680000",
    "contract_type": "purchase",
    "sign_date": "2026-03-20",
    "summary": "采购中央空调室外机 4 台、室内机 40 台，含安装调试",
}
VETO = "违约责任条款显失公平，法务不同意签订"
OPINIONS = {
    "draft": "请审核",
    "dept_review": "同意，送会签",
    "finance": "资金已列入年度预算",
    "end": "按法务意见终止本次评审",
}


def test_a_vetoed_countersign_ends_the_contract_rejected_and_prints(
    live_server, new_page, engine, people, tmp_path
):
    # 黄勇 drafts the contract; it goes to his department head, 钱学军.
    author = Person(new_page, live_server, "huangyong")
    fid = author.start("contract_review", CONTRACT, opinion=OPINIONS["draft"])
    assert author.flash()
    assert author.page.inner_text("#value-amount").strip() == "680,000.00"
    assert author.page.inner_text("#value-contract_type").strip() == "采购合同"

    # 钱学军 forwards it to 会签: host 李明, co-signers 杨帆 (legal) and 林晓燕 (finance), all
    # fixed by the definition, so the dialog only confirms.
    head = Person(new_page, live_server, "qianxuejun")
    head.open_from_workbench(fid)
    head.forward(opinion=OPINIONS["dept_review"])
    assert head.flash()
    assert "会签" in head.page.inner_text("#flow-state")

    # 林晓燕 signs: approve.
    finance = Person(new_page, live_server, "linxiaoyan")
    finance_item = finance.open_from_workbench(fid)
    finance.page.fill("#sign-opinion", OPINIONS["finance"])
    finance.submit(finance.page.locator("#sign-form button[value=approve]"))
    assert finance.page.url == f"{live_server}/items/{finance_item}"
    assert finance.flash()
    assert finance.part(finance_item).locator(".mark-ok").count() == 1
    assert finance.dialogs == []

    # 杨帆 signs: reject — a veto, which the page asks her to confirm first.
    legal = Person(new_page, live_server, "yangfan")
    legal_item = legal.open_from_workbench(fid)
    legal.page.fill("#sign-opinion", VETO)
    legal.submit(legal.page.locator("#sign-form button[value=reject]"))
    assert len(legal.dialogs) == 1, legal.dialogs
    assert legal.flash()
    assert legal.part(legal_item).locator(".mark-rejected").count() == 1
    assert legal.part(legal_item).locator("td.long-text").inner_text() == VETO

    # 李明, the countersign's host, sees the step vetoed: no forward, no "End: approve" —
    # only ending as rejected or returning. A forward sent anyway is refused.
    host = Person(new_page, live_server, "liming")
    host_item = host.open_from_workbench(fid)
    page = host.page
    assert page.locator("#waiting.mark-rejected").is_visible()
    assert page.locator("#timeline li.visit.current .mark-rejected").count() >= 1
    assert page.locator("#forward-dialog, [data-open-dialog]").count() == 0
    assert page.locator("#end-form button[value=approved]").count() == 0
    assert page.locator("#end-form button[value=rejected]").is_visible()
    assert page.locator("#return-form").count() == 1
    before = engine.history(fid).version
    refused = host.post_from_page(f"/items/{host_item}/forward", to="leader_review",
                                  **{"host.leader_review": str(people["chenzhiqiang"])})  # fmt: skip
    assert refused.status == 400
    assert page.locator("#error-message").inner_text().strip()
    assert "Traceback" not in page.content()
    assert engine.history(fid).version == before

    # … so he ends the flow as rejected (the page asks to confirm).
    host.goto(f"/items/{host_item}")
    page.fill("#end-opinion", OPINIONS["end"])
    host.submit(page.locator("#end-form button[value=rejected]"))
    assert len(host.dialogs) == 1, host.dialogs
    assert page.url == f"{live_server}/items/{host_item}"
    assert host.flash()
    assert page.locator("#flow-state .mark-rejected").count() == 1
    assert page.locator("#actions").count() == 0

    # 黄勇 sees it ended as rejected, on his workbench and on the flow page …
    author.goto("/workbench/started")
    row = author.page.locator(f"#worklist tr[data-flow='{fid}']")
    assert row.locator(".mark-rejected").count() == 1
    with author.page.expect_navigation():
        row.locator("td.title a").click()
    assert author.page.url == f"{live_server}/flows/{fid}"
    assert author.page.locator("#flow-state .mark-rejected").count() == 1
    assert author.page.locator("#withdraw-form").count() == 0

    # … and prints the flow sheet: the countersign, the veto and its opinion are on it.
    words = flat(author.sheet_pdf(fid, tmp_path))
    for expected in ("合同评审流程单", "起草", "部门负责人审核", "会签", "会签否决", VETO,
                     *OPINIONS.values(), "会签：不同意", "会签：同意", "已结束（不同意）",
                     "杨帆", "林晓燕", "李明", "680,000.00", "打印人：黄勇"):  # fmt: skip
        assert expected in words, expected
    assert "分管领导审批" not in words  # it never got that far


def test_a_second_tab_on_a_handled_item_is_told_who_handled_it_and_when(
    live_server, new_page, engine, people, item_of
):
    fid = engine.start(people["huangyong"], "contract_review", CONTRACT).flow_id
    item = item_of("qianxuejun", fid)
    head = Person(new_page, live_server, "qianxuejun")
    first, second = head.page, head.tab()
    head.goto(f"/items/{item}", first)
    head.goto(f"/items/{item}", second)

    # A double click on Forward in the first tab sends one request (data-once) …
    posts: list[str] = []
    first.on("request", lambda r: posts.append(r.url) if r.method == "POST" else None)
    first.click("[data-open-dialog=forward-dialog]")
    with first.expect_navigation():
        first.dblclick("#forward-dialog button[type=submit]")
    assert posts == [f"{live_server}/items/{item}/forward"]
    assert first.locator("main .flash").count() == 1
    assert "会签" in first.inner_text("#flow-state")
    state = engine.history(fid)
    handled = next(p for v in state.visits for p in v.people if p.item_id == item).handled_at

    # … and the second tab, still showing the form, is refused with who handled it and when.
    refused = head.forward(page=second)
    assert refused.status == 409
    message = second.inner_text("#error-message")
    assert "钱学军" in message and engine.local(handled) in message, message
    assert "Traceback" not in second.content()
    assert engine.history(fid).version == state.version
    assert second.locator("main section.error a[href='/']").count() == 1  # back to the workbench
