"""The verify page a flow sheet's QR code opens: signed-in only, the flow's own visibility, the
answer in a clerk's words (Chinese by default, English), and what a broken record looks like."""

from __future__ import annotations

import re

import pytest
from sqlalchemy import select, text

from tests.test_sheet_pdf import finish_contract
from workflow.store.models import AuditEvent


@pytest.fixture
def finished(engine, people, item_of, clock) -> int:
    return finish_contract(engine, people, item_of, clock)


def _events(engine, fid):
    with engine.db.read() as s:
        stmt = select(AuditEvent).where(AuditEvent.chain == f"flow:{fid}").order_by(AuditEvent.seq)
        return list(s.scalars(stmt))


def _result(html: str) -> str:
    found = re.search(r'id="verify-result">([^<]*)<', html)
    assert found, html
    return found.group(1)


def test_anonymous_is_sent_to_sign_in(client, engine, finished):
    head = engine.history(finished).audit_head
    response = client.get(f"/verify?flow={finished}&head={head}")
    assert response.status_code == 302 and response.headers["Location"].startswith("/login")


def test_the_current_head_matches_in_chinese(client, auth, engine, finished):
    auth.login("huangyong")
    record = engine.history(finished)
    page = client.get(f"/verify?flow={finished}&head={record.audit_head}")
    assert page.status_code == 200
    assert _result(page.text) == f"此流程单与系统记录一致（截至 {engine.local(record.ended_at)}）"
    assert f'href="/flows/{finished}"' in page.text


def test_an_earlier_head_says_as_of_when_and_what_came_after(client, auth, engine, finished):
    auth.login("yangfan")  # a co-signer of the flow may check its paper too
    events = _events(engine, finished)
    at = events[-3]
    page = client.get(f"/verify?flow={finished}&head={at.hash}")
    assert page.status_code == 200
    assert [e.kind for e in events[-2:]] == ["deliver", "end"]
    assert _result(page.text) == (
        f"此流程单是 {engine.local(at.at)} 时的记录，此后又有 2 项办理记录：送达、结束流程"
    )


def test_a_head_not_of_this_flow_may_be_forged(client, auth, finished):
    auth.login("huangyong")
    page = client.get(f"/verify?flow={finished}&head={'ab' * 32}")
    assert page.status_code == 200
    assert _result(page.text) == "此链头不属于该流程，流程单可能被篡改。"


def test_in_english(client, auth, engine, finished):
    auth.login("huangyong")
    auth.post("/lang", {"lang": "en", "next": "/"})
    record = engine.history(finished)
    page = client.get(f"/verify?flow={finished}&head={record.audit_head}")
    assert _result(page.text) == (
        f"This flow sheet matches the system's records (as of {engine.local(record.ended_at)})."
    )
    at = _events(engine, finished)[-3]
    old = client.get(f"/verify?flow={finished}&head={at.hash}").text
    assert "more actions have been recorded since: Delivered, Ended the flow" in _result(old)
    wrong = client.get(f"/verify?flow={finished}&head={'ab' * 32}").text
    assert "does not belong to this flow" in _result(wrong)


def test_a_stranger_gets_the_same_404_as_for_no_flow(client, auth, engine, finished):
    auth.login("pengtao")  # no part in the flow
    head = engine.history(finished).audit_head
    hidden = client.get(f"/verify?flow={finished}&head={head}")
    assert hidden.status_code == 404
    missing = client.get(f"/verify?flow=99999&head={head}")
    assert missing.status_code == 404
    message = re.compile(r'id="error-message">([^<]*)<')
    assert message.search(hidden.text).group(1).replace(str(finished), "N") == message.search(
        missing.text
    ).group(1).replace("99999", "N")
    for junk in ("abc", "99999999999999999999", "-1", "0"):
        assert client.get(f"/verify?flow={junk}&head={head}").status_code == 404


def test_a_broken_chain_is_said_even_for_the_current_head(client, auth, engine, finished):
    record = engine.history(finished)
    with engine.db.write() as s:
        s.execute(
            text("UPDATE audit_events SET actor_name = '张三' WHERE chain = :c AND seq = 3"),
            {"c": f"flow:{finished}"},
        )
    auth.login("huangyong")
    page = client.get(f"/verify?flow={finished}&head={record.audit_head}").text
    assert "此流程单与系统记录一致" not in page
    assert "但系统中此流程的记录已损坏" in _result(page)
    assert f"flow:{finished}: seq 3 " in page and "请告知系统管理员核查审计记录" in page


def test_without_a_head_the_page_asks_for_one(client, auth):
    auth.login("huangyong")
    page = client.get("/verify")
    assert page.status_code == 200 and "请输入流程单上印的流程编号和链头" in page.text


def test_the_print_views_link_opens_the_verify_page(client, auth, finished):
    auth.login("huangyong")
    sheet = client.get(f"/flows/{finished}/sheet").text
    href = re.search(r'<a href="([^"]+)" id="sheet-verify-link">', sheet).group(1)
    assert href.startswith("http://localhost/verify?")
    page = client.get(href.replace("&amp;", "&").removeprefix("http://localhost"))
    assert "此流程单与系统记录一致" in _result(page.text)


def test_a_forged_opinion_under_an_intact_chain_is_named(client, auth, engine, finished):
    """The chain verifies, but a row shows what its events do not: the page says so, never 一致."""
    record = engine.history(finished)
    with engine.db.write() as s:
        item = s.execute(
            text("SELECT id FROM work_items WHERE flow_id = :f AND opinion IS NOT NULL LIMIT 1"),
            {"f": finished},
        ).scalar_one()
        s.execute(text("UPDATE work_items SET opinion = '不同意' WHERE id = :i"), {"i": item})
    auth.login("huangyong")
    page = client.get(f"/verify?flow={finished}&head={record.audit_head}").text
    assert "此流程单与系统记录一致" not in page
    assert "但系统中此流程的记录已损坏" in _result(page)
    assert f"flow {finished}: work item {item}: opinion differs from event seq " in page
