"""Pages of signed-in devices, sign-in statistics and clerks online (web/devices.py, presence.py)."""

from __future__ import annotations

import csv
import io
import re
from datetime import datetime, time, timedelta

from openpyxl import load_workbook
from sqlalchemy import select

from tests.web.conftest import Auth
from workflow.job_queue import list_jobs
from workflow.org.presence_days import local_day, mark
from workflow.store.models import AuditEvent, SignInSession

PC = ("Mozilla/5.0 (Windows NT 10.0; Win64; x64) AppleWebKit/537.36 (KHTML, like Gecko) "
      "Chrome/120.0.0.0 Safari/537.36")  # fmt: skip
PHONE = ("Mozilla/5.0 (iPhone; CPU iPhone OS 17_1 like Mac OS X) AppleWebKit/605.1.15 (KHTML, "
         "like Gecko) Mobile/15E148 MicroMessenger/8.0.44(0x18002c2f) NetType/WIFI")  # fmt: skip


def _client(app, agent: str):
    client = app.test_client()
    client.environ_base["HTTP_USER_AGENT"] = agent
    return client, Auth(client)


def test_my_devices_lists_a_pc_and_a_phone_and_ends_the_others(app):
    pc, pc_auth = _client(app, PC)
    phone, phone_auth = _client(app, PHONE)
    pc_auth.login("wangfang")
    phone_auth.login("wangfang")
    page = pc.get("/me/devices").text  # both keep working at once
    assert phone.get("/").status_code == 200
    assert "Chrome 120 · Windows" in page and "微信 · iPhone" in page
    assert page.count('id="this-device"') == 1 and 'id="tab-devices" class="active"' in page
    done = pc_auth.post("/me/devices/end-others", page="/me/devices", follow_redirects=True)
    assert "1 个其他登录已结束" in done.text and "微信 · iPhone" not in done.text
    back = phone.get("/", follow_redirects=True)
    assert back.request.path == "/login"
    assert "此登录已在其他设备上或由管理员结束" in back.text
    assert pc.get("/").status_code == 200


def test_ending_one_session_and_a_strangers_handle_is_404(app, engine, people):
    pc, pc_auth = _client(app, PC)
    phone, phone_auth = _client(app, PHONE)
    pc_auth.login("wangfang")
    phone_auth.login("wangfang")
    other, other_auth = _client(app, PC)
    other_auth.login("liming")
    page = other.get("/me/devices").text

    theirs = re.search(r'data-handle="([0-9a-f]+)"', page).group(1)
    assert pc_auth.post(f"/me/devices/{theirs}/end", page="/me/devices").status_code == 404
    mine = [h for h in re.findall(r'data-handle="([0-9a-f]+)"', pc.get("/me/devices").text)]
    assert len(mine) == 2
    pc_auth.post(f"/me/devices/{mine[1]}/end", page="/me/devices")
    assert phone.get("/").status_code == 302
    assert other.get("/").status_code == 200


def test_an_administrator_ends_all_of_a_persons_sessions(app, engine, people):
    clerk, clerk_auth = _client(app, PHONE)
    clerk_auth.login("huangyong")
    _admin, admin_auth = _client(app, PC)
    admin_auth.login("linxiaoyan")  # 财务部's sub-admin
    url = f"/admin/people/{people['wangfang']}/sessions/end"
    assert admin_auth.post(url).status_code == 404  # 办公室: outside their scope
    done = admin_auth.post(f"/admin/people/{people['huangyong']}/sessions/end",
                           follow_redirects=True)  # fmt: skip
    assert "该人员的 1 个登录已结束" in done.text
    assert clerk.get("/").status_code == 302
    _plain, plain_auth = _client(app, PC)
    plain_auth.login("heting")
    assert plain_auth.post(url).status_code == 403
    with engine.db.read() as s:
        assert s.scalar(select(AuditEvent.kind).where(AuditEvent.kind == "sessions_end"))


