"""The web in Chinese by default and in English on request: complete catalogs, translated pages,
refusals and form messages read in the person's language."""

from __future__ import annotations

import re
from datetime import UTC, datetime
from pathlib import Path
from zoneinfo import ZoneInfo

import pytest
from babel.messages.extract import extract_from_dir
from babel.messages.pofile import read_po

from tests.web.conftest import Auth, csrf_of
from web.errors import say, say_field
from workflow.engine.registry import store_definition
from workflow.errors import (
    AlreadyHandled,
    FormInvalid,
    Hidden,
    InvalidAction,
    NotFound,
    NotYourItem,
    PeopleInvalid,
    RoleNotAllowed,
    WaitingRuleUnmet,
)
from workflow.refusals import SENTENCES, Either, FieldError, Quoted, Term, render

ROOT = Path(__file__).resolve().parents[2]
CATALOGS = ROOT / "web" / "translations"
PLACEHOLDER = re.compile(r"%\((\w+)\)[sd]")
CONTRACT = {
    "title": "办公楼空调采购合同",
    "counterparty": "上海申能机电有限公司",
    "amount": "68000",
    "contract_type": "purchase",
    "summary": "采购空调 4 台",
}


def catalog(lang: str):
    with (CATALOGS / lang / "LC_MESSAGES" / "messages.po").open("rb") as f:
        return read_po(f)


def messages(lang: str) -> list:
    return [m for m in catalog(lang) if m.id]


# --- the catalogs ------------------------------------------------------------------------------


def test_every_chinese_message_is_translated_and_none_is_fuzzy():
    zh = messages("zh")
    assert len(zh) > 150
    assert [m.id for m in zh if not m.string] == []
    assert [m.id for m in zh if m.fuzzy] == []
    assert not catalog("zh").fuzzy


@pytest.mark.parametrize("lang", ["zh", "en"])
def test_every_placeholder_of_a_msgid_is_in_its_translation(lang):
    wrong = [
        (m.id, m.string)
        for m in messages(lang)
        if m.string and set(PLACEHOLDER.findall(m.id)) != set(PLACEHOLDER.findall(m.string))
    ]
    assert wrong == []


def test_the_catalogs_hold_every_message_the_web_marks():
    """What `make messages` extracts (plus workbench.py's `_l`) is in the zh and en catalogs."""
    method_map = [("**.py", "python"), ("templates/**.html", "jinja2")]
    keywords = {"_": None, "gettext": None, "lazy_gettext": None, "_l": None}
    found = extract_from_dir(str(ROOT / "web"), method_map, keywords=keywords)
    marked = {item[2] for item in found if isinstance(item[2], str)}
    assert len(marked) > 150
    for lang in ("zh", "en"):
        assert marked - {m.id for m in messages(lang)} == set(), lang


# --- pages -------------------------------------------------------------------------------------


def test_sign_in_page_is_chinese_by_default(client):
    page = client.get("/login").text
    assert '<html lang="zh-CN">' in page
    for text in ("登录", "登录名", "密码"):
        assert text in page, text


def test_a_wrong_password_says_so_in_chinese(client):
    token = csrf_of(client.get("/login").text)
    response = client.post("/login", data={"login": "wangfang", "password": "nope",
                                           "csrf_token": token})  # fmt: skip
    assert response.status_code == 400
    assert "登录名或密码错误" in response.text


def test_the_workbench_in_chinese_then_in_english(client, auth, engine, people):
    engine.start(people["huangyong"], "contract_review", CONTRACT)
    auth.login("huangyong")
    page = client.get("/").text
    for text in ("工作台", "待办", "已办", "我发起的", "传阅给我的", "发起审批", "退出登录",
                 "标题或文号", "搜索"):  # fmt: skip
        assert text in page, text
    assert "Workbench" not in page and "Sign out" not in page

    auth.post("/lang", {"lang": "en", "next": "/"})
    page = client.get("/").text
    assert '<html lang="en">' in page
    for text in ("Workbench", "To do", "Done", "Started by me", "Circulated to me",
                 "Start an approval", "Sign out"):  # fmt: skip
        assert text in page, text
    for text in ("工作台", "待办", "退出登录", "发起审批"):
        assert text not in page, text

    auth.post("/lang", {"lang": "zh", "next": "/"})
    assert "工作台" in client.get("/").text


