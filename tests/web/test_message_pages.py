"""Messages in the browser (Flask client): compose, lists, reading, receipts, revoke, DING,
reply, relay, delete, who may see what, bad input and the person's DING channel."""

from __future__ import annotations

import io
import re

from sqlalchemy import func, select

from tests.web.conftest import Auth, csrf_of
from workflow import messages
from workflow.engine.sql import FLOWS
from workflow.settings import Settings
from workflow.store.models import Ding, User

SUBJECT = "周五下午开会"
BODY = "周五下午三点在三楼会议室开会，请准时参加。"
LEGAL = 6  # the demo organisation's 法务部 (杨帆)


def client_of(app, login: str):
    client = app.test_client()
    assert Auth(client).login(login).status_code == 302
    return client


def compose_form(client) -> dict[str, str]:
    page = client.get("/messages/new")
    assert page.status_code == 200
    once = re.search(r'name="once" value="([^"]+)"', page.text).group(1)
    return {"csrf_token": csrf_of(page.text), "once": once}


def send(client, **fields):
    data = {**compose_form(client), "subject": SUBJECT, "body": BODY, **fields}
    return client.post("/messages/new", data=data, content_type="multipart/form-data")


def sent_id(response) -> int:
    assert response.status_code == 302, response.text
    found = re.fullmatch(r"/messages/(\d+)", response.headers["Location"])
    assert found, response.headers["Location"]
    return int(found.group(1))


def message_count(engine) -> int:
    with engine.db.read() as s:
        return s.execute(select(func.count()).where(FLOWS.c.kind == "message")).scalar_one()


def post(client, url: str, data: dict | None = None, page: str = "/messages", **kw):
    token = csrf_of(client.get(page).text)
    return client.post(url, data={**(data or {}), "csrf_token": token}, **kw)


def receipt_row(html: str, name: str) -> str:
    found = re.search(rf'<tr data-user="\d+"[^>]*>\s*<td class="name"[^>]*>{name}</td>.*?</tr>',
                      html, re.S)  # fmt: skip
    assert found, f"no receipt row for {name}"
    return found.group(0)


def text_of(html: str) -> str:
    return re.sub(r"\s+", " ", re.sub(r"<[^>]+>", " ", html))


# --- sending, listing, reading ------------------------------------------------------------------


def test_send_to_a_person_and_a_unit_then_the_sender_sees_who_read_it(app, engine, people):
    li = client_of(app, "liming")
    response = send(li, to_users=[str(people["wangfang"])], to_units=[str(LEGAL)],
                    category="notice")  # fmt: skip
    fid = sent_id(response)
    page = li.get(f"/messages/{fid}").text
    assert "消息已发送。" in page and SUBJECT in page and BODY in page
    assert "通知" in page
    assert "王芳" in receipt_row(page, "王芳") and "杨帆" in receipt_row(page, "杨帆")
    assert "已发送" in receipt_row(page, "王芳")
    assert "0/3 已读" in page  # 王芳, and 法务部: 杨帆 and 何婷
    assert (
        'id="revoke-form"' in page
        and f'name="version" value="{engine.history(fid).version}"' in page
    )

    # 王芳's list: the message, unread; fetching the list is its delivery.
    wang = client_of(app, "wangfang")
    listing = wang.get("/messages").text
    row = re.search(rf'<tr data-flow="{fid}".*?</tr>', listing, re.S).group(0)
    assert SUBJECT in row and "李明" in row and "未读" in row and 'class="mark-unread"' in row
    assert re.search(r'id="nav-unread"[^>]*>1</span>', listing)
    assert "已送达" in receipt_row(li.get(f"/messages/{fid}").text, "王芳")

    # Opening it is her confirmation (已读): the sender's page says so, with the time.
    opened = wang.get(f"/messages/{fid}").text
    assert BODY in opened and "确认收到" not in opened
    confirmed = messages.view(engine, people["wangfang"], fid).confirmed_at
    assert confirmed is not None
    sender_page = li.get(f"/messages/{fid}").text
    assert f"已读 {engine.stamp(confirmed)}" in text_of(receipt_row(sender_page, "王芳"))
    assert "1/3 已读" in sender_page
    assert "1/3 已读" in li.get("/messages/sent").text
    live = li.get(f"/messages/{fid}/receipts.json")
    assert live.status_code == 200 and live.headers["Cache-Control"] == "no-store"
    assert live.json["read"] == 1 and live.json["recipients"] == 3
    assert live.json["summary"] == "1/3 已读" and "已读" in receipt_row(live.json["html"], "王芳")
    assert "未读" not in re.search(rf'<tr data-flow="{fid}".*?</tr>', wang.get("/messages").text,
                                   re.S).group(0)  # fmt: skip

    # 杨帆 received it through his unit.
    assert SUBJECT in client_of(app, "yangfan").get("/messages").text


