"""催办 from the flow and item pages, and the workbench's live tab counts (Art. 14, Art. 20)."""

from __future__ import annotations

import re
from datetime import timedelta

from sqlalchemy import select

from tests.engine.test_contract_review import CONTRACT, to_countersign
from tests.web.browser import sign_in
from tests.web.conftest import PASSWORD, Auth, csrf_of
from workflow.jobs import JOBS
from workflow.settings import Settings


def urge_jobs(engine):
    with engine.db.read() as s:
        stmt = select(JOBS.c.key, JOBS.c.status, JOBS.c.payload).where(
            JOBS.c.key.like("deliver:urge:%")
        )
        return list(s.execute(stmt))


def client_of(app, login: str):
    client = app.test_client()
    assert Auth(client).login(login).status_code == 302
    return client


def urge_form(html: str, item_id: int) -> str | None:
    found = re.search(rf'<form[^>]*id="urge-{item_id}".*?</form>', html, re.S)
    return found.group(0) if found else None


def test_the_host_urges_a_co_signer_from_the_flow_page(app, engine, people, item_of):
    fid = to_countersign(engine, people, item_of, "680000")
    late, mine = item_of("yangfan", fid), item_of("liming", fid)
    li = client_of(app, "liming")
    page = li.get(f"/flows/{fid}").text
    form = urge_form(page, late)
    assert form and f'action="/items/{late}/urge"' in form
    assert f'name="next" value="/flows/{fid}"' in form
    assert '<option value="sms" selected>' in form and 'value="voice"' in form
    assert urge_form(page, item_of("linxiaoyan", fid)) and urge_form(page, mine) is None

    response = li.post(f"/items/{late}/urge", data={
        "csrf_token": csrf_of(page), "channel": "sms", "next": f"/flows/{fid}"})  # fmt: skip
    assert response.status_code == 302 and response.headers["Location"] == f"/flows/{fid}"
    assert "已催办，今日已用 1/60 次 DING" in li.get(f"/flows/{fid}").text
    ((key, status, payload),) = urge_jobs(engine)
    assert key == f"deliver:urge:{late}:1" and status == "pending"
    assert payload["user_id"] == people["yangfan"] and payload["kind"] == "sms"


def test_who_sees_the_urge_button(app, engine, people, item_of):
    fid = to_countersign(engine, people, item_of, "680000")
    late = item_of("yangfan", fid)
    # the initiator sees it on the flow page; the host on the item page too
    assert urge_form(client_of(app, "huangyong").get(f"/flows/{fid}").text, late)
    item_page = client_of(app, "liming").get(f"/items/{item_of('liming', fid)}").text
    assert f'name="next" value="/items/{item_of("liming", fid)}"' in urge_form(item_page, late)
    # a co-signer does not
    yang = client_of(app, "yangfan").get(f"/items/{late}").text
    assert 'class="urge-form' not in yang


def test_a_stranger_is_refused_and_nothing_is_queued(app, engine, people, item_of):
    fid = to_countersign(engine, people, item_of, "680000")
    late = item_of("yangfan", fid)
    # a co-signer sees the flow but may not urge: told why (403)
    lin = client_of(app, "linxiaoyan")
    response = lin.post(f"/items/{late}/urge",
                        data={"csrf_token": csrf_of(lin.get("/").text), "next": "/"})  # fmt: skip
    assert response.status_code == 403
    assert "只有本步骤的主办人或流程发起人可以催办" in response.text
    # someone with no part in the flow learns nothing: the 404 of an item that does not exist
    chen = client_of(app, "chenzhiqiang")
    token = csrf_of(chen.get("/").text)
    response = chen.post(f"/items/{late}/urge", data={"csrf_token": token, "next": "/"})
    assert response.status_code == 404 and "该内容不存在，或您无权查看。" in response.text
    assert urge_jobs(engine) == []


def test_next_must_be_a_path_on_this_site(app, engine, people, item_of):
    fid = to_countersign(engine, people, item_of, "680000")
    li = client_of(app, "liming")
    token = csrf_of(li.get(f"/flows/{fid}").text)
    response = li.post(f"/items/{item_of('yangfan', fid)}/urge",
                       data={"csrf_token": token, "next": "//evil.example/"})  # fmt: skip
    assert response.status_code == 302 and response.headers["Location"] == "/"


