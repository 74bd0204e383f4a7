"""Too long an opinion: the same page again, the message next to the field, the text kept."""

from __future__ import annotations

import io
import re
from pathlib import Path

from tests.engine.test_sheet import CONTRACT
from tests.test_sheet_pdf import pdf_text
from tests.web.conftest import csrf_of
from workflow import messages
from workflow.limits import MESSAGE_BODY_MAX, NOTE_MAX, OPINION_MAX

TOO_LONG = "审" * (OPINION_MAX + 1)
ZH = f"意见: 共 {OPINION_MAX + 1} 个字，超过了 {OPINION_MAX} 个字的上限"
EN = f"Opinion: is {OPINION_MAX + 1} characters long; at most {OPINION_MAX} are allowed"


def field_error(html: str, field_id: str) -> str:
    found = re.search(rf'<p class="field-error" id="err-{field_id}" role="alert">([^<]*)</p>', html)
    assert found, f"no error next to {field_id}"
    return found.group(1)


def test_a_too_long_opinion_on_forward_is_shown_next_to_its_field(client, auth, engine, people,
                                                                  item_of):  # fmt: skip
    fid = engine.start(people["huangyong"], "contract_review", CONTRACT).flow_id
    item = item_of("qianxuejun", fid)
    auth.login("qianxuejun")
    version = engine.history(fid).version
    response = auth.post(f"/items/{item}/forward", {"opinion": TOO_LONG, "version": version},
                         page=f"/items/{item}")  # fmt: skip
    assert response.status_code == 400
    assert field_error(response.text, "forward-opinion") == ZH
    assert f">{TOO_LONG}</textarea>" in response.text  # nothing typed is lost
    assert f'maxlength="{OPINION_MAX}"' in response.text
    assert engine.history(fid).version == version and engine.history(fid).state == "dept_review"

    auth.post("/lang", {"lang": "en", "next": "/"})
    response = auth.post(f"/items/{item}/end", {"opinion": TOO_LONG, "version": version,
                                                "outcome": "approved"}, page=f"/items/{item}")  # fmt: skip
    assert response.status_code == 400
    assert field_error(response.text, "end-opinion") == EN
    assert 'id="err-forward-opinion"' not in response.text


def test_a_too_long_withdraw_reason_and_start_opinion(client, auth, engine, people):
    auth.login("huangyong")
    fid = engine.start(people["huangyong"], "contract_review", CONTRACT).flow_id
    version = engine.history(fid).version
    response = auth.post(f"/flows/{fid}/withdraw", {"opinion": TOO_LONG, "version": version},
                         page=f"/flows/{fid}")  # fmt: skip
    assert response.status_code == 400
    assert field_error(response.text, "withdraw-reason") == ZH.replace("意见", "原因")
    assert engine.history(fid).state == "dept_review"

    form = {**CONTRACT, "opinion": TOO_LONG}
    form.pop("text", None)
    response = auth.post("/start/contract_review", form, page="/start/contract_review")
    assert response.status_code == 400
    assert field_error(response.text, "opinion") == ZH
    assert len(engine.started(people["huangyong"])) == 1  # nothing new was started


def test_the_sheet_pdf_of_the_longest_opinion_answers_200(client, auth, engine, people, item_of,
                                                          tmp_path):  # fmt: skip
    opinion = ("经审核，合同条款基本合规，付款节点与验收标准需进一步明确。" * 200)[:OPINION_MAX]
    fid = engine.start(people["huangyong"], "contract_review", CONTRACT, opinion=opinion).flow_id
    engine.end(people["qianxuejun"], item_of("qianxuejun", fid), opinion=opinion)
    auth.login("huangyong")
    response = client.get(f"/flows/{fid}/sheet.pdf")
    assert response.status_code == 200 and response.data.startswith(b"%PDF-")
    text = pdf_text(response.data, tmp_path)
    assert opinion[:30] in re.sub(r"\s+", "", text) and text.count("\f") >= 3


def _start_with_file(auth, content: bytes, name: str):
    data = {**CONTRACT, "text": (io.BytesIO(content), name)}
    page = auth.client.get("/start/contract_review").text
    return auth.client.post("/start/contract_review", data={**data, "csrf_token": csrf_of(page)},
                            content_type="multipart/form-data")  # fmt: skip


def test_an_upload_past_the_quota_is_refused_next_to_the_field(client, auth, app, engine, people):
    app.config["UPLOAD_QUOTA"] = 3 * 1024
    auth.login("huangyong")
    assert _start_with_file(auth, b"a" * 2048, "一.pdf").status_code == 302
    response = _start_with_file(auth, b"b" * 2048, "二.pdf")
    assert response.status_code == 400
    assert field_error(response.text, "text") == (
        "合同文本: 文件 二.pdf 会使您超出 3.0 KB 的存储配额（尚余 1.0 KB），未予保存"
    )
    store = Path(app.config["FILES_DIR"])
    assert len(list(store.glob("??/*"))) == 1  # the refused file never entered the store
    assert len(engine.started(people["huangyong"])) == 1

    auth.post("/lang", {"lang": "en", "next": "/"})
    response = _start_with_file(auth, b"c" * 2048, "three.pdf")
    assert field_error(response.text, "text") == (
        "Contract text: the file three.pdf would take you past your storage quota of 3.0 KB "
        "(1.0 KB left); it was not kept"
    )


def test_a_too_long_reply_or_relay_note_is_named_next_to_its_field(app, engine, people):
    from tests.web.test_message_pages import client_of, message_count, post

    fid = messages.send(engine, people["liming"], subject="会议通知", body="明天九点",
                        to_users=[people["wangfang"]]).flow_id  # fmt: skip
    wang = client_of(app, "wangfang")
    before = message_count(engine)
    body = "复" * (MESSAGE_BODY_MAX + 1)
    response = post(wang, f"/messages/{fid}/reply", {"body": body}, page=f"/messages/{fid}",
                    content_type="multipart/form-data")  # fmt: skip
    assert response.status_code == 400
    assert field_error(response.text, "reply-body") == (
        f"正文: 共 {MESSAGE_BODY_MAX + 1} 个字，超过了 {MESSAGE_BODY_MAX} 个字的上限"
    )
    assert f">{body}</textarea>" in response.text and 'id="reply-form" open' in response.text
    note = "转" * (NOTE_MAX + 1)
    response = post(wang, f"/messages/{fid}/relay", {"to_users": [people["sunli"]], "note": note},
                    page=f"/messages/{fid}")  # fmt: skip
    assert response.status_code == 400
    assert field_error(response.text, "relay-note") == (
        f"附言: 共 {NOTE_MAX + 1} 个字，超过了 {NOTE_MAX} 个字的上限"
    )
    assert message_count(engine) == before


def test_a_too_long_opinion_on_someone_elses_item_says_only_what_it_always_says(
    client, auth, engine, people, item_of
):
    fid = engine.start(people["huangyong"], "contract_review", CONTRACT).flow_id
    item = item_of("qianxuejun", fid)
    auth.login("wangfang")  # no part in the flow
    version = engine.history(fid).version
    plain = auth.post(f"/items/{item}/forward", {"opinion": "同意", "version": version})
    long = auth.post(f"/items/{item}/forward", {"opinion": TOO_LONG, "version": version})
    assert long.status_code == plain.status_code != 500
    assert "超过" not in long.text and 'class="field-error"' not in long.text
