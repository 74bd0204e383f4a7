"""The flow sheet pages: who may print when, the A4 print view, the PDF, the person's language."""

from __future__ import annotations

import re
from urllib.parse import unquote

import pytest

from tests.engine.test_sheet import CONTRACT
from tests.test_sheet_pdf import STEPS, finish_contract, pdf_text


@pytest.fixture
def running(engine, people) -> int:
    """A contract review waiting at its second step (started by 黄勇, host 钱学军)."""
    return engine.start(people["huangyong"], "contract_review", CONTRACT).flow_id


@pytest.fixture
def finished(engine, people, item_of, clock) -> int:
    return finish_contract(engine, people, item_of, clock)


@pytest.mark.parametrize("suffix", ["sheet", "sheet.pdf"])
def test_sign_in_is_needed(client, running, suffix):
    response = client.get(f"/flows/{running}/{suffix}")
    assert response.status_code == 302 and response.headers["Location"].startswith("/login")


@pytest.mark.parametrize("suffix", ["sheet", "sheet.pdf"])
def test_the_initiator_prints_once_the_flow_has_ended(
    client, auth, engine, people, item_of, running, suffix
):
    auth.login("huangyong")
    refused = client.get(f"/flows/{running}/{suffix}")
    assert refused.status_code == 403
    assert "once the flow has ended" in refused.text or "流程结束后" in refused.text

    engine.end(people["qianxuejun"], item_of("qianxuejun", running), outcome="rejected")
    assert client.get(f"/flows/{running}/{suffix}").status_code == 200


def test_the_initiator_may_print_a_withdrawn_flow(client, auth, engine, people, running):
    auth.login("huangyong")
    engine.withdraw(people["huangyong"], running)
    page = client.get(f"/flows/{running}/sheet")
    assert page.status_code == 200 and "已撤回" in page.text


@pytest.mark.parametrize("suffix", ["sheet", "sheet.pdf"])
def test_an_administrator_always_prints(client, auth, running, suffix):
    auth.login("zhouwei")  # demo role 'admin', no part in the flow
    assert client.get(f"/flows/{running}/{suffix}").status_code == 200


@pytest.mark.parametrize(("login", "status"), [("qianxuejun", 403), ("pengtao", 404)])
def test_others_who_see_the_flow_get_403_and_outsiders_404(client, auth, finished, login, status):
    auth.login(login)  # 钱学军 hosted a step; 彭涛 had no part in the flow
    for suffix in ("sheet", "sheet.pdf"):
        assert client.get(f"/flows/{finished}/{suffix}").status_code == status
    assert client.get("/flows/99999/sheet").status_code == 404


def test_the_print_view(client, auth, engine, finished):
    auth.login("huangyong")
    page = client.get(f"/flows/{finished}/sheet")
    assert page.status_code == 200
    html = page.text
    record = engine.history(finished)
    for text in ("华东建设集团有限公司", "合同评审 流程单", "已结束（同意）", *STEPS,
                 "送达", "确认", "处理", "意见：合同条款合规", record.audit_head,
                 "扫描二维码，或打开下方的核对页面", "打印人：黄勇"):  # fmt: skip
        assert text in html, text
    assert "banli audit verify" not in html
    # the QR code is inline SVG (the CSP allows no inline script, and needs no image request)
    verify = f"http://localhost/verify?flow={finished}&amp;head={record.audit_head}"
    assert '<svg viewBox="0 0' in html and 'class="sheet-qr"' in html
    assert f'<a href="{verify}" id="sheet-verify-link">' in html
    for visit in record.visits:
        for p in visit.people:
            assert engine.stamp(p.handled_at) in html
    assert (
        re.search(r'/static/sheet\.css\?v=[0-9a-f]{12}"', html)
        and "@page" in html
        and "counter(pages)" in html
    )
    assert 'id="print-sheet"' in html and f'href="/flows/{finished}/sheet.pdf"' in html
    assert re.search(r'class="sheet-tools no-print"', html)


def test_the_pdf(client, auth, finished, tmp_path):
    auth.login("huangyong")
    response = client.get(f"/flows/{finished}/sheet.pdf")
    assert response.status_code == 200
    assert response.mimetype == "application/pdf" and response.data.startswith(b"%PDF-")
    disposition = response.headers["Content-Disposition"]
    assert disposition.startswith("inline;")
    assert unquote(disposition.split("filename*=UTF-8''")[1]) == f"流程单-{finished}.pdf"
    flat = re.sub(r"\s+", "", pdf_text(response.data, tmp_path))
    assert "合同评审流程单" in flat and all(step in flat for step in STEPS)
    assert "打印人：黄勇" in flat


def test_the_sheet_in_english_after_switching(client, auth, finished, tmp_path):
    auth.login("huangyong")
    auth.post("/lang", {"lang": "en", "next": f"/flows/{finished}/sheet"})
    html = client.get(f"/flows/{finished}/sheet").text
    for text in ("Contract review flow sheet", "Department review", "Countersign", "Delivered",
                 "Confirmed", "Handled", "Host", "Co-signer", "Purchase", "Ended (Approved)"):  # fmt: skip
        assert text in html, text
    assert "部门负责人审核" not in html
    text = pdf_text(client.get(f"/flows/{finished}/sheet.pdf").data, tmp_path)
    assert "Contract review flow sheet" in text and "Department review" in text
    assert re.search(r"Page 1 of \d", text)
