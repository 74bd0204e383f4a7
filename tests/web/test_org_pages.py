"""The people pages (web/org.py, org_import.py, invite.py) with the test client: the list in
scope, a person's card and edit, enrolment with its field messages, the invitation link, and
the import's upload → dry run → confirm."""

from __future__ import annotations

import re

from sqlalchemy import select

from tests.test_org_import import HIRES, xlsx
from tests.web.conftest import Auth, csrf_of
from workflow.audit import verify_all
from workflow.store.models import User


def signed_in(app, login):
    client = app.test_client()
    Auth(client).login(login)
    return client


def user_named(engine, name):
    with engine.db.read() as s:
        return s.execute(select(User).where(User.name == name)).scalar_one_or_none()


def test_the_list_shows_only_the_scope_and_others_are_404(app, people):
    lin = signed_in(app, "linxiaoyan")
    page = lin.get("/admin/people").text
    logins = set(re.findall(r'data-login="([a-z0-9]+)"', page))
    assert logins == {"qianxuejun", "linxiaoyan", "huangyong", "mali"}
    assert lin.get(f"/admin/people/{people['mali']}").status_code == 200
    assert lin.get(f"/admin/people/{people['wangfang']}").status_code == 404
    assert lin.get("/admin/people/99999").status_code == 404
    assert signed_in(app, "wangfang").get("/admin/people").status_code == 403
    assert app.test_client().get("/admin/people").status_code == 302  # to sign-in
    feng = signed_in(app, "fenglei")
    found = feng.get("/admin/people?q=wangf").text
    assert re.findall(r'data-login="([a-z0-9]+)"', found) == ["wangfang"]


def test_enrol_keeps_every_value_and_says_each_problem_by_its_field(app, engine):
    feng = signed_in(app, "fenglei")
    form = feng.get("/admin/people/new").text
    bad = {"csrf_token": csrf_of(form), "name": "张三", "mobile": "13901720002",
           "email": "nope", "unit": "", "post": "会计", "login": "", "once": "k1"}  # fmt: skip
    page = feng.post("/admin/people/new", data=bad)
    assert page.status_code == 400
    text = page.text
    assert 'id="err-name"' in text
    assert "王芳" in text.split('id="err-mobile"')[1].split("</p>")[0]
    assert 'id="err-email"' in text and 'id="err-unit"' in text
    assert 'value="会计"' in text and 'value="nope"' in text  # nothing typed is lost
    assert user_named(engine, "张三") is None


def test_enrol_then_the_invitation_link_sets_a_password(app, engine):
    feng = signed_in(app, "fenglei")
    form = feng.get("/admin/people/new").text
    finance = re.search(r'<option value="(\d+)">[^<]*财务部</option>', form).group(1)
    data = {"csrf_token": csrf_of(form), "name": "陈晓东", "mobile": "13800138000",
            "email": "", "unit": finance, "post": "会计", "roles": ["finance"], "once": "k2"}  # fmt: skip
    done = feng.post("/admin/people/new", data=data)
    person = user_named(engine, "陈晓东")
    assert done.status_code == 302 and done.headers["Location"] == f"/admin/people/{person.id}"
    again = feng.post("/admin/people/new", data=data)  # a double click
    assert again.headers["Location"] == f"/admin/people/{person.id}"
    card = feng.get(f"/admin/people/{person.id}").text
    assert "chenxiaodong" in card and 'id="resend-button"' in card
    # resend: a new link, the first one void
    from workflow.org import invitations

    actor = app.config["PEOPLE"]["fenglei"]
    first, _ = invitations.resend(engine.db, actor, person.id, engine.clock(),
                                  base_url="http://localhost")  # fmt: skip
    sent = feng.post(f"/admin/people/{person.id}/invite", data={"csrf_token": csrf_of(card)})
    assert sent.status_code == 302
    anon = app.test_client()
    token = first.rsplit("/", 1)[1]
    assert anon.get(f"/invite/{token}").status_code == 404
    with engine.db.read() as s:
        from workflow.job_queue import JOBS

        bodies = [p["body"] for p in s.execute(select(JOBS.c.payload)).scalars()]
    link = re.search(r"http://localhost/invite/(\S+)", bodies[-1]).group(1)
    page = anon.get(f"/invite/{link}")
    assert page.status_code == 200 and "陈晓东" in page.text and "chenxiaodong" in page.text
    short = anon.post(f"/invite/{link}", data={"csrf_token": csrf_of(page.text),
                                               "password": "abc", "confirm": "abc"})  # fmt: skip
    assert short.status_code == 400 and 'id="err-password"' in short.text
    ok = anon.post(f"/invite/{link}", data={"csrf_token": csrf_of(page.text),
                                            "password": "new-pass-1", "confirm": "new-pass-1"})  # fmt: skip
    assert ok.status_code == 302 and ok.headers["Location"] == "/login"
    assert anon.get(f"/invite/{link}").status_code == 404
    signin = anon.get("/login").text
    home = anon.post("/login", data={"csrf_token": csrf_of(signin), "login": "chenxiaodong",
                                     "password": "new-pass-1"})  # fmt: skip
    assert home.status_code == 302 and home.headers["Location"] == "/"


