"""系统任务 (/admin/jobs): administrators see the jobs by status and the dead-lettered ones with
their error and recipient, and run a dead job again; nobody else sees the page or its link."""

from __future__ import annotations

import re

import pytest
from playwright.sync_api import expect
from sqlalchemy import select

from tests.web.pages import Person
from workflow.audit import EVENTS, verify_all
from workflow.channels import PermanentFailure
from workflow.delivery import enqueue_delivery, make_deliver_handler
from workflow.jobs import JOBS, JobRecord, Worker, job_counts

ERROR = "号码 139****0001 已停机\nprovider code 4003: subscriber suspended"


class RefusingChannel:
    """An SMS gateway that refuses the number for good."""

    def send(self, message):
        raise PermanentFailure(ERROR)


@pytest.fixture
def dead_delivery(engine, people, clock) -> JobRecord:
    """A DING-like SMS to 王芳 that the gateway refused: dead-lettered after its first try."""
    now = clock()
    with engine.db.transaction() as conn:
        enqueue_delivery(conn, people["wangfang"], "sms", "合同评审：请尽快办理",
                         "办公楼空调采购合同等待您审核。", "test:1", now, now=now)  # fmt: skip
    worker = Worker(engine.db, "test-worker")
    worker.handler("deliver")(make_deliver_handler(engine.db, {"sms": RefusingChannel()}))
    worker.run_once(now)
    with engine.db.read() as s:
        job = JobRecord.of(s.execute(select(JOBS).where(JOBS.c.key == "deliver:test:1")).one())
    assert job.status == "dead"
    return job


def job_row(html: str, job_id: int) -> str:
    found = re.search(rf'<tr id="job-{job_id}".*?</tr>', html, re.S)
    assert found, f"the page lists job {job_id}"
    return found.group(0)


def test_the_admin_sees_the_dead_delivery_with_its_error_and_recipient(
    client, auth, dead_delivery, engine
):
    auth.login("zhouwei")
    home = client.get("/").text
    link = re.search(r'<a href="/admin/jobs" id="nav-jobs">(.*?)</a>', home, re.S)
    assert link and "系统任务" in link.group(1)
    assert re.search(r'id="nav-dead-jobs"[^>]*>1<', link.group(1))

    page = client.get("/admin/jobs")
    assert page.status_code == 200
    html = page.text
    assert "<h1>系统任务</h1>" in html
    assert re.search(r'id="count-dead">\s*<span class="label">已失败</span>\s*<strong class="n">1<',
                     html)  # fmt: skip
    assert re.search(r'id="count-pending">\s*<span class="label">待执行</span>', html)
    row = job_row(html, dead_delivery.id)
    assert "通知发送" in row and "deliver:test:1" in row and "1/5" in row
    assert '<span class="recipient">王芳</span>' in row
    assert '<span class="channel">短信</span>' in row
    assert '<span class="subject">合同评审：请尽快办理</span>' in row
    assert engine.stamp(dead_delivery.done_at) in row
    # the whole error in a <details>, its first line as the summary
    assert "<summary>PermanentFailure: 号码 139****0001 已停机</summary>" in row
    assert ("PermanentFailure: 号码 139****0001 已停机\nprovider code 4003: subscriber suspended"
            in row)  # fmt: skip
    assert f'action="/admin/jobs/{dead_delivery.id}/retry"' in row and "data-once" in row
    assert 'name="csrf_token"' in row and "重新执行" in row


def test_run_again_makes_the_job_pending_and_says_so(client, auth, dead_delivery, engine, people):
    auth.login("zhouwei")
    url = f"/admin/jobs/{dead_delivery.id}/retry"
    assert client.post(url).status_code == 400  # no CSRF token: nothing happens
    assert job_counts(engine.db)["dead"] == 1

    done = auth.post(url, page="/admin/jobs")
    assert done.status_code == 302 and done.headers["Location"] == "/admin/jobs"
    page = client.get("/admin/jobs").text
    assert f"任务 {dead_delivery.id} 已重新排队，将立即执行。" in page
    assert "没有失败的任务。" in page and 'id="nav-dead-jobs"' not in page
    with engine.db.read() as s:
        job = JobRecord.of(s.execute(select(JOBS).where(JOBS.c.id == dead_delivery.id)).one())
        assert verify_all(s)[1] == []
        event = s.execute(select(EVENTS).where(EVENTS.c.kind == "job_retry")).one()
    assert (job.status, job.attempts, job.lease_until, job.done_at) == ("pending", 0, None, None)
    assert job.last_error == dead_delivery.last_error
    assert (event.chain, event.actor_id, event.actor_name) == ("admin", people["zhouwei"], "周伟")
    assert event.data["job_id"] == dead_delivery.id and event.data["key"] == "deliver:test:1"

    # a second click (another tab, a stale page) changes nothing and says why
    again = auth.post(url, page="/admin/jobs")
    assert again.status_code == 302
    assert (
        f"任务 {dead_delivery.id} 不是失败状态（当前：待执行），未作任何更改。"
        in client.get("/admin/jobs").text
    )
    missing = auth.post("/admin/jobs/999999/retry", page="/admin/jobs")
    assert missing.status_code == 404 and "任务 999999 不存在。" in missing.text


