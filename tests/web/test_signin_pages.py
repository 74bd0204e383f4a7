"""Sign-in pages that resist guessing: the wait and lock as people read them, refused attempts
for administrators (登录安全) with lifting a lock, same-site redirects only, cookie flags."""

from __future__ import annotations

import re
from urllib.parse import quote

import pytest
from click.testing import CliRunner
from flask import Flask
from sqlalchemy import select, update

from tests.web.conftest import PASSWORD, csrf_of
from web import create_app, local_path
from workflow.audit import EVENTS, verify_all
from workflow.signin import ACCOUNT_RULE, current_waits
from workflow.store.models import SignInAttempt, User

UA = "Mozilla/5.0 (X11; Linux x86_64) Banli-test"


def try_sign_in(client, login: str, password: str = "wrong", next_: str | None = None):
    token = csrf_of(client.get("/login").text)
    url = "/login" if next_ is None else f"/login?next={quote(next_, safe='')}"
    return client.post(url, data={"login": login, "password": password, "csrf_token": token},
                       headers={"User-Agent": UA})  # fmt: skip


def alerts(html: str) -> list[str]:
    return re.findall(r'<p class="error-text" role="alert" id="[^"]+">(.*?)</p>', html, re.S)


def lock_out(client, clock, login: str = "wangfang", times: int = ACCOUNT_RULE.lock_at):
    """Fail ``times`` times (enough to lock), waiting out each delay; the last answer."""
    for _ in range(times):
        answer = try_sign_in(client, login)
        assert answer.status_code == 400
        clock.advance(seconds=100)  # longer than any delay before the lock
    return answer


def test_wrong_unknown_and_removed_logins_get_the_same_answer(client, engine):
    with engine.db.write() as s:
        s.execute(update(User).where(User.login == "liming").values(status="removed"))
    answers = [try_sign_in(client, login) for login in ("wangfang", "nobody", "liming")]
    assert {a.status_code for a in answers} == {400}
    assert {tuple(alerts(a.text)) for a in answers} == {("登录名或密码错误。",)}
    # Only the leaver, who knows the password, learns that the account was closed (Art. 12).
    own = try_sign_in(client, "liming", PASSWORD)
    assert own.status_code == 400
    assert alerts(own.text) == ["此账号已注销：该人员已离职。如有疑问，请联系管理员。"]


def test_the_delay_and_then_the_lock_are_shown_with_their_time(client, engine, clock):
    for _ in range(ACCOUNT_RULE.delay_from - 1):
        assert alerts(try_sign_in(client, "wangfang").text) == ["登录名或密码错误。"]
    fifth = try_sign_in(client, "wangfang")
    (wait,) = current_waits(engine.db, clock.now)
    assert alerts(fifth.text) == [
        "登录名或密码错误。",
        f"登录失败次数过多，请于 {engine.stamp(wait.until)} 之后再试。",
    ]
    early = try_sign_in(client, "wangfang", PASSWORD)  # too soon: even the right password waits
    assert early.status_code == 429 and int(early.headers["Retry-After"]) <= 5
    assert alerts(early.text) == [f"登录失败次数过多，请于 {engine.stamp(wait.until)} 之后再试。"]
    clock.advance(seconds=100)

    tenth = lock_out(client, clock, times=5)  # five more failures: locked
    (lock,) = current_waits(engine.db, clock.now)
    assert lock.locked and lock.until.second == 0
    until = engine.local(lock.until)  # e.g. 2026-03-02 09:22, Asia/Shanghai
    assert until.startswith("2026-03-02 09:")
    message = f"登录失败次数过多，该登录名已暂时锁定，将于 {until} 解除；管理员可提前解除。"
    assert alerts(tenth.text) == ["登录名或密码错误。", message]

    refused = try_sign_in(client, "wangfang", PASSWORD)
    assert refused.status_code == 429 and alerts(refused.text) == [message]
    assert 0 < int(refused.headers["Retry-After"]) <= 15 * 60
    assert client.get("/").status_code == 302  # not signed in

    clock.now = lock.until  # the lock lifts at the time shown
    assert try_sign_in(client, "wangfang", PASSWORD).headers["Location"] == "/"


