"""管理员 (/admin/admins) and 管理日志 (/admin/log) in the browser's place: the main administrator
appoints, changes, revokes and transfers; bad input is named by its field and kept; a
sub-administrator reads the log of their scope and gets 403 on the administrators page; staff
get 403 on both. The online mark beside candidates in the forward chooser."""

from __future__ import annotations

import re

from sqlalchemy import select, update

from tests.engine.test_contract_review import CONTRACT
from tests.web.browser import sign_in
from tests.web.conftest import PASSWORD
from workflow.access import admin_scope, main_admin_id
from workflow.audit import verify_all
from workflow.store.models import Unit, User


def unit_id(engine, code: str) -> int:
    with engine.db.read() as s:
        return s.execute(select(Unit.id).where(Unit.code == code)).scalar()


def scope(engine, uid):
    with engine.db.read() as s:
        return admin_scope(s, uid)


def as_person(client, auth, login: str) -> None:
    """Sign out whoever is signed in, then sign in as ``login``."""
    home = client.get("/", follow_redirects=True).text
    if 'id="logout"' in home:
        token = re.search(r'name="csrf_token" value="([^"]+)"', home).group(1)
        client.post("/logout", data={"csrf_token": token})
    auth.login(login)


def test_the_access_matrix_of_the_two_pages(client, auth) -> None:
    # (login, /admin/admins, /admin/log): main admin, HR sub-admin, 财务部 sub-admin, staff
    for login, admins_page, log_page in (
        ("zhouwei", 200, 200), ("fenglei", 403, 200), ("linxiaoyan", 403, 200),
        ("wangfang", 403, 403),
    ):  # fmt: skip
        as_person(client, auth, login)
        assert client.get("/admin/admins").status_code == admins_page, login
        assert client.get("/admin/log").status_code == log_page, login
        home = client.get("/").text
        assert ('id="nav-admins"' in home) == (admins_page == 200), login
        assert ('id="nav-admin-log"' in home) == (log_page == 200), login
    as_person(client, auth, "wangfang")
    client.post("/logout", data={"csrf_token": re.search(
        r'name="csrf_token" value="([^"]+)"', client.get("/").text).group(1)})  # fmt: skip
    assert client.get("/admin/log").status_code == 302  # anonymous: to sign-in


def test_the_main_administrator_sees_the_scopes_and_appoints_changes_and_revokes(
    client, auth, engine, people
) -> None:
    auth.login("zhouwei")
    page = client.get("/admin/admins").text
    lin = re.search(
        r'<article class="sub-admin" id="sub-admin-linxiaoyan".*?</article>', page, re.S
    )
    assert lin and "林晓燕" in lin.group(0)
    row = re.search(r'<tr data-unit="财务部">.*?</tr>', lin.group(0), re.S).group(0)
    assert re.search(r'data-capability="people">✓', row) and re.search(
        r'data-capability="stats">✓', row
    )
    assert not re.search(r'data-capability="jobs">✓', row)

    office = unit_id(engine, "office")
    done = auth.post("/admin/admins/appoint", {"person": "wujing — 吴静 · 办公室",
                     "capabilities": ["stats", "messages"], "unit": str(office)},
                     page="/admin/admins", follow_redirects=True)  # fmt: skip
    assert done.status_code == 200 and 'id="sub-admin-wujing"' in done.text
    assert scope(engine, people["wujing"]).capabilities == {"stats", "messages"}

    auth.post(f"/admin/admins/{people['wujing']}/scope", {"remove": [f"messages@{office}"]},
              page="/admin/admins")  # fmt: skip
    assert scope(engine, people["wujing"]).capabilities == {"stats"}

    gone = auth.post(f"/admin/admins/{people['wujing']}/revoke", page="/admin/admins",
                     follow_redirects=True)  # fmt: skip
    assert 'id="sub-admin-wujing"' not in gone.text
    again = auth.post(
        f"/admin/admins/{people['wujing']}/revoke", page="/admin/admins", follow_redirects=True
    )  # a double click's second request
    assert "吴静 不是子管理员" in again.text or "is not a sub-administrator" in again.text
    assert not scope(engine, people["wujing"]).capabilities

    log = client.get("/admin/log").text
    kinds = re.findall(r'<tr id="event-\d+" data-kind="(\w+)"', log)
    assert kinds[:3] == ["admin_revoke", "admin_scope_change", "admin_appoint"]
    first = re.search(r'<tr id="event-\d+" data-kind="admin_appoint".*?</tr>', log, re.S).group(0)
    assert "吴静" in first and "统计" in first and "办公室" in first
    with engine.db.read() as s:
        assert verify_all(s)[1] == []


def test_bad_input_is_named_by_its_field_and_kept(client, auth, engine) -> None:
    auth.login("zhouwei")
    with engine.db.write() as s:
        s.execute(update(Unit).where(Unit.code == "south").values(closed_at=engine.clock()))
    bad = auth.post("/admin/admins/appoint", {"person": "nobody", "unit": ""}, page="/admin/admins")
    assert bad.status_code == 400
    assert 'id="err-appoint-person"' in bad.text and "nobody" in bad.text
    assert 'id="err-appoint-capabilities"' in bad.text
    closed = auth.post("/admin/admins/appoint", {"person": "wujing", "capabilities": "stats",
                       "unit": str(unit_id(engine, "south"))}, page="/admin/admins")  # fmt: skip
    assert closed.status_code == 400 and 'id="err-appoint-unit"' in closed.text
    assert 'value="wujing"' in closed.text  # what was typed is kept
    self = auth.post("/admin/admins/transfer", {"person": "zhouwei"}, page="/admin/admins")
    assert self.status_code == 400 and 'id="err-transfer-person"' in self.text
    dates = client.get("/admin/log?since=yesterday")
    assert dates.status_code == 400 and 'id="err-since"' in dates.text