def test_the_list_searches_by_subject_and_unread(app, engine, people):
    li = client_of(app, "liming")
    first = sent_id(send(li, to_users=[str(people["wangfang"])]))
    sent_id(send(li, to_users=[str(people["wangfang"])], subject="年度预算编制"))
    wang = client_of(app, "wangfang")
    wang.get(f"/messages/{first}")
    found = wang.get("/messages?q=预算").text
    assert "年度预算编制" in found and SUBJECT not in found
    unread = wang.get("/messages?unread=1").text
    assert "年度预算编制" in unread and SUBJECT not in unread
    live = wang.get("/messages/live.json?box=received&q=预算")
    assert live.json["unread"] == 1 and live.json["total"] == 1
    assert "年度预算编制" in live.json["rows"] and SUBJECT not in live.json["rows"]


def test_the_unread_count_json_delivers_and_needs_sign_in(app, engine, people):
    li = client_of(app, "liming")
    fid = sent_id(send(li, to_users=[str(people["wangfang"])]))
    response = app.test_client().get("/messages/unread.json")
    assert response.status_code == 302 and "/login" in response.headers["Location"]
    counted = client_of(app, "wangfang").get("/messages/unread.json")
    assert counted.json == {"unread": 1} and counted.headers["Cache-Control"] == "no-store"
    (receipt,) = messages.receipts(engine, people["liming"], fid)
    assert receipt.status == "delivered" and receipt.delivered_at is not None


def test_a_file_is_sent_and_downloading_it_confirms(app, engine, people):
    li = client_of(app, "liming")
    data = {"attachments": (io.BytesIO(b"%PDF-1.4 agenda\n" * 10), "议程.pdf"),
            "to_users": [str(people["wangfang"])]}  # fmt: skip
    fid = sent_id(send(li, **data))
    (f,) = messages.view(engine, people["liming"], fid).attachments
    assert f["name"] == "议程.pdf"
    wang = client_of(app, "wangfang")
    got = wang.get(f"/messages/{fid}/files/{f['sha256']}")
    assert got.status_code == 200 and got.data.startswith(b"%PDF-1.4 agenda")
    assert "attachment" in got.headers["Content-Disposition"]
    got.close()
    assert messages.view(engine, people["wangfang"], fid).confirmed_at is not None
    assert client_of(app, "zhaomin").get(f"/messages/{fid}/files/{f['sha256']}").status_code == 404


# --- revoking ------------------------------------------------------------------------------------


def test_a_revoked_message_shows_the_recipient_no_text(app, engine, people, clock):
    li = client_of(app, "liming")
    fid = sent_id(send(li, to_users=[str(people["wangfang"])]))
    version = engine.history(fid).version
    response = post(li, f"/messages/{fid}/revoke", {"version": version}, page=f"/messages/{fid}")
    assert response.status_code == 302
    page = li.get(f"/messages/{fid}").text
    assert "消息已撤回。" in page and 'id="revoke-form"' not in page
    assert "已撤回" in receipt_row(page, "王芳")

    wang = client_of(app, "wangfang")
    shown = wang.get(f"/messages/{fid}").text
    revoked_at = messages.view(engine, people["wangfang"], fid).revoked_at
    assert f"该消息已被发送人撤回（{engine.local(revoked_at)}）" in shown
    assert BODY not in shown and 'id="reply-form"' not in shown
    row = re.search(rf'<tr data-flow="{fid}".*?</tr>', wang.get("/messages").text, re.S).group(0)
    assert "已撤回" in row and "未读" not in row

    again = post(li, f"/messages/{fid}/revoke", {"version": version}, page=f"/messages/{fid}")
    assert again.status_code == 409 and "该消息已由 李明 于" in again.text