def test_the_lock_message_in_english(client, engine, clock):
    client.post("/lang", data={"lang": "en", "csrf_token": csrf_of(client.get("/login").text)})
    lock_out(client, clock)
    (lock,) = current_waits(engine.db, clock.now)
    page = try_sign_in(client, "wangfang", PASSWORD)
    assert alerts(page.text) == [
        f"Too many failed sign-ins: this login is locked until {engine.local(lock.until)}. "
        "An administrator can lift the lock sooner."
    ]


def test_the_admin_sees_refused_sign_ins_and_locks_and_lifts_one(app, client, auth, engine,
                                                                 clock, people):  # fmt: skip
    other = app.test_client()
    lock_out(other, clock, "wangfang")
    try_sign_in(other, "no-such-person")
    auth.login("zhouwei")
    home = client.get("/").text
    assert re.search(r'<a href="/admin/sign-ins" id="nav-signins">登录安全</a>', home)

    page = client.get("/admin/sign-ins").text
    assert "<h1>登录安全</h1>" in page
    waits = re.search(r'<table class="rows sign-in-waits".*?</table>', page, re.S).group(0)
    (lock,) = current_waits(engine.db, clock.now)
    assert 'data-scope="account" data-key="wangfang"' in waits
    assert "已锁定" in waits and f"至 {engine.local(lock.until)}" in waits
    rows = re.findall(r'<tr id="attempt-\d+">.*?</tr>', page, re.S)
    assert len(rows) == 11
    assert "<code>no-such-person</code>" in rows[0] and "登录名不存在" in rows[0]
    assert "<code>wangfang</code>" in rows[1] and "王芳" in rows[1] and "密码错误" in rows[1]
    assert "127.0.0.1" in rows[1] and "Banli-test" in rows[1]

    lifted = auth.post("/admin/sign-ins/lift", {"scope": "account", "key": "wangfang"},
                       page="/admin/sign-ins")  # fmt: skip
    assert lifted.status_code == 302 and lifted.headers["Location"] == "/admin/sign-ins"
    page = client.get("/admin/sign-ins").text
    assert "登录名 wangfang 现在可以重新登录。" in page
    assert "当前没有需要等待或被锁定的登录名或地址。" in page
    with engine.db.read() as s:
        event = s.execute(select(EVENTS).where(EVENTS.c.kind == "sign_in_unlock")).one()
        assert verify_all(s)[1] == []
    assert (event.chain, event.actor_id, event.actor_name) == ("admin", people["zhouwei"], "周伟")
    assert event.data["key"] == "wangfang" and event.data["failures"] == ACCOUNT_RULE.lock_at
    # wangfang signs in at once
    assert try_sign_in(other, "wangfang", PASSWORD).headers["Location"] == "/"

    again = auth.post("/admin/sign-ins/lift", {"scope": "account", "key": "wangfang"},
                      page="/admin/sign-ins")  # fmt: skip
    assert again.status_code == 302
    assert "登录名 wangfang 没有登录失败记录，未作任何更改。" in client.get("/admin/sign-ins").text


# linxiaoyan administers people in 财务部 only: refused logins belong to no unit
@pytest.mark.parametrize("login", ["wangfang", "liming", "linxiaoyan"])
def test_anyone_else_gets_403_and_no_link(client, auth, clock, login):
    lock_out(client, clock, "zhaomin")
    auth.login(login)
    home = client.get("/").text
    assert "/admin/sign-ins" not in home and "登录安全" not in home
    page = client.get("/admin/sign-ins")
    assert page.status_code == 403 and "只有管理员可以查看此页面。" in page.text
    assert "zhaomin" not in page.text
    refused = auth.post("/admin/sign-ins/lift", {"scope": "account", "key": "zhaomin"})
    assert refused.status_code == 403
    with client.application.extensions["banli"].db.read() as s:
        assert s.scalar(select(SignInAttempt.id).limit(1)) is not None


def test_signed_out_the_admin_page_asks_to_sign_in(client):
    response = client.get("/admin/sign-ins")
    assert response.status_code == 302 and response.headers["Location"].startswith("/login")