def test_edit_a_person_and_the_sub_admin_cannot_touch_another_unit(app, engine, people):
    lin = signed_in(app, "linxiaoyan")
    card = lin.get(f"/admin/people/{people['mali']}").text
    bad = lin.post(f"/admin/people/{people['mali']}", data={
        "csrf_token": csrf_of(card), "name": "", "email": "x", "post": "出纳主管"})  # fmt: skip
    assert bad.status_code == 400 and 'value="出纳主管"' in bad.text
    good = lin.post(f"/admin/people/{people['mali']}", data={
        "csrf_token": csrf_of(card), "name": "马丽", "email": "", "post": "出纳主管"})  # fmt: skip
    assert good.status_code == 302
    assert user_named(engine, "马丽").post == "出纳主管"
    other = lin.post(f"/admin/people/{people['wangfang']}", data={
        "csrf_token": csrf_of(card), "name": "王芳芳", "email": "", "post": ""})  # fmt: skip
    assert other.status_code == 404 and user_named(engine, "王芳") is not None


def test_import_upload_dry_run_confirm_and_double_click(app, engine):
    feng = signed_in(app, "fenglei")
    form = feng.get("/admin/people/import").text
    data = xlsx(HIRES)
    plan = feng.post("/admin/people/import", data={
        "csrf_token": csrf_of(form), "step": "plan", "sheet": (_file(data), "hires.xlsx")},
        content_type="multipart/form-data")  # fmt: skip
    assert plan.status_code == 200
    actions = re.findall(r'data-row="(\d+)" data-action="(\w+)"', plan.text)
    assert actions == [("2", "create"), ("3", "create"), ("4", "create"), ("5", "refused"),
                       ("6", "refused")]  # fmt: skip
    assert user_named(engine, "赵一鸣") is None
    confirm = {name: re.search(rf'name="{name}" value="([^"]*)"', plan.text).group(1)
               for name in ("sheet", "filename", "digest", "step")}  # fmt: skip
    confirm["csrf_token"] = csrf_of(plan.text)
    done = feng.post("/admin/people/import", data=confirm)
    assert done.status_code == 200 and 'id="invited"' in done.text
    assert user_named(engine, "赵一鸣").status == "invited"
    again = feng.post("/admin/people/import", data=confirm)
    assert again.status_code == 200 and 'id="invited"' not in again.text
    with engine.db.read() as s:
        assert verify_all(s)[1] == []
    broken = feng.post("/admin/people/import", data={
        "csrf_token": csrf_of(form), "sheet": (_file(b"PK\x03\x04junk"), "x.xlsx")},
        content_type="multipart/form-data")  # fmt: skip
    assert broken.status_code == 400 and 'id="problem"' in broken.text


def _file(data: bytes):
    import io

    return io.BytesIO(data)


def test_the_card_links_every_other_areas_act(app, people):
    feng = signed_in(app, "fenglei")
    mali = people["mali"]
    card = feng.get(f"/admin/people/{mali}").text
    for act, href in [
        ("mobile.admin_change", f"/admin/people/{mali}/mobile"),
        ("leavers.move", f"/admin/people/{mali}/move"),
        ("leavers.remove", f"/admin/people/{mali}/remove"),
        ("directory.privacy", f"/admin/people/{mali}/mobile-privacy"),
    ]:
        assert f'href="{href}" data-act="{act}"' in card
        assert feng.get(href).status_code == 200
    assert f'action="/admin/people/{mali}/sessions/end"' in card