def test_a_transfer_hands_over_the_page(client, auth, engine, people) -> None:
    auth.login("zhouwei")
    done = auth.post("/admin/admins/transfer", {"person": "liming"}, page="/admin/admins")
    assert done.status_code == 302
    with engine.db.read() as s:
        assert main_admin_id(s) == people["liming"]
    assert client.get("/admin/admins").status_code == 403
    assert client.get("/admin/log").status_code == 403  # zhouwei administers nothing now
    as_person(client, auth, "liming")
    log = client.get("/admin/log").text
    event = re.search(r'<tr id="event-\d+" data-kind="main_transfer".*?</tr>', log, re.S).group(0)
    assert "周伟" in event and "李明" in event


def test_a_sub_administrator_reads_only_their_scope_of_the_log(client, auth, engine) -> None:
    auth.login("zhouwei")
    auth.post("/admin/admins/appoint", {"person": "wujing", "capabilities": "stats",
              "unit": str(unit_id(engine, "office"))}, page="/admin/admins")  # fmt: skip
    as_person(client, auth, "linxiaoyan")  # 财务部 only: 吴静 (办公室) is not hers to read about
    log = client.get("/admin/log").text
    assert "吴静" not in log
    as_person(client, auth, "fenglei")  # the whole company
    assert "吴静" in client.get("/admin/log").text


def test_the_forward_chooser_marks_who_is_online(client, auth, engine, people, item_of) -> None:
    flow = engine.start(people["huangyong"], "contract_review", CONTRACT)
    item = item_of("qianxuejun", flow.flow_id)  # department review: next, 李明 hosts countersign
    with engine.db.write() as s:
        s.execute(update(User).where(User.login == "liming").values(last_seen_at=engine.clock()))
    auth.login("qianxuejun")
    dialog = re.search(r'<dialog id="forward-dialog".*?</dialog>', client.get(f"/items/{item}").text,
                       re.S).group(0)  # fmt: skip
    marks = re.findall(r'data-online="(\d+)"', dialog)
    assert marks == [str(people["liming"])]  # the co-signers (legal, finance) were not seen
    assert "李明" in dialog and "在线" in dialog


def test_in_a_browser_an_appointed_sub_admin_gets_the_log_and_loses_it_when_revoked(
    live_server, new_page, app
) -> None:
    zhou, wu = new_page(), new_page()
    sign_in(zhou, live_server, "zhouwei", PASSWORD)
    zhou.goto(f"{live_server}/admin/admins")
    zhou.fill("#appoint-person", "wujing")
    zhou.check("#appoint-form input[value=stats]")
    zhou.select_option("#appoint-unit", label="办公室")
    zhou.click("#appoint-form button[type=submit]")
    zhou.wait_for_selector("#sub-admin-wujing")

    sign_in(wu, live_server, "wujing", PASSWORD)
    if "presence.stats" in app.view_functions:
        assert wu.locator("#nav-presence").inner_text().strip() == "登录统计"
    assert not wu.locator("#nav-admins").count()
    wu.click("#nav-admin-log")
    row = wu.locator("#admin-log tr[data-kind=admin_appoint]").first
    assert "吴静" in row.inner_text() and "周伟" in row.inner_text()

    zhou.once("dialog", lambda d: d.accept())  # the revoke asks first
    zhou.click("#revoke-wujing")
    zhou.wait_for_selector("#sub-admin-wujing", state="detached")
    wu.click("a.brand")  # her next click: no admin link any more
    assert not wu.locator("#nav-admin-log").count()
    assert wu.goto(f"{live_server}/admin/log").status == 403


def test_the_log_renders_the_older_admin_acts_too(client, auth, engine) -> None:
    from workflow import jobs, signin

    now = engine.clock()
    signin.sign_in(engine.db, "nobody", "wrong", None, None, now)
    signin.lift(engine.db, signin.ACCOUNT, "nobody", main_id(engine), now)
    with engine.db.write() as s:
        jobs.enqueue(s, "noop", "log-test", {}, now)
        s.execute(update(jobs.JOBS).where(jobs.JOBS.c.key == "log-test").values(status="dead"))
        job_id = s.execute(select(jobs.JOBS.c.id).where(jobs.JOBS.c.key == "log-test")).scalar()
    jobs.retry(engine.db, job_id, main_id(engine), now)
    auth.login("zhouwei")
    log = client.get("/admin/log").text
    retry = re.search(r'<tr id="event-\d+" data-kind="job_retry".*?</tr>', log, re.S).group(0)
    assert "重新执行失败任务" in retry and "log-test" in retry and "周伟" in retry
    lift = re.search(r'<tr id="event-\d+" data-kind="sign_in_unlock".*?</tr>', log, re.S).group(0)
    assert "解除登录锁定" in lift and "nobody" in lift
    only = client.get("/admin/log?kind=job_retry").text
    assert re.findall(r'data-kind="(\w+)"', only) == ["job_retry"]


def main_id(engine) -> int:
    with engine.db.read() as s:
        return main_admin_id(s)


def test_a_removed_sub_administrator_is_listed_as_not_active(client, auth, engine) -> None:
    with engine.db.write() as s:
        s.execute(update(User).where(User.login == "linxiaoyan").values(status="removed"))
    auth.login("zhouwei")
    page = client.get("/admin/admins").text
    assert 'id="inactive-linxiaoyan"' in page and "这些授权不生效" in page
    assert 'id="inactive-fenglei"' not in page
