"""Too long an opinion: the same page again, the message next to the field, the text kept."""

from __future__ import annotations

import re

from tests.engine.test_sheet import CONTRACT
from tests.test_sheet_pdf import pdf_text
from workflow.limits import OPINION_MAX

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