def test_revoking_is_refused_once_the_time_is_over_or_the_page_is_stale(app, engine, people, clock):
    li = client_of(app, "liming")
    fid = sent_id(send(li, to_users=[str(people["wangfang"])]))
    stale = post(li, f"/messages/{fid}/revoke", {"version": 999}, page=f"/messages/{fid}")
    assert stale.status_code == 409 and "请刷新页面后重试" in stale.text
    clock.advance(hours=25)
    assert 'id="revoke-form"' not in li.get(f"/messages/{fid}").text
    late = post(li, f"/messages/{fid}/revoke", {"version": engine.history(fid).version},
                page=f"/messages/{fid}")  # fmt: skip
    assert late.status_code == 400 and "消息已超过可撤回时间" in late.text
    assert engine.history(fid).state == "sent"
    # only the sender may revoke
    wang = client_of(app, "wangfang")
    other = post(wang, f"/messages/{fid}/revoke", {"version": engine.history(fid).version})
    assert other.status_code == 403 and "只有发送人可以撤回消息" in other.text


# --- DING ----------------------------------------------------------------------------------------


def test_the_sender_dings_who_has_not_read_and_they_confirm(app, engine, people):
    li = client_of(app, "liming")
    fid = sent_id(send(li, to_users=[str(people["wangfang"]), str(people["sunli"])]))
    client_of(app, "wangfang").get(f"/messages/{fid}")  # 王芳 reads it; 孙丽 does not
    page = li.get(f"/messages/{fid}").text
    form = re.search(r'<section class="card ding-form".*?</section>', page, re.S).group(0)
    assert f'value="{people["sunli"]}" checked' in form
    assert f'value="{people["wangfang"]}"' not in form
    assert "今日已用 0/60 条钉消息" in text_of(form)

    response = post(
        li,
        f"/messages/{fid}/ding",
        {"user_ids": [people["sunli"]], "channel": "voice"},
        page=f"/messages/{fid}",
    )
    assert response.status_code == 302
    page = li.get(f"/messages/{fid}").text
    assert "已转为钉消息：1 人。今日已用 1/60 条钉消息。" in page
    row = text_of(receipt_row(page, "孙丽"))
    assert "电话" in row and "未确认" in row
    with engine.db.read() as s:
        (ding,) = s.execute(select(Ding.user_id, Ding.channel, Ding.confirmed_at)).all()
    assert ding == (people["sunli"], "voice", None)

    sun = client_of(app, "sunli")
    listed = re.search(rf'<tr data-flow="{fid}".*?</tr>', sun.get("/messages").text, re.S)
    assert 'class="mark-ding"' in listed.group(0)
    opened = sun.get(f"/messages/{fid}").text
    assert 'id="confirm-button"' in opened and "确认收到" in opened
    response = post(sun, f"/messages/{fid}/confirm", page=f"/messages/{fid}")
    assert response.status_code == 302
    after = sun.get(f"/messages/{fid}").text
    assert "已确认收到。" in after and 'id="confirm-button"' not in after
    row = text_of(receipt_row(li.get(f"/messages/{fid}").text, "孙丽"))
    assert "已确认" in row and "未确认" not in row
    # nobody left to DING: the form is gone, and a forged post is refused
    assert 'id="ding-form"' not in li.get(f"/messages/{fid}").text
    refused = post(li, f"/messages/{fid}/ding", {"user_ids": [people["sunli"]]},
                   page=f"/messages/{fid}")  # fmt: skip
    assert refused.status_code == 400 and "无需再发钉消息" in refused.text