@pytest.mark.parametrize("login", ["wangfang", "liming", "zhangjianguo"])
def test_anyone_else_gets_403_and_no_link(client, auth, dead_delivery, login):
    auth.login(login)
    home = client.get("/").text
    assert "/admin/jobs" not in home and "系统任务" not in home
    page = client.get("/admin/jobs")
    assert page.status_code == 403
    assert "只有管理员可以查看系统任务。" in page.text
    assert "PermanentFailure" not in page.text and "deliver:test:1" not in page.text
    token = re.search(r'name="csrf_token" value="([^"]+)"', home).group(1)
    refused = client.post(f"/admin/jobs/{dead_delivery.id}/retry", data={"csrf_token": token})
    assert refused.status_code == 403


def test_signed_out_the_page_asks_to_sign_in(client, dead_delivery):
    response = client.get("/admin/jobs")
    assert response.status_code == 302 and response.headers["Location"].startswith("/login")


def test_no_badge_without_dead_jobs(client, auth):
    auth.login("zhouwei")
    home = client.get("/").text
    assert 'id="nav-jobs"' in home and 'id="nav-dead-jobs"' not in home
    page = client.get("/admin/jobs").text
    assert "没有失败的任务。" in page


def test_the_page_in_english(client, auth, dead_delivery):
    auth.login("zhouwei")
    auth.post("/lang", {"lang": "en", "next": "/admin/jobs"})
    page = client.get("/admin/jobs").text
    assert '<html lang="en">' in page
    for text in ("System jobs", "Failed jobs", "Pending", "Running", "Completed", "Failed",
                 "Attempts", "Failed at", "Last error", "Recipient", "SMS", "Run again"):  # fmt: skip
        assert text in page, text
    for text in ("系统任务", "重新执行", "已失败", "待执行", "短信"):
        assert text not in page, text
    done = auth.post(f"/admin/jobs/{dead_delivery.id}/retry", page="/admin/jobs")
    assert done.status_code == 302
    assert f"Job {dead_delivery.id} will run again" in client.get("/admin/jobs").text


def test_clicking_run_again_in_a_browser(live_server, new_page, dead_delivery, engine):
    admin = Person(new_page, live_server, "zhouwei")
    page = admin.page
    expect(page.locator("#nav-dead-jobs")).to_have_text("1")
    with page.expect_navigation():
        page.click("#nav-jobs")
    row = page.locator(f"#job-{dead_delivery.id}")
    expect(row.locator(".recipient")).to_have_text("王芳")
    expect(row.locator("pre.job-error")).to_be_hidden()  # folded in its <details>
    row.locator("summary").click()
    expect(row.locator("pre.job-error")).to_contain_text("provider code 4003")
    with page.expect_navigation():
        page.click(f"#retry-{dead_delivery.id}")
    expect(page.locator(".flash")).to_contain_text(f"任务 {dead_delivery.id} 已重新排队")
    expect(page.locator("#nav-dead-jobs")).to_have_count(0)
    expect(page.locator("#count-pending .n")).to_have_text("1")
    assert job_counts(engine.db) == {"pending": 1, "running": 0, "done": 0, "dead": 0}


def test_a_dead_mail_to_the_auditors_shows_its_address(client, auth, engine, clock):
    """An anchor's e-mail goes to a mailbox that is no user's: the page names the address."""
    from workflow.delivery import enqueue_mail_to

    now = clock()
    with engine.db.transaction() as conn:
        enqueue_mail_to(conn, "audit@hdjs.example.com", "Auditors", "Banli audit anchor 1",
                        "{}", "anchor:1:audit@hdjs.example.com", now, now)  # fmt: skip
    worker = Worker(engine.db, "test-worker")
    worker.handler("deliver")(make_deliver_handler(engine.db, {"email": RefusingChannel()}))
    worker.run_once(now)
    with engine.db.read() as s:
        job = s.execute(select(JOBS).where(JOBS.c.key.like("deliver:anchor:%"))).one()
    assert job.status == "dead"
    auth.login("zhouwei")
    row = job_row(client.get("/admin/jobs").text, job.id)
    assert "audit@hdjs.example.com" in row and "unknown person" not in row
