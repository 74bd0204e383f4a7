"""The flow pages through the Flask client: start, work items, actions, refusals, attachments."""

from __future__ import annotations

import hashlib
import io
import re
from pathlib import Path

import pytest

from tests.web.conftest import Auth, csrf_of
from workflow.engine.registry import store_definition

CONTRACT = {
    "title": "办公楼空调采购合同",
    "counterparty": "上海申能机电有限公司",
    "amount": "680000",
    "contract_type": "purchase",
    "summary": "采购空调 40 台",
}
PDF = b"%PDF-1.4 contract text\n" * 40

EVERY_FIELD = """\
id: every_field
name: {zh: 全部字段, en: Every field}
form:
  - {key: title, type: text, required: true, max_length: 10, label: {zh: 标题, en: Title}}
  - {key: notes, type: textarea, max_length: 20, label: {zh: 说明, en: Notes}}
  - {key: count, type: integer, min: 1, label: {zh: 数量, en: Count}}
  - {key: amount, type: money, label: {zh: 金额, en: Amount}}
  - {key: due, type: date, label: {zh: 日期, en: Due date}}
  - key: kind
    type: choice
    label: {zh: 类别, en: Kind}
    choices:
      - {value: small, label: {zh: 小, en: Small}}
      - {value: large, label: {zh: 大, en: Large}}
  - {key: owner, type: user, label: {zh: 负责人, en: Owner}}
  - {key: helpers, type: users, label: {zh: 协助人, en: Helpers}}
  - {key: unit, type: unit, label: {zh: 单位, en: Unit}}
  - {key: docs, type: files, label: {zh: 附件, en: Documents}}
steps:
  apply:
    name: {zh: 申请, en: Application}
    host: initiator
    next: [review, archive]
  review:
    name: {zh: 领导审批, en: Review}
    host: {choose_from: [{role: deputy_director}]}
    handlers: {choose_from: [anyone], min: 0}
    can_end: true
  archive:
    name: {zh: 存档, en: Archive}
    host: {role: archivist}
    can_end: true
"""
GOOD = {"title": "Good", "notes": "fine", "count": "3", "amount": "12.50", "due": "2026-04-01",
        "kind": "small", "unit": "finance"}  # fmt: skip


class Person:
    """One person's Flask client, signed in and reading English (so the tests read the msgids)."""

    def __init__(self, app, login: str) -> None:
        self.client = app.test_client()
        self.auth = Auth(self.client)
        assert self.auth.login(login).status_code == 302
        self.auth.post("/lang", {"lang": "en", "next": "/"})
        self.token = csrf_of(self.client.get("/start").text)

    def get(self, url: str, **kw):
        return self.client.get(url, **kw)

    def post(self, url: str, data: dict | None = None, **kw):
        return self.client.post(url, data={**(data or {}), "csrf_token": self.token}, **kw)

    def upload(self, url: str, data: dict):
        return self.post(url, data, content_type="multipart/form-data")


@pytest.fixture
def signed_in(app):
    """``signed_in('huangyong')``: a Flask client of that person."""
    return lambda login: Person(app, login)


@pytest.fixture
def every_field(app, engine, tmp_path):
    path = tmp_path / "every_field.yaml"
    path.write_text(EVERY_FIELD, encoding="utf-8")
    with engine.db.write() as s:
        store_definition(s, path, engine.clock())
    return "every_field"


def version(engine, flow_id: int) -> int:
    return engine.history(flow_id).version


def field_block(html: str, key: str) -> str:
    """The markup of one form field: its input, help and error."""
    found = re.search(rf'<div class="field[^"]*" id="field-{key}">(.*?)\n</div>', html, re.S)
    assert found, f"the page has a field {key}"
    return found.group(1)


def start_contract(person: Person, **extra) -> int:
    data = {**CONTRACT, "text": (io.BytesIO(PDF), "合同文本.pdf"), **extra}
    response = person.upload("/start/contract_review", data)
    assert response.status_code == 302, response.text
    found = re.fullmatch(r"/flows/(\d+)", response.headers["Location"])
    assert found
    return int(found.group(1))


def part(engine, flow_id: int, login_name: str, step: str):
    visit = [v for v in engine.history(flow_id).visits if v.step == step][-1]
    return next(p for p in visit.people if p.name == login_name)