def test_the_start_pages_in_chinese(client, auth):
    auth.login("huangyong")
    page = client.get("/start/contract_review").text
    for text in ("合同评审", "合同名称", "意见", "提交", "取消", "— 请选择 —"):
        assert text in page, text


def test_a_work_item_page_in_chinese(client, auth, engine, people, item_of):
    fid = engine.start(people["huangyong"], "contract_review", CONTRACT).flow_id
    auth.login("qianxuejun")
    page = client.get(f"/items/{item_of('qianxuejun', fid)}").text
    for text in ("我的角色", "主办人", "送达", "确认", "转交下一步", "在此结束流程",
                 "结束流程：不同意", "办理过程", "流程图"):  # fmt: skip
        assert text in page, text


def test_the_flow_sheet_in_chinese(client, auth, engine, people, item_of):
    fid = engine.start(people["huangyong"], "contract_review", CONTRACT).flow_id
    engine.end(people["qianxuejun"], item_of("qianxuejun", fid), outcome="rejected")
    auth.login("huangyong")
    page = client.get(f"/flows/{fid}/sheet").text
    for text in ("合同评审 流程单", "流程编号", "发起人", "办理过程", "主办人", "已结束（不同意）",
                 "结束流程", "打印", "下载 PDF", "打印人：黄勇"):  # fmt: skip
        assert text in page, text
    assert "Flow number" not in page and "Initiator" not in page


# --- refusals ----------------------------------------------------------------------------------


def signed_in(app, login: str) -> Auth:
    auth = Auth(app.test_client())
    assert auth.login(login).status_code == 302
    return auth


def forward_to_countersign(app, engine, people, item_of) -> tuple[int, int, Auth]:
    """钱学军 forwards a new contract to 会签 from his page: (flow id, his item, his client)."""
    fid = engine.start(people["huangyong"], "contract_review", CONTRACT).flow_id
    item = item_of("qianxuejun", fid)
    auth = signed_in(app, "qianxuejun")
    data = {"to": "countersign", "version": engine.history(fid).version}
    response = auth.post(f"/items/{item}/forward", data, page=f"/items/{item}")
    assert response.status_code == 302
    return fid, item, auth


def test_a_double_click_is_refused_in_chinese(app, engine, people, item_of):
    fid, item, auth = forward_to_countersign(app, engine, people, item_of)
    data = {"to": "countersign", "version": engine.history(fid).version}
    again = auth.post(f"/items/{item}/forward", data, page=f"/items/{item}")
    assert again.status_code == 409
    handled = next(p for v in engine.history(fid).visits for p in v.people if p.item_id == item)
    assert f"此事项已由 钱学军 于 {engine.local(handled.handled_at)} 办理" in again.text
    assert "已办理" in again.text
    assert "already handled" not in again.text


def test_the_waiting_rule_is_explained_in_chinese_and_in_english(app, engine, people, item_of):
    fid, _item, _qian = forward_to_countersign(app, engine, people, item_of)
    li = signed_in(app, "liming")
    item = item_of("liming", fid)
    data = {"to": "leader_review", "host.leader_review": people["chenzhiqiang"],
            "version": engine.history(fid).version}  # fmt: skip
    refused = li.post(f"/items/{item}/forward", data, page=f"/items/{item}")
    assert refused.status_code == 400
    message = re.search(r'id="error-message">(.*?)</p>', refused.text, re.S).group(1)
    assert "步骤“会签”需等待 2 位经办人、会签人办理完毕（共 2 位，已完成 0 位）" in message
    assert "仍在等待：" in message and "林晓燕" in message and "杨帆" in message
    assert "waits for" not in message

    li.post("/lang", {"lang": "en", "next": "/"})
    refused = li.post(f"/items/{item}/forward", data, page=f"/items/{item}")
    assert "waits for 2 of 2 handlers and co-signers (0 done)" in refused.text
    assert engine.history(fid).state == "countersign"