def _presence(engine, people, logins, day):
    at = datetime.combine(day, time(9, 0), tzinfo=engine.tz)
    with engine.db.write() as s:
        for login in logins:
            mark(s, people[login], at, engine.tz)


def test_statistics_page_counts_exports_and_refuses_strangers(app, engine, people, auth):
    today = local_day(engine.clock(), engine.tz)
    _presence(engine, people, ["qianxuejun", "huangyong"], today)
    _presence(engine, people, ["mali"], today - timedelta(days=1))
    auth.login("qianxuejun")  # 财务部's head: their unit only
    page = auth.client.get("/admin/presence").text
    assert 'id="stats-days"' in page and "<svg" in page and 'role="img"' in page
    row = page.split(f'id="day-{today.isoformat()}"')[1].split("</tr>")[0]
    assert '<td class="expected">4</td>' in row and '<td class="present">' in row
    assert '<td class="present">2</td>' in row and 'id="remind"' not in page  # not an admin
    assert "林晓燕" in page.split('id="absent-people"')[1]
    xlsx = auth.client.get(f"/admin/presence/export.xlsx?from={today}&to={today}")
    sheet = load_workbook(io.BytesIO(xlsx.data)).active
    cells = [[c.value for c in r] for r in sheet.iter_rows()]
    assert cells[0] == ["日期", "部门", "登录名", "姓名", "已登录", "首次登录时间"]
    assert sorted((r[3], r[4]) for r in cells[1:]) == [
        ("林晓燕", "否"),
        ("钱学军", "是"),
        ("马丽", "否"),
        ("黄勇", "是"),
    ]
    text = auth.client.get(f"/admin/presence/export.csv?from={today}&to={today}").data
    rows = list(csv.reader(io.StringIO(text.decode("utf-8-sig"))))
    assert rows == [[v or "" for v in r] for r in cells]  # the same figures
    office = auth.client.get("/admin/presence?unit=3")  # 办公室
    assert office.status_code == 404
    bad = auth.client.get("/admin/presence?from=2026-13-01")
    assert bad.status_code == 400 and 'id="from-error"' in bad.text and "2026-13-01" in bad.text
    auth.client.post("/logout", data={"csrf_token": ""})
    stranger = Auth(app.test_client())
    stranger.login("huangyong")
    assert stranger.client.get("/admin/presence").status_code == 403
    assert stranger.client.get("/admin/presence/clerks").status_code == 403


def test_remind_and_schedule(app, engine, people, auth):
    auth.login("fenglei")
    page = auth.client.get("/admin/presence").text
    assert 'id="remind"' in page and 'id="schedule-form"' in page
    done = auth.post("/admin/presence/remind", page="/admin/presence", follow_redirects=True)
    assert "条提醒已加入发送队列" in done.text
    first = len([j for j in list_jobs(engine.db, "pending", 500) if j.kind == "deliver"])
    auth.post("/admin/presence/remind", page="/admin/presence")
    assert len([j for j in list_jobs(engine.db, "pending", 500) if j.kind == "deliver"]) == first
    bad = auth.post("/admin/presence/schedule", {"enabled": "on", "at": "25:61"},
                    page="/admin/presence")  # fmt: skip
    assert bad.status_code == 400 and 'id="at-error"' in bad.text and "25:61" in bad.text
    ok = auth.post("/admin/presence/schedule", {"enabled": "on", "at": "09:15"},
                   page="/admin/presence", follow_redirects=True)  # fmt: skip
    assert "每个工作日 09:15" in ok.text
    assert any(j.kind == "signin_remind" for j in list_jobs(engine.db, "pending"))
    clerks = auth.client.get("/admin/presence/clerks").text
    assert "王芳" in clerks and "韩梅" in clerks and "袁丽" in clerks


def test_the_session_cookie_never_carries_a_handle(app, engine, people, auth):
    auth.login("wangfang")
    page = auth.client.get("/me/devices").text
    with engine.db.read() as s:
        sids = s.scalars(select(SignInSession.id)).all()
    assert all(sid not in page for sid in sids)