# -- redirects stay on this site ---------------------------------------------------------------

HOSTILE = [
    "/\t/evil.example/",  # next=/%09/evil.example/: the browser drops the tab → //evil.example/
    "/\n/evil.example/",
    "/\r\n/evil.example/",
    "/\r\nSet-Cookie: x=1",  # header injection
    "/\\evil.example/",  # the browser reads \ as /
    "\\\\evil.example/",
    "/\\/evil.example/",
    "//evil.example/",
    "///evil.example/",
    " //evil.example/",
    "\t//evil.example/",
    "\x00//evil.example/",
    "https://evil.example/",
    "http:evil.example",
    "javascript:alert(1)",
    "evil.example",
    "/%09/evil.example/",  # decoded once more by a proxy: //evil.example/
    "/%2F/evil.example/",
    "/%5Cevil.example/",
    "",
]
SAFE = ["/", "/items/12", "/workbench/done?q=合同&page=2", "/flows/3#history", "/admin/jobs"]


@pytest.mark.parametrize("target", HOSTILE)
def test_hostile_targets_are_refused(target):
    assert local_path(target) is None


@pytest.mark.parametrize("target", SAFE)
def test_same_site_paths_pass(target):
    assert local_path(target) == target


@pytest.mark.parametrize("target", HOSTILE)
def test_the_language_switch_never_leaves_the_site(client, target):
    token = csrf_of(client.get("/login").text)
    answer = client.post("/lang", data={"lang": "en", "next": target, "csrf_token": token})
    if "\x00" in target:  # a NUL in any form value is refused before any view (web.inputs)
        assert answer.status_code == 400 and "Location" not in answer.headers
    else:
        assert answer.status_code == 302 and answer.headers["Location"] == "/"
    assert "Set-Cookie: x" not in str(answer.headers)


@pytest.mark.parametrize("target", ["/\t/evil.example/", "/\r\n/evil.example/", "/\\evil.example/"])
def test_sign_in_never_leaves_the_site(client, target):
    answer = try_sign_in(client, "wangfang", PASSWORD, next_=target)
    assert answer.status_code == 302 and answer.headers["Location"] == "/"


def test_the_open_redirect_of_the_issue(client):
    """``/login?next=/%09/evil.example/`` (as the issue gives it) lands on the workbench."""
    token = csrf_of(client.get("/login").text)
    answer = client.post("/login?next=/%09/evil.example/",
                         data={"login": "wangfang", "password": PASSWORD, "csrf_token": token})  # fmt: skip
    assert answer.status_code == 302 and answer.headers["Location"] == "/"


def test_a_same_site_next_is_followed(client):
    answer = try_sign_in(client, "wangfang", PASSWORD, next_="/workbench/done?q=合同")
    assert answer.status_code == 302
    assert answer.headers["Location"] in (
        "/workbench/done?q=合同",
        f"/workbench/done?q={quote('合同')}",
    )


# -- cookies -----------------------------------------------------------------------------------


def session_cookie(app: Flask) -> str:
    client = app.test_client()
    answer = try_sign_in(client, "wangfang", PASSWORD)
    assert answer.status_code == 302
    (cookie,) = [c for c in answer.headers.getlist("Set-Cookie") if c.startswith("session=")]
    return cookie


def test_the_session_cookie_is_secure_httponly_and_lax(app):
    flags = [f.strip() for f in session_cookie(app).split(";")]
    assert "Secure" in flags and "HttpOnly" in flags and "SameSite=Lax" in flags
    assert app.config["REMEMBER_COOKIE_SECURE"] and app.config["REMEMBER_COOKIE_HTTPONLY"]


@pytest.mark.parametrize("how", ["development", "setting"])
def test_not_secure_in_development_or_when_turned_off(app, monkeypatch, how):
    engine = app.extensions["banli"]
    config = {"ENGINE": engine, "SECRET_KEY": "test", "TESTING": True}
    if how == "development":
        config["DEVELOPMENT"] = True
    else:
        monkeypatch.setenv("BANLI_COOKIE_SECURE", "0")
    flags = [f.strip() for f in session_cookie(create_app(test_config=config)).split(";")]
    assert "Secure" not in flags and "HttpOnly" in flags and "SameSite=Lax" in flags


