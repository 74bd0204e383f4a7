"""组织架构 (/admin/units) and 手机号 (/me/mobile, /admin/people/<id>/mobile) with the test
client: the tree in the viewer's scope only (404 beyond it), acts recorded on the admin chain,
refusals by their field with what was typed kept; the unit kept on the flow page and the sheet."""

from __future__ import annotations

import re

from sqlalchemy import select

from tests.org.helpers import admin_events, chains_intact
from tests.org.test_unit_on_record import handled_then_moved
from tests.test_sheet_pdf import pdf_text
from workflow.store.models import MobileChange, Unit, User


def unit_ids(engine) -> dict[str, int]:
    with engine.db.read() as s:
        return dict(s.execute(select(Unit.code, Unit.id)).all())


def test_only_people_administrators_see_units(client, auth):
    assert client.get("/admin/units").status_code == 302  # to sign-in
    auth.login("wangfang")
    assert client.get("/admin/units").status_code == 403
    assert 'id="nav-units"' not in client.get("/").text


def test_the_tree_is_the_viewers_scope(client, auth, engine):
    u = unit_ids(engine)
    auth.login("linxiaoyan")  # people over 财务部 only
    page = client.get("/admin/units")
    assert page.status_code == 200
    assert "财务部" in page.text and "人力资源部" not in page.text
    assert re.search(
        rf'id="unit-{u["finance"]}".*?<td class="heads">钱学军</td>\s*<td class="count">4</td>',
        page.text,
        re.S,
    )
    assert client.get(f"/admin/units/{u['hr']}").status_code == 404
    refused = auth.post(f"/admin/units/{u['hr']}/rename", {"name": "人事部"}, page="/admin/units")
    assert refused.status_code == 404
    assert admin_events(engine.db) == []


def test_create_with_bad_fields_keeps_what_was_typed(client, auth, engine):
    u = unit_ids(engine)
    auth.login("zhouwei")
    page = auth.post("/admin/units", {"code": "finance", "name": "审计部", "kind": "project",
                                      "parent": str(u["hq"])}, page="/admin/units")  # fmt: skip
    assert page.status_code == 400
    assert 'id="err-code"' in page.text and "财务部" in page.text  # whose code it is
    assert 'value="审计部"' in page.text and 'value="finance"' in page.text
    assert re.search(r'<option value="project" selected>', page.text)
    made = auth.post("/admin/units", {"code": "audit", "name": "审计部", "kind": "department",
                                      "parent": str(u["hq"])}, page="/admin/units")  # fmt: skip
    assert made.status_code == 302
    new = unit_ids(engine)["audit"]
    assert made.headers["Location"].endswith(f"/admin/units/{new}")
    assert "已新建单位“审计部”" in client.get(made.headers["Location"]).text
    assert [e.kind for e in admin_events(engine.db)] == ["unit_create"]


def test_rename_move_close_grant_revoke_on_the_unit_page(client, auth, engine, people):
    u = unit_ids(engine)
    auth.login("zhouwei")
    base = f"/admin/units/{u['finance']}"
    closing = auth.post(f"{base}/close", page=base)
    assert closing.status_code == 400
    assert "还有 4 人在该单位（首位为钱学军）" in closing.text
    loop = auth.post(f"{base}/move", {"parent": str(u["finance"])}, page=base)
    assert loop.status_code == 400 and 'id="err-parent"' in loop.text
    assert auth.post(f"{base}/rename", {"name": "财务管理部"}, page=base).status_code == 302
    assert "财务管理部" in client.get(base).text
    granted = auth.post(f"{base}/grant", {"role": "clerk", "person": str(people["huangyong"])},
                        page=base)  # fmt: skip
    assert granted.status_code == 302
    page = client.get(base).text
    assert f'data-role="clerk" data-user="{people["huangyong"]}"' in page
    assert "收文人员" in page
    typo = auth.post(f"{base}/grant", {"role": "clrek", "person": str(people["mali"])}, page=base)
    assert typo.status_code == 400 and 'id="err-role"' in typo.text
    assert auth.post(f"{base}/revoke", {"role": "clerk", "person": str(people["huangyong"])},
                     page=base).status_code == 302  # fmt: skip
    kinds = [e.kind for e in admin_events(engine.db)]
    assert kinds == ["unit_rename", "role_grant", "role_revoke"]
    chains_intact(engine.db)