# --- starting ----------------------------------------------------------------------------------


def test_start_lists_what_this_person_may_start(signed_in):
    huang = signed_in("huangyong")
    page = huang.get("/start").text
    assert "Contract review" in page and "Seal usage" in page
    assert "Incoming document" not in page  # clerks only
    assert huang.get("/start/incoming_document").status_code == 403
    assert huang.get("/start/no_such_type").status_code == 404
    assert "Incoming document" in signed_in("wangfang").get("/start").text


def test_start_form_has_an_input_for_every_field_type(signed_in, every_field):
    page = signed_in("huangyong").get("/start/every_field").text
    assert '<textarea id="f-notes" name="notes"' in page
    assert 'type="date" name="due"' in page
    assert 'inputmode="decimal"' in page and 'inputmode="numeric"' in page
    assert '<select id="f-kind" name="kind"' in page and ">Small</option>" in page
    assert '<select id="f-owner" name="owner"' in page and "王芳 · 办公室" in page
    assert '<select id="f-helpers" name="helpers" multiple' in page
    assert '<select id="f-unit" name="unit"' in page and ">财务部</option>" in page
    assert '<input id="f-docs" type="file" name="docs" multiple' in page
    # the first step leads to two steps, and the review's host is chosen among two leaders
    assert '<select name="to" data-step-select>' in page
    assert 'name="host.review"' in page and "陈志强" in page and "刘海涛" in page


@pytest.mark.parametrize(
    ("key", "bad", "message"),
    [
        ("title", "x" * 11, "is 11 characters long; at most 10 are allowed"),
        ("notes", "y" * 21, "is 21 characters long; at most 20 are allowed"),
        ("count", "three", "must be a whole number"),
        ("amount", "12.345", "must be an amount with at most two decimals"),
        # no 500 for what Decimal reads but no clerk means (issue 8, item 5)
        ("amount", "1e999999", "must be an amount such as 1234.50"),
        ("amount", "NaN", "must be an amount such as 1234.50"),
        ("amount", "-Infinity", "must be an amount such as 1234.50"),
        ("amount", "1e-999999", "must be an amount such as 1234.50"),
        ("amount", "9" * 5000, "must be an amount such as 1234.50"),
        ("amount", "1000000000000", "is too large"),
        ("count", "9" * 5000, "must be a whole number"),
        ("count", "9" * 20, "is too large"),
        ("owner", "99999999999999999999", "names no active person"),
        ("helpers", [str(2**63)], "names no active person"),
        ("due", "2026-13-45", "must be a date such as 2026-03-01"),
        ("kind", "huge", "must be one of small, large"),
        ("owner", "999999", "names no active person"),
        ("helpers", ["999999"], "names no active person"),
        ("unit", "atlantis", "names no unit"),
        ("docs", (io.BytesIO(b""), "empty.pdf"), "Documents: the file empty.pdf is empty"),
    ],
)
def test_a_bad_value_is_named_next_to_its_field_and_the_rest_is_kept(
    signed_in, people, engine, every_field, key, bad, message
):
    huang = signed_in("huangyong")
    data = {**GOOD, "owner": str(people["wangfang"]), key: bad}
    response = huang.upload("/start/every_field", data)
    assert response.status_code == 400
    assert message in field_block(response.text, key)
    assert 'class="field-error"' not in field_block(
        response.text, "kind" if key != "kind" else "due"
    )
    if key != "title":
        assert 'value="Good"' in field_block(response.text, "title")
    if key != "owner":
        assert f'value="{people["wangfang"]}" selected' in field_block(response.text, "owner")
    if key != "unit":
        assert 'value="finance" selected' in field_block(response.text, "unit")
    assert engine.started(people["huangyong"]) == []


def test_a_missing_required_field_says_so(signed_in, every_field):
    response = signed_in("huangyong").upload("/start/every_field", {**GOOD, "title": ""})
    assert response.status_code == 400
    assert "Title: is required" in field_block(response.text, "title")