def test_a_co_signer_may_not_forward_and_is_told_in_chinese(app, engine, people, item_of):
    fid, _item, _qian = forward_to_countersign(app, engine, people, item_of)
    yang = signed_in(app, "yangfan")
    item = item_of("yangfan", fid)
    refused = yang.post(f"/items/{item}/forward", {"to": "leader_review",
                        "version": engine.history(fid).version}, page=f"/items/{item}")  # fmt: skip
    assert refused.status_code == 403
    assert "只有本步骤的主办人才能进行此操作，您是会签人。" in refused.text


def test_a_missing_field_is_named_in_chinese(client, auth):
    auth.login("huangyong")
    response = auth.post("/start/contract_review", {**CONTRACT, "title": ""},
                         page="/start/contract_review")  # fmt: skip
    assert response.status_code == 400
    assert "部分内容填写有误，审批尚未发起。" in response.text
    block = re.search(r'id="field-title">(.*?)\n</div>', response.text, re.S).group(1)
    assert "合同名称: 此项为必填项" in block


# --- refusals: code + params, rendered in the page's language -----------------------------------


@pytest.fixture
def zh(app):
    with app.test_request_context("/", headers={"Accept-Language": "zh-CN"}):
        yield


@pytest.fixture
def en(app):
    with app.test_request_context("/", headers={"Accept-Language": "en"}):
        yield


AT = datetime(2026, 3, 2, 1, 37, tzinfo=UTC)  # 09:37 in Shanghai, the organisation's zone
REFUSALS = [
    (WaitingRuleUnmet("waiting_rule_unmet", step="会签", need=2, total=2, done=0,
                      waiting=["林晓燕", "杨帆"]),
     "步骤“会签”需等待 2 位经办人、会签人办理完毕（共 2 位，已完成 0 位），仍在等待：林晓燕、杨帆。",
     "Step '会签' waits for 2 of 2 handlers and co-signers (0 done); still waiting for: 林晓燕, "
     "杨帆."),
    (WaitingRuleUnmet("countersign_vetoed"),
     "有会签人不同意：只能以“不同意”结束流程，或退回。",
     "The countersign of this step was vetoed: end the flow as rejected or return it."),
    (RoleNotAllowed("role_not_allowed", allowed=Either([Term("the host")]), role=Term("a co-signer")),
     "只有本步骤的主办人才能进行此操作，您是会签人。",
     "Only the host of this step may do this; you are a co-signer."),
    (RoleNotAllowed("role_not_allowed", allowed=Either([Term("the host"), Term("a handler")]),
             role=Term("a reader")),
     "只有本步骤的主办人或经办人才能进行此操作，您是阅读人。",
     "Only the host or a handler of this step may do this; you are a reader."),
    (NotYourItem("item_not_yours", item=7, owner="钱学军"),
     "这是他人的工作项：只有本人可以打开或办理。",
     "This work item is someone else's: only they may open it or act on it."),
    (Hidden("item_hidden", item=7), "该内容不存在，或您无权查看。",
     "It does not exist, or you have no part in it."),
    (InvalidAction("day_out_of_range", first="1900-01-01", last="2999-12-31", day="0001-01-01"),
     "查询的日期须在 1900-01-01 至 2999-12-31 之间，不能是 0001-01-01。",
     "A day searched must lie between 1900-01-01 and 2999-12-31, not 0001-01-01."),
    (PeopleInvalid("host_choose", step="leader_review", candidates=["陈志强", "刘海涛"]),
     "请从以下人员中选择步骤“leader_review”的主办人：陈志强、刘海涛。",
     "Choose the host of step 'leader_review' among: 陈志强, 刘海涛."),
    (PeopleInvalid("people_count_range", min=1, max=3, what=Term("co-signers"),
                   step="countersign", chosen=0),
     "请为步骤“countersign”选择 1 至 3 位会签人（已选 0 位）。",
     "Choose at least 1 and at most 3 co-signers for step 'countersign' (0 chosen)."),
    (PeopleInvalid("people_not_candidates", names=["黄勇"], what=Term("handlers"), step="x",
                   candidates=Term("nobody")),
     "黄勇 不能担任步骤“x”的经办人；可选人员：无。",
     "黄勇 may not be handlers of step 'x'; the candidates are: nobody."),
    (InvalidAction("withdraw_too_late", name="钱学军", at=AT),
     "流程已不能撤回：钱学军 已于 2026-03-02 09:37 打开。",
     "The flow can no longer be withdrawn: 钱学军 opened it at 2026-03-02 09:37."),
    (AlreadyHandled("step_already_handled", by=Term("the system"), at=AT),
     "本步骤已由 系统 于 2026-03-02 09:37 办理，本次操作未做任何更改。",
     "This step was already handled by the system at 2026-03-02 09:37; nothing was changed."),
    (InvalidAction("decision_unknown", value=Quoted("maybe")),
     "会签意见须为同意或不同意，不能是“maybe”。",
     "Decision must be approve or reject, not 'maybe'."),
    (NotFound("flow_hidden", flow=12), "流程 12 不存在，或您与该流程无关。",
     "Flow 12 does not exist or you have no part in it."),
    (FormInvalid({"title": FieldError("field_required"),
                  "amount": FieldError("field_below_min", min="1")}),
     "表单中有内容填写有误：title：此项为必填项；amount：不能小于 1。",
     "The form is not valid: title: is required; amount: must be at least 1."),
]  # fmt: skip