def test_my_mobile_changes_with_the_code(client, auth, engine, people, monkeypatch):
    codes = iter([123456])
    monkeypatch.setattr("workflow.org.mobile.secrets.randbelow", lambda n: next(codes))
    auth.login("wangfang")
    page = client.get("/me/mobile")
    assert 'id="tab-mobile" class="active"' in page.text and "13901720002" in page.text
    bad = auth.post("/me/mobile", {"action": "send", "mobile": "1290172"}, page="/me/mobile")
    assert bad.status_code == 400 and 'id="err-mobile"' in bad.text
    assert 'value="1290172"' in bad.text
    sent = auth.post("/me/mobile", {"action": "send", "mobile": "139 1234 5678"}, page="/me/mobile")
    assert sent.status_code == 302
    page = client.get("/me/mobile").text
    assert "验证码已发送到 13912345678" in page and 'id="confirm-form"' in page
    wrong = auth.post("/me/mobile", {"action": "confirm", "code": "654321"}, page="/me/mobile")
    assert wrong.status_code == 400 and "还可尝试 4 次" in wrong.text
    assert 'value="654321"' in wrong.text
    done = auth.post("/me/mobile", {"action": "confirm", "code": "123456"}, page="/me/mobile")
    assert done.status_code == 302
    assert "您的手机号已改为 13912345678" in client.get("/me/mobile").text
    with engine.db.read() as s:
        assert s.scalar(select(User.mobile).where(User.id == people["wangfang"])) == "13912345678"
        assert s.scalar(select(MobileChange.code_hash)) != "123456"
    [event] = admin_events(engine.db, "mobile_change_self")
    assert event.data["after"] == {"mobile": "13912345678"}


def test_an_administrator_changes_a_number_in_scope_only(client, auth, engine, people):
    auth.login("linxiaoyan")
    url = f"/admin/people/{people['huangyong']}/mobile"
    page = client.get(url)
    assert page.status_code == 200 and "黄勇" in page.text and "13601740003" in page.text
    assert client.get(f"/admin/people/{people['songjia']}/mobile").status_code == 404
    taken = auth.post(url, {"mobile": "13601740004"}, page=url)  # 马丽's
    assert taken.status_code == 400 and "已是马丽的手机号" in taken.text
    assert 'value="13601740004"' in taken.text
    assert auth.post(url, {"mobile": "13612345678"}, page=url).status_code == 302
    assert "黄勇 的手机号已改为 13612345678" in client.get(url).text
    [event] = admin_events(engine.db, "mobile_change_admin")
    assert event.actor_name == "林晓燕"


def test_the_flow_page_and_sheet_keep_the_old_unit(client, auth, engine, people, item_of, tmp_path):
    fid = handled_then_moved(engine, people, item_of)
    auth.login("zhouwei")  # the main administrator prints any flow
    page = client.get(f"/flows/{fid}")
    assert "钱学军（财务部）" in page.text and "钱学军（法务部）" not in page.text
    sheet = client.get(f"/flows/{fid}/sheet")
    assert "钱学军（财务部）" in sheet.text
    pdf = client.get(f"/flows/{fid}/sheet.pdf")
    assert "钱学军（财务部）" in pdf_text(pdf.data, tmp_path)
    auth.post("/lang", {"lang": "en"})
    assert "钱学军 (财务部)" in client.get(f"/flows/{fid}").text


def test_a_closed_unit_leaves_the_choosers(client, auth, engine):
    u = unit_ids(engine)
    auth.login("zhouwei")
    made = auth.post("/admin/units", {"code": "audit", "name": "审计部", "kind": "department",
                                      "parent": str(u["hq"])}, page="/admin/units")  # fmt: skip
    new = unit_ids(engine)["audit"]

    def chooser() -> str:  # the units a message may be sent to
        page = client.get("/messages/new").text
        return re.search(r'id="compose-units".*?</select>', page, re.S).group(0)

    assert f'value="{new}"' in chooser()
    assert auth.post(f"/admin/units/{new}/close", page=made.headers["Location"]).status_code == 302
    assert f'value="{new}"' not in chooser()
    tree = client.get("/admin/units").text  # kept on the tree, marked closed
    assert re.search(rf'id="unit-{new}" data-code="audit" class="closed"', tree)