def test_past_the_daily_limit_the_urge_is_refused(app, engine, people, item_of, monkeypatch):
    monkeypatch.setattr(engine, "settings", Settings.defaults(ding_limit=1))
    fid = to_countersign(engine, people, item_of, "680000")
    late = item_of("yangfan", fid)
    li = client_of(app, "liming")
    token = csrf_of(li.get(f"/flows/{fid}").text)
    first = li.post(f"/items/{late}/urge", data={"csrf_token": token, "next": f"/flows/{fid}"})
    assert first.status_code == 302
    assert "已催办，今日已用 1/1 次 DING" in li.get(f"/flows/{fid}").text
    again = li.post(f"/items/{late}/urge", data={"csrf_token": token, "channel": "voice"})
    assert again.status_code == 400
    assert "今日钉消息已达上限（1 条）" in again.text
    assert len(urge_jobs(engine)) == 1
    li.post("/lang", data={"csrf_token": token, "lang": "en", "next": "/"})
    english = li.post(f"/items/{late}/urge", data={"csrf_token": token})
    assert english.status_code == 400
    assert "You have reached today&#39;s limit of 1 DINGs." in english.text


def test_counts_json_gives_every_tab_and_needs_sign_in(app, engine, people, item_of):
    fid = to_countersign(engine, people, item_of, "680000")
    assert engine.history(fid).state == "countersign"
    response = app.test_client().get("/workbench/counts.json")
    assert response.status_code == 302 and "/login" in response.headers["Location"]
    for login in ("liming", "huangyong", "qianxuejun"):
        response = client_of(app, login).get("/workbench/counts.json")
        assert response.status_code == 200 and response.headers["Cache-Control"] == "no-store"
        assert response.json == engine.tab_counts(people[login])
    assert client_of(app, "liming").get("/workbench/counts.json").json["todo"] >= 1
    assert client_of(app, "huangyong").get("/workbench/counts.json").json["started"] >= 1


def test_the_workbench_carries_the_live_counts_url(app):
    page = client_of(app, "qianxuejun").get("/workbench/done?q=空调").text
    assert 'data-live-counts-url="/workbench/counts.json?q=' in page
    assert 'data-new-todo-text="有新的待办"' in page and "app.js" in page


def test_a_new_item_shows_on_the_open_workbench_within_seconds(
    app, engine, people, live_server, new_page
):
    from playwright.sync_api import expect

    page = new_page()
    sign_in(page, live_server, "qianxuejun", PASSWORD)
    before = int(page.inner_text("#count-todo"))
    assert page.locator("#live-notice").count() == 0
    engine.start(people["huangyong"], "contract_review", CONTRACT)
    expect(page.locator("#count-todo")).to_have_text(str(before + 1), timeout=8_000)
    notice = page.locator("#live-notice")
    expect(notice).to_be_visible(timeout=2_000)
    expect(notice).to_contain_text("有新的待办")
    assert notice.locator("a").get_attribute("href").startswith(live_server)


def test_an_urge_is_a_ding_the_late_person_confirms(app, engine, people, item_of):
    """催办 records a DING: the co-signer sees 确认收到 on the item, clicks it, and the host's
    flow page shows the urge delivered by the channel and confirmed."""
    from tests.engine.test_messages import _worker
    from workflow.channels import RecordingChannel

    fid = to_countersign(engine, people, item_of, "680000")
    late = item_of("yangfan", fid)
    li = client_of(app, "liming")
    page = li.get(f"/flows/{fid}").text
    li.post(f"/items/{late}/urge", data={
        "csrf_token": csrf_of(page), "channel": "sms", "next": f"/flows/{fid}"})  # fmt: skip
    assert "催办 1 次" in li.get(f"/flows/{fid}").text
    _worker(engine, sms=RecordingChannel()).run_once(now=engine.clock() + timedelta(seconds=5))
    yang = client_of(app, "yangfan")
    item_page = yang.get(f"/items/{late}").text
    assert 'id="ding-confirm"' in item_page and "李明 催您办理此步骤" in item_page
    done = yang.post(f"/items/{late}/confirm-ding", data={"csrf_token": csrf_of(item_page)})
    assert done.status_code == 302 and done.headers["Location"] == f"/items/{late}"
    assert 'id="ding-confirm"' not in yang.get(f"/items/{late}").text
    state = re.search(rf'id="ding-{late}">(.*?)</small>', li.get(f"/flows/{fid}").text, re.S)
    assert state and "送达" in state.group(1) and "已确认" in state.group(1)
    # a stranger cannot confirm someone else's DING
    other = client_of(app, "linxiaoyan")
    page = other.get("/workbench").text
    refused = other.post(f"/items/{late}/confirm-ding", data={"csrf_token": csrf_of(page)})
    assert refused.status_code in (403, 404)