def test_uploaded_files_survive_a_failed_try_and_can_be_removed(
    signed_in, engine, people, every_field
):
    huang = signed_in("huangyong")
    files = [(io.BytesIO(b"first"), "一.txt"), (io.BytesIO(b"second"), "二.txt")]
    response = huang.upload("/start/every_field", {**GOOD, "title": "x" * 11, "docs": files})
    assert response.status_code == 400
    block = field_block(response.text, "docs")
    assert "一.txt" in block and "二.txt" in block and 'name="docs.remove"' in block
    tokens = re.findall(r'name="docs.kept" value="([^"]+)"', block)
    assert len(tokens) == 2

    second = hashlib.sha256(b"second").hexdigest()
    response = huang.upload("/start/every_field", {
        **GOOD, "docs.kept": [*tokens, "forged-token"], "docs.remove": second,
        "to": "review", "host.review": str(people["chenzhiqiang"])})  # fmt: skip
    assert response.status_code == 302, response.text
    (flow,) = engine.started(people["huangyong"])
    docs = engine.history(flow["flow_id"]).form["docs"]
    assert docs == [{"name": "一.txt", "size": 5, "sha256": hashlib.sha256(b"first").hexdigest(),
                     "content_type": "text/plain"}]  # fmt: skip


def test_a_kept_file_token_is_bound_to_its_uploader(signed_in, engine, people, every_field):
    huang = signed_in("huangyong")
    response = huang.upload("/start/every_field", {**GOOD, "title": "", "docs": (io.BytesIO(b"secret"), "s.txt")})  # fmt: skip
    (token,) = re.findall(r'name="docs.kept" value="([^"]+)"', response.text)
    other = signed_in("gaofeng")
    response = other.upload("/start/every_field", {
        **GOOD, "docs.kept": token, "to": "archive"})  # fmt: skip
    assert response.status_code == 302
    (flow,) = engine.started(people["gaofeng"])
    assert "docs" not in engine.history(flow["flow_id"]).form


def test_the_initiator_chooses_the_first_step_and_its_host(signed_in, engine, people, every_field):
    huang = signed_in("huangyong")
    response = huang.upload("/start/every_field", {**GOOD, "to": "review"})
    assert response.status_code == 400
    assert "Choose the host of step &#39;review&#39; among: 陈志强, 刘海涛." in response.text
    assert 'value="Good"' in response.text

    response = huang.upload("/start/every_field", {
        **GOOD, "to": "review", "host.review": str(people["liuhaitao"]),
        "host.archive": str(people["chenzhiqiang"]), "opinion": "请审批"})  # fmt: skip
    assert response.status_code == 302
    rows = engine.inbox(people["liuhaitao"])
    assert [(r.definition, r.step) for r in rows] == [("every_field", "review")]
    assert engine.inbox(people["chenzhiqiang"]) == []


def test_start_a_contract_review_with_a_file(signed_in, engine, people, app):
    fid = start_contract(signed_in("huangyong"), opinion="请审核")
    record = engine.history(fid)
    assert record.state == "dept_review"
    (doc,) = record.form["text"]
    digest = hashlib.sha256(PDF).hexdigest()
    assert doc == {"name": "合同文本.pdf", "size": len(PDF), "sha256": digest,
                   "content_type": "application/pdf"}  # fmt: skip
    stored = Path(app.config["FILES_DIR"]) / digest[:2] / digest
    assert stored.read_bytes() == PDF
    assert record.visits[0].people[0].opinion == "请审核"


# --- the work item and the flow page -----------------------------------------------------------


def test_the_dept_head_opens_the_item_and_the_confirmation_shows(
    signed_in, engine, people, item_of
):
    fid = start_contract(signed_in("huangyong"))
    qian = signed_in("qianxuejun")
    item = item_of("qianxuejun", fid)
    assert part(engine, fid, "钱学军", "dept_review").confirmed_at is None

    page = qian.get(f"/items/{item}")
    assert page.status_code == 200
    confirmed = part(engine, fid, "钱学军", "dept_review").confirmed_at
    assert confirmed is not None
    assert f'<span id="my-confirmed">{engine.stamp(confirmed)}</span>' in page.text
    for text in (
        "Contract title",
        "680,000.00",
        "Purchase",
        "合同文本.pdf",
        "Department review",
        "黄勇",
        "Host",
        '<pre class="mermaid">',
        "class dept_review current",
    ):
        assert text in page.text, text
    assert f'name="version" value="{version(engine, fid)}"' in page.text
    assert '<dialog id="forward-dialog"' in page.text and "End: reject" in page.text
    # no inline script anywhere: every script tag loads a file from this site (content-hashed)
    assert re.findall(r'<script src="([^"?]*)\?v=[0-9a-f]{12}" defer>', page.text) == [
        "/static/mermaid.min.js",
        "/static/app.js",
        "/static/messages.js",  # the navigation's live unread badge
    ]
    assert len(re.findall(r"<script[^>]*>", page.text)) == 3
    # opening again records nothing new
    qian.get(f"/items/{item}")
    assert part(engine, fid, "钱学军", "dept_review").confirmed_at == confirmed