@pytest.mark.parametrize(("exc", "chinese", "_english"), REFUSALS, ids=lambda x: type(x).__name__)
def test_refusals_read_in_chinese(zh, exc, chinese, _english):
    assert say(exc) == chinese


@pytest.mark.parametrize(("exc", "_chinese", "english"), REFUSALS, ids=lambda x: type(x).__name__)
def test_refusals_in_english_are_the_catalogue_sentences(en, exc, _chinese, english):
    assert say(exc) == english


def test_someone_elses_item_never_names_its_owner(zh):
    assert "钱学军" not in say(NotYourItem("item_not_yours", item=7, owner="钱学军"))


def test_the_web_reads_no_sentence():
    """web/errors.py renders code + params: no pattern of the engine's English is left."""
    source = (ROOT / "web" / "errors.py").read_text(encoding="utf-8")
    assert not re.search(r"^(import re|from re import)", source, re.M)
    assert "re.compile" not in source
    assert "exc.message" not in source


# --- form field messages -----------------------------------------------------------------------

EVERY_FIELD = """\
id: i18n_fields
name: {zh: 字段, en: Fields}
form:
  - {key: title, type: text, required: true, max_length: 4, label: {zh: 标题, en: Title}}
  - {key: count, type: integer, min: 1, max: 9, label: {zh: 数量, en: Count}}
  - {key: amount, type: money, label: {zh: 金额, en: Amount}}
  - {key: due, type: date, label: {zh: 日期, en: Due}}
  - key: kind
    type: choice
    label: {zh: 类别, en: Kind}
    choices:
      - {value: small, label: {zh: 小, en: Small}}
  - {key: owner, type: user, label: {zh: 负责人, en: Owner}}
  - {key: unit, type: unit, label: {zh: 单位, en: Unit}}
steps:
  apply:
    name: {zh: 申请, en: Application}
    host: initiator
    can_end: true
"""

