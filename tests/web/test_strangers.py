"""Strangers learn nothing: a flow, work item, message or attachment one has no part in answers
the same 404 page as an id that does not exist; a participant who may not act is told why (403).
"""

from __future__ import annotations

import re
from collections.abc import Iterator

import pytest

from tests.engine.test_contract_review import CONTRACT
from tests.web.browser import sign_in
from tests.web.conftest import PASSWORD
from tests.web.test_no_5xx import Demo
from web import create_app
from workflow.engine import Engine
from workflow.store.db import Database

STRANGER = "gaofeng"  # no part in the demo contract review nor in the message
MISSING = "999999"
NOT_FOUND_ZH = "该内容不存在，或您无权查看。"


def _rules() -> list[tuple[str, str]]:
    """(rule, method) of every route whose address names a flow or a work item."""
    app = create_app(test_config={"ENGINE": Engine(Database("sqlite://")), "SECRET_KEY": "x"})
    return sorted(
        (rule.rule, method)
        for rule in app.url_map.iter_rules()
        if {"flow_id", "item_id"} & set(rule.arguments)
        for method in rule.methods - {"HEAD", "OPTIONS"}
    )


RULES = _rules()


@pytest.fixture(scope="module")
def demo(tmp_path_factory) -> Iterator[Demo]:
    base = tmp_path_factory.mktemp("strangers")
    db = Database(f"sqlite:///{base / 'banli.db'}")
    yield Demo(db, base / "files")
    db.dispose()


def address(demo: Demo, rule: str, row_id: str | None = None) -> str:
    """The rule with the demo's flow, message or work item id (or ``row_id``)."""
    is_message = rule.startswith("/messages/")
    real = {
        "flow_id": str(demo.message_id if is_message else demo.flow_id),
        "item_id": demo.items[-1],
        "sha256": demo.sha256,
    }
    return re.sub(
        r"<(?:[a-z]+:)?([a-z_0-9]+)>",
        lambda m: row_id if row_id and m.group(1) != "sha256" else real[m.group(1)],
        rule,
    )


def same_page(body: str, url: str) -> str:
    """The page less what differs by address alone: the address itself (the language switch
    comes back to it) and the per-request CSRF token."""
    body = body.replace(url, "URL")
    return re.sub(r'name="csrf_token" value="[^"]*"', 'name="csrf_token"', body)


def ask(client, method: str, url: str, **kw):
    data = {"version": "1", "user_ids": "1", "body": "x", "to_users": "1"}
    response = client.get(url, **kw) if method == "GET" else client.post(url, data=data, **kw)
    response.get_data()
    response.close()
    return response


@pytest.mark.parametrize(("rule", "method"), RULES, ids=[f"{m} {r}" for r, m in RULES])
def test_a_stranger_gets_the_same_404_for_an_existing_and_a_missing_id(demo, rule, method):
    stranger = demo.client(STRANGER)
    real, missing = address(demo, rule), address(demo, rule, MISSING)
    seen, unseen = ask(stranger, method, real), ask(stranger, method, missing)
    assert (seen.status_code, unseen.status_code) == (404, 404)
    assert same_page(seen.text, real) == same_page(unseen.text, missing)
    assert NOT_FOUND_ZH in seen.text or "It does not exist, or you have no part in it." in seen.text
    # nothing about the flow leaks: not its title, not its people
    for secret in ("办公楼空调采购合同", "会议通知", "钱学军", "李明", "黄勇"):
        assert secret not in seen.text
    # as JSON too (the pages' polls ask for it)
    json_seen = ask(stranger, method, real, headers={"Accept": "application/json"})
    json_unseen = ask(stranger, method, missing, headers={"Accept": "application/json"})
    assert json_seen.status_code == json_unseen.status_code == 404
    assert json_seen.get_json() == json_unseen.get_json()


def test_an_id_too_wide_for_64_bits_is_the_same_404(demo):
    stranger = demo.client(STRANGER)
    real = f"/flows/{demo.flow_id}"
    wide = "/flows/99999999999999999999"
    seen, unseen = ask(stranger, "GET", real), ask(stranger, "GET", wide)
    assert (seen.status_code, unseen.status_code) == (404, 404)
    assert same_page(seen.text, real) == same_page(unseen.text, wide)
    # and an administrator, who sees every flow, gets the same page for one that does not exist
    admin = demo.client("zhouwei")
    assert ask(admin, "GET", real).status_code == 200
    none = ask(admin, "GET", f"/flows/{MISSING}")
    assert none.status_code == 404 and NOT_FOUND_ZH in none.text


@pytest.mark.parametrize(
    ("login", "method", "path", "reason"),
    [
        # the initiator sees the flow, but the item at countersign is someone else's
        ("huangyong", "GET", "/items/{host_item}", "这是他人的工作项"),
        ("huangyong", "POST", "/items/{host_item}/forward", "这是他人的工作项"),
        # a co-signer may not urge (only the step's host or the initiator)
        ("linxiaoyan", "POST", "/items/{cosigner_item}/urge", "只有本步骤的主办人或流程发起人可以催办"),
        # a participant who did not start the flow may not withdraw it
        ("liming", "POST", "/flows/{flow}/withdraw", "只有发起人才能撤回流程"),
        # the message's recipient may not revoke or DING it
        ("wangfang", "POST", "/messages/{message}/revoke", "只有发送人可以撤回消息"),
        ("wangfang", "GET", "/messages/{message}/receipts.json", None),
    ],
)  # fmt: skip
def test_a_participant_who_may_not_act_is_told_why(demo, login, method, path, reason):
    record = demo.app.extensions["banli"].history(demo.flow_id)
    item = {p.name: p.item_id for p in record.visits[-1].people}
    url = path.format(flow=demo.flow_id, message=demo.message_id, host_item=item["李明"],
                      cosigner_item=item["杨帆"])  # fmt: skip
    response = ask(demo.client(login), method, url)
    assert response.status_code == 403, response.text
    if reason:
        assert reason in response.text


def test_a_stranger_opening_a_flow_link_sees_the_404_page_in_chinese(
    live_server, new_page, engine, people
):
    fid = engine.start(people["huangyong"], "contract_review", CONTRACT)
    page = new_page()
    sign_in(page, live_server, STRANGER, PASSWORD)
    for url in (f"/flows/{fid.flow_id}", f"/flows/{MISSING}", "/items/99999999999999999999"):
        response = page.goto(f"{live_server}{url}")
        assert response is not None and response.status == 404
        assert page.inner_text("h1").strip() == "未找到"
        assert page.inner_text("#error-message").strip() == NOT_FOUND_ZH
        assert "办公楼空调采购合同" not in page.content()