def test_contract_review_forward_countersign_and_approve(signed_in, engine, people, item_of):
    fid = start_contract(signed_in("huangyong"))
    qian = signed_in("qianxuejun")
    item = item_of("qianxuejun", fid)
    qian.get(f"/items/{item}")
    response = qian.post(f"/items/{item}/forward", {
        "to": "countersign", "opinion": "同意送会签", "version": version(engine, fid)})  # fmt: skip
    assert response.status_code == 302 and response.headers["Location"] == f"/items/{item}"
    assert "Forwarded to the next step." in qian.get(f"/items/{item}").text
    assert engine.history(fid).state == "countersign"

    liming = signed_in("liming")
    li_item = item_of("liming", fid)
    page = liming.get(f"/items/{li_item}").text
    assert "this step waits for: 林晓燕、杨帆." in page
    assert "forward-dialog" not in page

    for login, opinion in (("yangfan", "条款合规"), ("linxiaoyan", "预算已落实")):
        signer = signed_in(login)
        sign_item = item_of(login, fid)
        page = signer.get(f"/items/{sign_item}").text
        assert "Sign: approve" in page and "Sign: reject" in page
        response = signer.post(f"/items/{sign_item}/sign", {
            "decision": "approve", "opinion": opinion, "version": version(engine, fid)})  # fmt: skip
        assert response.status_code == 302
    assert part(engine, fid, "杨帆", "countersign").decision == "approve"

    page = liming.get(f"/items/{li_item}").text
    assert 'name="host.leader_review"' in page and "陈志强" in page and "刘海涛" in page
    response = liming.post(f"/items/{li_item}/forward", {
        "to": "leader_review", "host.leader_review": people["chenzhiqiang"],
        "version": version(engine, fid)})  # fmt: skip
    assert response.status_code == 302

    chen = signed_in("chenzhiqiang")
    chen_item = item_of("chenzhiqiang", fid)
    assert chen.get(f"/items/{chen_item}").status_code == 200
    chen.post(f"/items/{chen_item}/forward", {"to": "gm_review", "version": version(engine, fid)})
    zhang = signed_in("zhangjianguo")
    zhang.post(f"/items/{item_of('zhangjianguo', fid)}/forward",
               {"to": "sealing", "version": version(engine, fid)})  # fmt: skip
    sun = signed_in("sunli")
    sun_item = item_of("sunli", fid)
    sun.get(f"/items/{sun_item}")
    response = sun.post(f"/items/{sun_item}/end", {
        "outcome": "approved", "opinion": "已用印", "version": version(engine, fid)})  # fmt: skip
    assert response.status_code == 302
    record = engine.history(fid)
    assert (record.state, record.outcome) == ("ended", "approved")
    page = signed_in("huangyong").get(f"/flows/{fid}").text
    assert "Ended: approved" in page and "已用印" in page and "Approve" in page
    assert "withdraw-form" not in page