def test_past_the_daily_limit_a_ding_is_refused_in_chinese(app, engine, people, monkeypatch):
    monkeypatch.setattr(engine, "settings", Settings.defaults(ding_limit=1))
    li = client_of(app, "liming")
    first = sent_id(send(li, to_users=[str(people["wangfang"])], ding="1"))
    assert "已作为钉消息发送" in li.get(f"/messages/{first}").text
    second = sent_id(send(li, to_users=[str(people["sunli"])]))
    refused = post(li, f"/messages/{second}/ding", {"user_ids": [people["sunli"]]},
                   page=f"/messages/{second}")  # fmt: skip
    assert refused.status_code == 400
    assert "今日钉消息已达上限（1 条）" in refused.text
    # composing as a DING is refused too, and nothing is sent
    before = message_count(engine)
    again = send(li, to_users=[str(people["sunli"])], ding="1")
    assert again.status_code == 400 and "今日钉消息已达上限（1 条）" in again.text
    assert message_count(engine) == before
    with engine.db.read() as s:
        assert s.execute(select(func.count()).select_from(Ding)).scalar_one() == 1


def test_my_settings_choose_the_ding_channel(app, engine, people):
    wang = client_of(app, "wangfang")
    page = wang.get("/settings").text
    assert "我的设置" in page and 'value="sms" id="ding-channel-sms" checked' in page
    response = post(wang, "/settings", {"ding_channel": "email"}, page="/settings")
    assert response.status_code == 302
    assert 'value="email" id="ding-channel-email" checked' in wang.get("/settings").text
    with engine.db.read() as s:
        assert s.scalar(select(User.ding_channel).where(User.id == people["wangfang"])) == "email"
    bad = post(wang, "/settings", {"ding_channel": "pigeon"}, page="/settings")
    assert bad.status_code == 400
    # a DING on each recipient's own setting reaches her by e-mail
    li = client_of(app, "liming")
    fid = sent_id(send(li, to_users=[str(people["wangfang"])], ding="1"))
    (receipt,) = messages.receipts(engine, people["liming"], fid)
    assert receipt.ding is not None and receipt.ding.channel == "email"


# --- reply, relay, delete ------------------------------------------------------------------------


def test_reply_and_relay(app, engine, people):
    li = client_of(app, "liming")
    fid = sent_id(send(li, to_users=[str(people["wangfang"]), str(people["sunli"])]))
    wang = client_of(app, "wangfang")
    response = post(wang, f"/messages/{fid}/reply", {"body": "收到，准时参加。"},
                    page=f"/messages/{fid}", content_type="multipart/form-data")  # fmt: skip
    assert response.status_code == 302
    reply_id = int(response.headers["Location"].rsplit("/", 1)[1])
    assert f"回复：{SUBJECT}" in li.get("/messages").text
    reply_page = li.get(f"/messages/{reply_id}").text
    assert "收到，准时参加。" in reply_page and f'href="/messages/{fid}"' in reply_page
    assert "已回复" in receipt_row(li.get(f"/messages/{fid}").text, "王芳")

    sun = client_of(app, "sunli")
    response = post(sun, f"/messages/{fid}/relay",
                    {"to_users": [people["zhaomin"]], "note": "请一并参加"},
                    page=f"/messages/{fid}")  # fmt: skip
    assert response.status_code == 302
    relayed = client_of(app, "zhaomin")
    assert f"转发：{SUBJECT}" in relayed.get("/messages").text
    relay_id = int(response.headers["Location"].rsplit("/", 1)[1])
    shown = relayed.get(f"/messages/{relay_id}").text
    assert "请一并参加" in shown and BODY in shown
    assert "已转发" in receipt_row(li.get(f"/messages/{fid}").text, "孙丽")
    # an empty reply is refused, nothing sent
    before = message_count(engine)
    empty = post(wang, f"/messages/{fid}/reply", {"body": " "}, page=f"/messages/{fid}",
                 content_type="multipart/form-data")  # fmt: skip
    assert empty.status_code == 400 and "回复需要正文或附件" in empty.text
    assert message_count(engine) == before


def test_delete_hides_the_message_for_that_person_only(app, engine, people):
    li = client_of(app, "liming")
    fid = sent_id(send(li, to_users=[str(people["wangfang"]), str(people["sunli"])]))
    wang = client_of(app, "wangfang")
    wang.get(f"/messages/{fid}")
    response = post(wang, f"/messages/{fid}/delete", page=f"/messages/{fid}")
    assert response.status_code == 302 and response.headers["Location"] == "/messages"
    assert SUBJECT not in wang.get("/messages").text
    assert SUBJECT in client_of(app, "sunli").get("/messages").text
    assert SUBJECT in li.get("/messages/sent").text
    assert "已删除" in receipt_row(li.get(f"/messages/{fid}").text, "王芳")


