"""In a real browser, 收文处理 from registration to the printed flow sheet, each person in their
own browser: the clerk registers and attaches, the office director proposes, a deputy director
instructs, the host waits for the handler and ends, the clerk prints the sheet as PDF."""

from __future__ import annotations

from tests.web.pages import STAMP, Person, flat

DOCUMENT = {
    "source_unit": "上海市住房和城乡建设管理委员会",
    "original_number": "沪建安〔2026〕12号",
    "title": "关于开展春季建筑施工安全生产大检查的通知",
    "urgency": "urgent",
    "confidentiality": "internal",
    "received_on": "2026-03-01",
}
OPINIONS = {
    "register": "请李主任拟办",
    "propose": "拟请陈总阅示，由工程管理部牵头办理",
    "instruct": "同意，请胡志刚牵头，何婷配合",
    "finish": "已完成法规条款核对",
    "end": "已按通知要求完成自查，办结",
}


def test_an_incoming_document_from_registration_to_the_printed_sheet(
    live_server, new_page, engine, people, tmp_path
):
    attachment = tmp_path / "沪建安〔2026〕12号.pdf"
    attachment.write_bytes(b"%PDF-1.4 incoming notice\n" * 20)

    # 王芳 (clerk) registers the document from 发起 and sends it to 拟办 (李明, the only
    # office director: nothing to choose).
    clerk = Person(new_page, live_server, "wangfang")
    fid = clerk.start("incoming_document", DOCUMENT, files={"attachments": attachment},
                      opinion=OPINIONS["register"])  # fmt: skip
    page = clerk.page
    assert clerk.flash()
    assert "拟办" in page.inner_text("#flow-state")
    assert page.inner_text("#value-urgency").strip() == "急"
    assert page.inner_text("#value-confidentiality").strip() == "内部"
    assert page.inner_text("#value-received_on").strip() == "2026-03-01"
    assert page.inner_text("#value-attachments a").strip() == attachment.name
    director_row = page.locator("#timeline li.visit.current tbody tr").filter(has_text="李明")
    assert director_row.locator("td.confirmed").inner_text().strip() == "—"
    assert page.locator("#withdraw-form").count() == 1  # nobody has opened it yet

    # 李明 opens it from his workbench: that is his confirmation (Art. 6).
    director = Person(new_page, live_server, "liming")
    director_item = director.open_from_workbench(fid)
    confirmed = director.page.inner_text("#my-confirmed").strip()
    assert STAMP.fullmatch(confirmed), confirmed

    # … and the clerk sees on the flow page when he confirmed it; she can no longer withdraw.
    clerk.goto(f"/flows/{fid}")
    row = clerk.part(director_item)
    assert (
        row.locator("td.confirmed").inner_text().strip() == f"已读 {confirmed}"
    )  # "read", with the time
    assert row.locator("td.handled").inner_text().strip() == "—"
    assert page.locator("#withdraw-form").count() == 0

    # 李明 proposes and forwards to 批办, choosing the deputy director in the forward dialog.
    leaders = director.page.locator("#forward-dialog select[name='host.instruct'] option")
    offered = {v for v in leaders.evaluate_all("os => os.map(o => o.value)") if v}
    assert offered == {str(people[x]) for x in ("chenzhiqiang", "liuhaitao", "zhangjianguo")}
    director.forward(host=people["chenzhiqiang"], opinion=OPINIONS["propose"])
    assert director.page.url == f"{live_server}/items/{director_item}"
    assert director.flash()
    assert "批办" in director.page.inner_text("#flow-state")
    assert director.page.locator("#actions").count() == 0  # handled: nothing more to do

    # 陈志强 instructs and forwards to 承办: 胡志刚 hosts, 何婷 handles.
    leader = Person(new_page, live_server, "chenzhiqiang")
    leader.open_from_workbench(fid)
    leader.forward(host=people["huzhigang"], handlers=(people["heting"],),
                   opinion=OPINIONS["instruct"])  # fmt: skip
    assert leader.flash()
    assert "承办" in leader.page.inner_text("#flow-state")

    # 胡志刚 (host) may not end before 何婷 has finished: the page says whom it waits for and
    # offers no "End: approve"; a form that ends it anyway is refused and nothing changes.
    host = Person(new_page, live_server, "huzhigang")
    host_item = host.open_from_workbench(fid)
    assert "何婷" in host.page.inner_text("#waiting")
    assert host.page.locator("#end-form button[value=approved]").count() == 0
    before = engine.history(fid).version
    refused = host.post_from_page(host.page.get_attribute("#end-form", "action"),
                                  outcome="approved", opinion="提前办结")  # fmt: skip
    assert refused.status == 400
    assert host.page.inner_text("#error-message").strip()
    assert "何婷" in host.page.inner_text("main section.error")  # whom it still waits for
    assert "Traceback" not in host.page.content()
    assert engine.history(fid).version == before
    host.goto(f"/items/{host_item}")
    assert "何婷" in host.page.inner_text("#waiting")
    assert "承办" in host.page.inner_text("#flow-state")

    # 何婷 finishes her part with an opinion.
    handler = Person(new_page, live_server, "heting")
    handler_item = handler.open_from_workbench(fid)
    handler.page.fill("#finish-opinion", OPINIONS["finish"])
    handler.submit(handler.page.locator("#finish-form button[type=submit]"))
    assert handler.page.url == f"{live_server}/items/{handler_item}"
    assert handler.flash()
    assert handler.part(handler_item).locator("td.handled").inner_text().strip() != "—"

    # Now the host ends the flow (办结).
    host.goto(f"/items/{host_item}")
    assert host.page.locator("#waiting").count() == 0
    host.page.fill("#end-opinion", OPINIONS["end"])
    host.submit(host.page.locator("#end-form button[value=approved]"))
    assert host.flash()
    assert host.page.locator("#flow-state .mark-ok").count() == 1
    assert host.dialogs == []  # ending approved asks nothing

    # The clerk sees it ended, then prints the flow sheet and fetches its PDF.
    clerk.goto(f"/flows/{fid}")
    assert clerk.page.locator("#flow-state .mark-ok").count() == 1
    text = clerk.sheet_pdf(fid, tmp_path)
    assert (tmp_path / f"flow-sheet-{fid}.pdf").exists()
    words = flat(text)
    for expected in ("收文处理流程单", "收文登记", "拟办", "批办", "承办", *OPINIONS.values(),
                     DOCUMENT["source_unit"], DOCUMENT["original_number"], DOCUMENT["title"],
                     "王芳", "李明", "陈志强", "胡志刚", "何婷", confirmed.replace(" ", ""),
                     "已结束（同意）", "打印人：王芳"):  # fmt: skip
        assert expected in words, expected
    steps = [words.index(step) for step in ("1.收文登记", "2.拟办", "3.批办", "4.承办")]
    assert steps == sorted(steps)