def test_a_veto_leaves_the_host_only_rejection_or_return(signed_in, engine, people, item_of):
    fid = start_contract(signed_in("huangyong"))
    engine.forward(people["qianxuejun"], item_of("qianxuejun", fid))
    yang = signed_in("yangfan")
    yang_item = item_of("yangfan", fid)
    response = yang.post(f"/items/{yang_item}/sign", {
        "decision": "reject", "opinion": "违约条款不可接受", "version": version(engine, fid)})  # fmt: skip
    assert response.status_code == 302
    assert "Signed: rejected." in yang.get(f"/items/{yang_item}").text

    liming = signed_in("liming")
    li_item = item_of("liming", fid)
    page = liming.get(f"/items/{li_item}").text
    assert "A co-signer vetoed this step" in page
    assert "forward-dialog" not in page and "End: approve" not in page
    assert "End: reject" in page and "return-form" in page
    response = liming.post(f"/items/{li_item}/end", {
        "outcome": "rejected", "opinion": "按法务意见终止", "version": version(engine, fid)})  # fmt: skip
    assert response.status_code == 302
    record = engine.history(fid)
    assert (record.state, record.outcome) == ("ended", "rejected")
    assert "Ended: rejected" in liming.get(f"/flows/{fid}").text


def test_the_host_returns_the_flow_to_an_earlier_step(signed_in, engine, people, item_of):
    fid = start_contract(signed_in("huangyong"))
    engine.forward(people["qianxuejun"], item_of("qianxuejun", fid))
    liming = signed_in("liming")
    item = item_of("liming", fid)
    page = liming.get(f"/items/{item}").text
    assert '<option value="dept_review" selected>Department review</option>' in page
    response = liming.post(f"/items/{item}/return", {
        "to": "dept_review", "opinion": "请补充附件", "version": version(engine, fid)})  # fmt: skip
    assert response.status_code == 302
    assert engine.history(fid).state == "dept_review"
    assert item_of("qianxuejun", fid)  # a new item for the department head


def test_a_handler_finishes_their_part(signed_in, engine, people, item_of):
    out = engine.start(people["wangfang"], "incoming_document", {
        "source_unit": "市住建委", "title": "关于安全检查的通知", "urgency": "urgent",
        "confidentiality": "internal", "received_on": "2026-03-01"})  # fmt: skip
    fid = out.flow_id
    engine.forward(people["liming"], item_of("liming", fid), host=people["chenzhiqiang"])
    chen = signed_in("chenzhiqiang")
    chen_item = item_of("chenzhiqiang", fid)
    page = chen.get(f"/items/{chen_item}").text
    assert 'name="handlers.handle" multiple' in page
    response = chen.post(f"/items/{chen_item}/forward", {
        "to": "handle", "host.handle": people["gaofeng"],
        "handlers.handle": [people["luobin"], people["liangxue"]],
        "version": version(engine, fid)})  # fmt: skip
    assert response.status_code == 302, response.text

    luo = signed_in("luobin")
    luo_item = item_of("luobin", fid)
    assert "Finish my part" in luo.get(f"/items/{luo_item}").text
    response = luo.post(f"/items/{luo_item}/finish", {
        "opinion": "已完成现场检查", "version": version(engine, fid)})  # fmt: skip
    assert response.status_code == 302
    assert "Your part is done." in luo.get(f"/items/{luo_item}").text
    assert part(engine, fid, "罗斌", "handle").opinion == "已完成现场检查"
    gao = signed_in("gaofeng")
    assert "waits for: 梁雪." in gao.get(f"/items/{item_of('gaofeng', fid)}").text


# --- refusals ----------------------------------------------------------------------------------


def test_a_double_click_on_forward_is_refused_with_who_and_when(signed_in, engine, item_of):
    fid = start_contract(signed_in("huangyong"))
    qian = signed_in("qianxuejun")
    item = item_of("qianxuejun", fid)
    data = {"to": "countersign", "version": version(engine, fid)}
    assert qian.post(f"/items/{item}/forward", data).status_code == 302
    state = engine.history(fid)
    again = qian.post(f"/items/{item}/forward", data)
    assert again.status_code == 409
    handled = part(engine, fid, "钱学军", "dept_review").handled_at
    assert (f"This work item was already handled by 钱学军 at {engine.local(handled)}; "
            "nothing was changed.") in again.text  # fmt: skip
    assert "Traceback" not in again.text
    assert engine.history(fid).version == state.version