BAD = [
    ({"title": ""}, "title", "此项为必填项"),
    ({"title": "五个汉字啊"}, "title", "共 5 个字，超过了 4 个字的上限"),
    ({"count": "abc"}, "count", "须为整数；“abc”不是整数"),
    ({"count": "0"}, "count", "不能小于 1"),
    ({"count": "10"}, "count", "不能大于 9"),
    ({"amount": "1,2x"}, "amount", "须为金额，如 1234.50；“1,2x”不是有效金额"),
    ({"amount": "1.234"}, "amount", "最多保留两位小数；“1.234”不符合要求"),
    ({"amount": "-5"}, "amount", "不能为负数"),
    ({"amount": "9999999999999"}, "amount", "数额过大"),
    ({"due": "2026-02-30"}, "due", "须为日期，如 2026-03-01；“2026-02-30”不是有效日期"),
    ({"kind": "huge"}, "kind", "请从选项（small）中选择；“huge”不是可选项"),
    ({"owner": "999999"}, "owner", "找不到在职人员：“999999”"),
    ({"unit": "atlantis"}, "unit", "找不到单位：“atlantis”"),
    ({"nonsense": "x"}, "nonsense", "不是此表单的字段"),
]


@pytest.fixture
def fields_definition(engine, tmp_path):
    path = tmp_path / "i18n_fields.yaml"
    path.write_text(EVERY_FIELD, encoding="utf-8")
    with engine.db.write() as s:
        store_definition(s, path, engine.clock())
    return "i18n_fields"


def engine_message(engine, people, key, values, field):
    with pytest.raises(FormInvalid) as refused:
        engine.start(people["huangyong"], key, {"title": "标题", **values})
    return refused.value.errors[field]


@pytest.mark.parametrize(("values", "field", "chinese"), BAD, ids=[b[1] + str(i) for i, b in
                                                                   enumerate(BAD)])  # fmt: skip
def test_the_engine_field_messages_read_in_chinese(
    app, engine, people, fields_definition, values, field, chinese
):
    message = engine_message(engine, people, fields_definition, values, field)
    with app.test_request_context("/"):
        assert say_field(message) == chinese, message
    with app.test_request_context("/", headers={"Accept-Language": "en"}):
        assert say_field(message) == str(message)  # the catalogue's English, as the CLI says it


@pytest.mark.parametrize(
    ("error", "chinese"),
    [
        (FieldError("field_not_people"), "须为人员列表"),
        (FieldError("attachment_no_size", n=2, name="a.pdf"), "第 2 个附件（a.pdf）的大小无效"),
        (FieldError("attachment_no_name", n=1), "第 1 个附件的文件名无效"),
        (FieldError("field_file_empty", name="empty.pdf"), "文件 empty.pdf 是空文件"),
        ("文件 empty.pdf 是空文件。", "文件 empty.pdf 是空文件。"),  # words the web made itself
    ],
)
def test_other_field_messages(zh, error, chinese):
    assert say_field(error) == chinese


# --- every code of the catalogue, in both languages ---------------------------------------------

CODES = sorted(SENTENCES)


def sample_params(code: str) -> dict:
    """A value with no Latin letter for each param of the code's sentence; times as times."""
    names = PLACEHOLDER.findall(SENTENCES[code])
    return {n: AT if n in ("at", "until") else f"〔{i}〕" for i, n in enumerate(names)}


@pytest.mark.parametrize("code", CODES)
def test_every_refusal_reads_as_a_chinese_sentence_with_its_specifics(zh, code):
    params = sample_params(code)
    said = say(InvalidAction(code, **params))
    for value in params.values():
        assert (value if isinstance(value, str) else "2026-03-02 09:37") in said, said
    assert not re.search(r"[A-Za-z]", said.replace("NUL", "")), said  # no English leaks
    assert said.endswith(("。", "。\n")) or "\n" in said


@pytest.mark.parametrize("code", CODES)
def test_every_refusal_reads_in_english_as_the_catalogue_says(en, code):
    params = sample_params(code)
    assert say(InvalidAction(code, **params)).lower().startswith(render(code, params)[:1].lower())
    assert say_field(FieldError(code, **params)) == render(code, params, local=engine_local)


def engine_local(at: datetime) -> str:
    """The organisation's time, as the engine shows it (Asia/Shanghai in the tests)."""
    return at.astimezone(ZoneInfo("Asia/Shanghai")).strftime("%Y-%m-%d %H:%M")