def test_the_setting_can_keep_secure_in_development(app, monkeypatch):
    monkeypatch.setenv("BANLI_COOKIE_SECURE", "yes")
    config = {"ENGINE": app.extensions["banli"], "SECRET_KEY": "t", "DEVELOPMENT": True}
    assert create_app(test_config=config).config["SESSION_COOKIE_SECURE"] is True


def test_banli_serve_is_development(monkeypatch, tmp_path):
    """``banli serve`` (and so ``make run``) serves plain http on 127.0.0.1: cookies not Secure."""
    from workflow.cli import main

    served = []
    monkeypatch.setattr(Flask, "run", lambda self, **kw: served.append((self, kw)))
    monkeypatch.delenv("BANLI_COOKIE_SECURE", raising=False)
    monkeypatch.setenv("BANLI_SECRET_KEY", "t")
    monkeypatch.setenv("BANLI_DATABASE_URL", "unused")  # --db wins over the environment
    result = CliRunner().invoke(main, ["--db", f"sqlite:///{tmp_path / 'b.db'}", "serve"])
    assert result.exit_code == 0, result.output
    (served_app, kw) = served[0]
    assert served_app.config["SESSION_COOKIE_SECURE"] is False
    assert kw == {"host": "127.0.0.1", "port": 5000}


def test_gunicorn_app_is_secure_by_default(monkeypatch, tmp_path):
    monkeypatch.delenv("BANLI_COOKIE_SECURE", raising=False)
    monkeypatch.setenv("BANLI_SECRET_KEY", "t")
    monkeypatch.setenv("BANLI_DATABASE_URL", f"sqlite:///{tmp_path / 'b.db'}")
    assert create_app().config["SESSION_COOKIE_SECURE"] is True


def test_behind_a_proxy_the_forwarded_address_is_counted(app, monkeypatch, engine):
    monkeypatch.setenv("BANLI_PROXIES", "1")
    proxied = create_app(test_config={"ENGINE": engine, "SECRET_KEY": "test", "TESTING": True})
    client = proxied.test_client()
    token = csrf_of(client.get("/login").text)
    client.post("/login", data={"login": "wangfang", "password": "x", "csrf_token": token},
                headers={"X-Forwarded-For": "198.51.100.23"})  # fmt: skip
    with engine.db.read() as s:
        assert s.scalar(select(SignInAttempt.address)) == "198.51.100.23"


def test_a_locked_address_says_so_and_other_addresses_are_not_affected(app, engine, clock):
    """The office's address reached 100 failures this hour (seeded as the counter row)."""
    from workflow.signin import ADDRESS_RULE
    from workflow.store.models import SignInThrottle

    with engine.db.write() as s:
        s.add(SignInThrottle(scope="address", key="127.0.0.1", failures=ADDRESS_RULE.lock_at,
                             first_at=clock.now, last_at=clock.now))  # fmt: skip
    (lock,) = current_waits(engine.db, clock.now)
    page = try_sign_in(app.test_client(), "wangfang", PASSWORD)
    assert page.status_code == 429
    assert alerts(page.text) == [
        f"您所在网络地址的登录失败次数过多，已暂停从该地址登录，将于 {engine.local(lock.until)} "
        "解除；管理员可提前解除。"
    ]
    other = app.test_client()
    token = csrf_of(other.get("/login").text)
    elsewhere = other.post("/login", data={"login": "wangfang", "password": PASSWORD,
                                           "csrf_token": token},
                           environ_overrides={"REMOTE_ADDR": "192.0.2.44"})  # fmt: skip
    assert elsewhere.status_code == 302 and elsewhere.headers["Location"] == "/"


def test_a_head_request_shows_the_page_and_counts_no_attempt(client, engine):
    """HEAD is routed to the sign-in view like GET: it must not be taken for a failed sign-in
    (CSRF does not guard HEAD, so it would let anyone lock an address out)."""
    for _ in range(3):
        assert client.head("/login").status_code == 200
    with engine.db.read() as s:
        assert s.scalars(select(SignInAttempt)).all() == []