def test_a_stale_page_is_refused(signed_in, engine, people, item_of):
    fid = start_contract(signed_in("huangyong"))
    engine.forward(people["qianxuejun"], item_of("qianxuejun", fid))
    liming = signed_in("liming")
    item = item_of("liming", fid)
    shown = int(re.search(r'name="version" value="(\d+)"', liming.get(f"/items/{item}").text)[1])
    # while the page is open, the co-signers sign: the flow moves on under it
    engine.sign(people["yangfan"], item_of("yangfan", fid))
    engine.sign(people["linxiaoyan"], item_of("linxiaoyan", fid))
    response = liming.post(f"/items/{item}/forward", {
        "to": "leader_review", "host.leader_review": people["chenzhiqiang"], "version": shown})  # fmt: skip
    assert response.status_code == 409
    assert "changed since your page was loaded" in response.text
    assert engine.history(fid).state == "countersign"


def test_an_action_without_the_page_version_is_refused(signed_in, engine, item_of):
    fid = start_contract(signed_in("huangyong"))
    qian = signed_in("qianxuejun")
    response = qian.post(f"/items/{item_of('qianxuejun', fid)}/forward", {"to": "countersign"})
    assert response.status_code == 400
    assert engine.history(fid).state == "dept_review"


def test_someone_elses_item_is_refused_without_naming_its_owner(signed_in, engine, item_of):
    fid = start_contract(signed_in("huangyong"))
    item = item_of("qianxuejun", fid)
    # The initiator may see the flow, so is told it is someone else's item (403), never whose;
    # a stranger gets the 404 of an item that does not exist (tests/web/test_strangers.py).
    other = signed_in("huangyong")
    for response in (other.get(f"/items/{item}"),
                     other.post(f"/items/{item}/forward", {"version": version(engine, fid)})):  # fmt: skip
        assert response.status_code == 403
        assert "This work item is someone else" in response.text and "钱学军" not in response.text
    assert part(engine, fid, "钱学军", "dept_review").confirmed_at is None
    assert signed_in("qianxuejun").get("/items/999999").status_code == 404


def test_a_flow_one_has_no_part_in_is_not_found(signed_in, engine, item_of):
    fid = start_contract(signed_in("huangyong"))
    gao = signed_in("gaofeng")
    assert gao.get(f"/flows/{fid}").status_code == 404
    assert gao.get("/flows/999999").status_code == 404
    assert signed_in("qianxuejun").get(f"/flows/{fid}").status_code == 200  # a participant
    assert signed_in("zhouwei").get(f"/flows/{fid}").status_code == 200  # an administrator


@pytest.mark.parametrize("action", ["forward", "end", "finish", "sign", "return"])
def test_a_get_never_acts(signed_in, engine, item_of, action):
    fid = start_contract(signed_in("huangyong"))
    qian = signed_in("qianxuejun")
    before = engine.history(fid)
    response = qian.get(f"/items/{item_of('qianxuejun', fid)}/{action}")
    assert response.status_code == 405
    after = engine.history(fid)
    assert (after.state, after.version) == (before.state, before.version)
    assert qian.get(f"/flows/{fid}/withdraw").status_code == 405


def test_pages_need_sign_in(client, app):
    for url in ("/start", "/start/contract_review", "/items/1", "/flows/1", "/flows/1/files/ab"):
        response = client.get(url)
        assert response.status_code == 302 and response.headers["Location"].startswith("/login")


# --- withdraw ----------------------------------------------------------------------------------


def test_the_initiator_withdraws_until_someone_opens_it(signed_in, engine, people, item_of):
    huang = signed_in("huangyong")
    fid = start_contract(huang)
    page = huang.get(f"/flows/{fid}").text
    # The sheet is printed once the flow is closed: no link to a page that would say 403.
    assert 'id="withdraw-form"' in page and 'id="sheet-link"' not in page
    response = huang.post(f"/flows/{fid}/withdraw", {
        "opinion": "金额有误，撤回修改", "version": version(engine, fid)})  # fmt: skip
    assert response.status_code == 302 and response.headers["Location"] == f"/flows/{fid}"
    page = huang.get(f"/flows/{fid}").text
    assert "The flow was withdrawn." in page and "Withdrawn" in page
    assert 'id="sheet-link"' in page
    assert engine.history(fid).state == "withdrawn"

    fid = start_contract(huang)
    signed_in("qianxuejun").get(f"/items/{item_of('qianxuejun', fid)}")
    assert 'id="withdraw-form"' not in huang.get(f"/flows/{fid}").text
    response = huang.post(f"/flows/{fid}/withdraw", {"version": version(engine, fid)})
    assert response.status_code == 400 and "钱学军 opened it" in response.text
    assert signed_in("qianxuejun").post(f"/flows/{fid}/withdraw",
                                      {"version": version(engine, fid)}).status_code == 403  # fmt: skip