def test_the_sender_deletes_from_the_sent_list_and_searches_it(app, engine, people):
    li = client_of(app, "liming")
    fid = sent_id(send(li, to_users=[str(people["wangfang"])]))
    sent_id(send(li, subject="月度报表提交提醒", to_users=[str(people["wangfang"])]))
    found = li.get("/messages/sent?q=报表").text
    assert "月度报表提交提醒" in found and SUBJECT not in found
    page = li.get(f"/messages/{fid}").text
    assert 'id="delete-sent-form"' in page
    response = post(li, f"/messages/{fid}/delete", page=f"/messages/{fid}")
    assert response.status_code == 302 and response.headers["Location"] == "/messages/sent"
    assert SUBJECT not in li.get("/messages/sent").text
    assert SUBJECT in client_of(app, "wangfang").get("/messages").text


def test_the_sender_may_revoke_after_a_recipient_replied(app, engine, people):
    li = client_of(app, "liming")
    fid = sent_id(send(li, to_users=[str(people["wangfang"])]))
    version = re.search(r'name="version" value="(\d+)"', li.get(f"/messages/{fid}").text)
    wang = client_of(app, "wangfang")
    wang.get(f"/messages/{fid}")
    assert post(wang, f"/messages/{fid}/reply", {"body": "收到"}, page=f"/messages/{fid}",
                content_type="multipart/form-data").status_code == 302  # fmt: skip
    done = post(li, f"/messages/{fid}/revoke", {"version": version.group(1)},
                page=f"/messages/{fid}")  # fmt: skip
    assert done.status_code == 302
    assert "该消息已被发送人撤回" in text_of(wang.get(f"/messages/{fid}").text)


# --- who may see, bad input ----------------------------------------------------------------------


def test_someone_else_cannot_see_or_touch_the_message(app, engine, people):
    li = client_of(app, "liming")
    fid = sent_id(send(li, to_users=[str(people["wangfang"])]))
    other = client_of(app, "zhaomin")
    page = other.get(f"/messages/{fid}")
    assert page.status_code == 404 and SUBJECT not in page.text and BODY not in page.text
    assert other.get(f"/messages/{fid}/receipts.json").status_code == 404
    for action in ("reply", "relay", "delete", "confirm", "ding", "revoke"):
        response = post(other, f"/messages/{fid}/{action}",
                        {"body": "x", "user_ids": [people["wangfang"]], "version": 1})  # fmt: skip
        assert response.status_code in (403, 404), action
    assert SUBJECT not in other.get("/messages").text
    # a recipient does not see the receipts
    wang = client_of(app, "wangfang")
    assert 'id="receipts"' not in wang.get(f"/messages/{fid}").text
    assert wang.get(f"/messages/{fid}/receipts.json").status_code == 403
    # an administrator sees them, but may not revoke
    zhou = client_of(app, "zhouwei")
    assert 'id="receipts"' in zhou.get(f"/messages/{fid}").text
    assert 'id="revoke-form"' not in zhou.get(f"/messages/{fid}").text
    # signed out: to the sign-in page
    assert "/login" in app.test_client().get(f"/messages/{fid}").headers["Location"]


def test_bad_input_is_explained_and_nothing_is_sent(app, engine, people):
    li = client_of(app, "liming")
    wang = str(people["wangfang"])

    empty = send(li, subject="  ", to_users=[wang])
    assert empty.status_code == 400 and "主题: 此项为必填项" in empty.text
    assert 'id="form-errors"' in empty.text and BODY in empty.text  # what was typed is kept

    nobody = send(li)
    assert nobody.status_code == 400 and "消息没有接收人" in nobody.text

    only_me = send(li, to_users=[str(people["liming"])])
    assert only_me.status_code == 400 and "消息没有接收人" in only_me.text

    stranger = send(li, to_users=["99999"])
    assert stranger.status_code == 400 and "不存在编号为 99999 的人员" in stranger.text

    garbage = send(li, to_users=["abc"])
    assert garbage.status_code == 400 and "所选接收人有误" in garbage.text

    no_unit = send(li, to_units=["999"])
    assert no_unit.status_code == 400 and "不存在编号为 999 的部门" in no_unit.text

    blank_file = send(li, to_users=[wang], attachments=(io.BytesIO(b""), "空.txt"))
    assert blank_file.status_code == 400 and "文件 空.txt 是空文件" in blank_file.text

    assert message_count(engine) == 0