# --- attachments -------------------------------------------------------------------------------


def test_a_participant_downloads_and_that_confirms_their_item(signed_in, engine, item_of):
    fid = start_contract(signed_in("huangyong"))
    digest = hashlib.sha256(PDF).hexdigest()
    response = signed_in("qianxuejun").get(f"/flows/{fid}/files/{digest}")
    assert response.status_code == 200
    assert response.data == PDF
    assert response.headers["Content-Type"] == "application/pdf"
    disposition = response.headers["Content-Disposition"]
    assert disposition.startswith("attachment;")
    assert "filename*=UTF-8''%E5%90%88%E5%90%8C%E6%96%87%E6%9C%AC.pdf" in disposition
    assert response.headers["X-Content-Type-Options"] == "nosniff"
    response.close()
    assert part(engine, fid, "钱学军", "dept_review").confirmed_at is not None


def test_outsiders_and_unlisted_files_are_not_found(signed_in, engine, app):
    huang = signed_in("huangyong")
    fid = start_contract(huang)
    digest = hashlib.sha256(PDF).hexdigest()
    assert signed_in("gaofeng").get(f"/flows/{fid}/files/{digest}").status_code == 404
    # a file in the store but not on this flow's form
    other = start_contract(huang, text=(io.BytesIO(b"another file"), "b.txt"))
    other_digest = engine.history(other).form["text"][0]["sha256"]
    assert huang.get(f"/flows/{fid}/files/{other_digest}").status_code == 404
    assert huang.get(f"/flows/{fid}/files/../../etc").status_code == 404
    assert huang.get(f"/flows/{fid}/files/{'0' * 64}").status_code == 404


def test_an_upload_over_the_limit_gets_the_413_page(signed_in, app, engine, people):
    huang = signed_in("huangyong")
    app.config["MAX_CONTENT_LENGTH"] = 4096
    data = {**CONTRACT, "text": (io.BytesIO(b"x" * 10_000), "big.pdf")}
    response = huang.upload("/start/contract_review", data)
    assert response.status_code == 413
    assert "larger than the limit" in response.text
    assert engine.started(people["huangyong"]) == []


# --- in a real browser: the dialog and the diagram under the CSP (script-src 'self') -----------


def test_in_a_browser_the_forward_dialog_and_the_diagram_work(
    live_server, new_page, engine, people, item_of
):
    from tests.web.browser import sign_in
    from tests.web.conftest import PASSWORD

    fid = engine.start(people["huangyong"], "contract_review", CONTRACT).flow_id
    engine.forward(people["qianxuejun"], item_of("qianxuejun", fid))
    engine.sign(people["yangfan"], item_of("yangfan", fid))
    engine.sign(people["linxiaoyan"], item_of("linxiaoyan", fid))
    item = item_of("liming", fid)
    page = new_page()
    problems: list[str] = []
    page.on("pageerror", lambda exc: problems.append(str(exc)))
    page.on("console", lambda m: problems.append(m.text) if "Content Security" in m.text else None)
    sign_in(page, live_server, "liming", PASSWORD)
    page.goto(f"{live_server}/items/{item}")

    page.wait_for_selector("pre.mermaid svg")  # drawn by the vendored mermaid.min.js
    dialog = page.locator("#forward-dialog")
    assert not dialog.is_visible()  # the inline form became a dialog
    page.click("[data-open-dialog=forward-dialog]")
    assert dialog.is_visible()
    page.select_option("select[name='host.leader_review']", str(people["chenzhiqiang"]))
    page.fill("#forward-opinion", "同意")
    page.click("#forward-dialog button[type=submit]")
    page.wait_for_url(f"{live_server}/items/{item}")
    assert page.locator(".flash").count() == 1
    assert engine.history(fid).state == "leader_review"
    assert part(engine, fid, "李明", "countersign").opinion == "同意"
    assert problems == []