def test_an_oversized_file_is_refused_and_nothing_is_sent(app, engine, people):
    app.config["MAX_CONTENT_LENGTH"] = 64 * 1024
    li = client_of(app, "liming")
    big = (io.BytesIO(b"x" * (128 * 1024)), "大文件.bin")
    response = send(li, to_users=[str(people["wangfang"])], attachments=big)
    assert response.status_code == 413 and "上传的文件超过了" in response.text
    assert message_count(engine) == 0


def test_a_post_without_the_csrf_token_is_refused(app, engine, people):
    li = client_of(app, "liming")
    response = li.post("/messages/new", data={"subject": SUBJECT,
                                              "to_users": [people["wangfang"]]})  # fmt: skip
    assert response.status_code == 400 and "表单已过期" in response.text
    assert message_count(engine) == 0
    fid = sent_id(send(li, to_users=[str(people["wangfang"])]))
    forged = li.post(f"/messages/{fid}/revoke", data={"version": engine.history(fid).version})
    assert forged.status_code == 400 and engine.history(fid).state == "sent"


def test_the_same_form_sent_twice_sends_once(app, engine, people):
    li = client_of(app, "liming")
    data = {**compose_form(li), "subject": SUBJECT, "to_users": [str(people["wangfang"])]}
    first = li.post("/messages/new", data=data)
    again = li.post("/messages/new", data=data)
    assert sent_id(first) == sent_id(again)
    assert message_count(engine) == 1
    assert "此消息已发送，未重复发送。" in li.get(again.headers["Location"]).text


def test_the_message_pages_in_english(app, engine, people):
    li = client_of(app, "liming")
    fid = sent_id(send(li, to_users=[str(people["wangfang"])]))
    post(li, "/lang", {"lang": "en", "next": "/messages"})
    listing = li.get("/messages/sent").text
    assert "Messages" in listing and "Received" in listing and "0/1 read" in listing
    page = li.get(f"/messages/{fid}").text
    assert "Receipts" in page and "Turn into a DING message" in page and "Revoke" in page
    assert "收到的" not in listing and "撤回" not in page
    compose = li.get("/messages/new").text
    assert "Send as a DING message" in compose and "Each recipient's own setting" in compose


def test_the_navigation_shows_messages_with_the_unread_badge(app, engine, people):
    wang = client_of(app, "wangfang")
    home = wang.get("/").text
    assert 'id="nav-messages"' in home and 'data-unread-url="/messages/unread.json"' in home
    assert re.search(r'id="nav-unread"[^>]*hidden', home)
    assert "messages.js" in home and "我的设置" in home
    sent_id(send(client_of(app, "liming"), to_users=[str(people["wangfang"])]))
    assert re.search(r'id="nav-unread"[^>]*>1</span>', wang.get("/").text)


def test_a_message_opened_as_a_flow_or_item_goes_to_its_message_page(app, engine, people):
    li = client_of(app, "liming")
    fid = sent_id(send(li, to_users=[str(people["wangfang"])]))
    wang = client_of(app, "wangfang")
    item = messages.view(engine, people["wangfang"], fid).item_id
    for url in (f"/flows/{fid}", f"/items/{item}", f"/flows/{fid}/files/{'a' * 64}"):
        response = wang.get(url)
        assert response.status_code == 302 and response.headers["Location"].startswith(
            f"/messages/{fid}"
        ), url
    messages.revoke(engine, people["liming"], fid)
    # the engine's record withholds a revoked message's text from its recipients too
    assert engine.history(fid, viewer_id=people["wangfang"]).form == {"subject": SUBJECT}
    assert engine.history(fid, viewer_id=people["liming"]).form["body"] == BODY
