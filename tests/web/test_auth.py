"""Signing in and out, and what an anonymous visitor may see (nothing)."""

from __future__ import annotations

import pytest


@pytest.mark.parametrize("url", ["/"])
def test_pages_need_sign_in(client, url):
    response = client.get(url)
    assert response.status_code == 302
    assert response.headers["Location"].startswith("/login")


def test_sign_in_and_out(client, auth):
    response = auth.login("wangfang")
    assert response.status_code == 302
    page = client.get("/")
    assert "王芳" in page.text and "办公室" in page.text
    auth.post("/logout")
    assert client.get("/").status_code == 302


def test_wrong_password_is_refused_without_saying_which_part(client):
    from tests.web.conftest import csrf_of

    token = csrf_of(client.get("/login").text)
    response = client.post("/login", data={"login": "wangfang", "password": "nope",
                                           "csrf_token": token})  # fmt: skip
    assert response.status_code == 400
    assert "登录名或密码错误" in response.text or "Wrong login or password" in response.text


def test_a_new_session_id_at_every_sign_in(client, auth):
    auth.login("wangfang")
    with client.session_transaction() as s:
        first = s["sid"]
    auth.post("/logout")
    auth.login("wangfang")
    with client.session_transaction() as s:
        assert s["sid"] != first


def test_posts_without_csrf_token_are_refused(client, auth):
    auth.login("wangfang")
    response = client.post("/logout")
    assert response.status_code == 400
    assert client.get("/").status_code == 200  # still signed in


def test_security_headers(client):
    response = client.get("/login")
    csp = response.headers["Content-Security-Policy"]
    assert "script-src 'self'" in csp and "frame-ancestors 'none'" in csp
    assert "unsafe-inline" not in csp.split("script-src")[1].split(";")[0]
    assert response.headers["X-Content-Type-Options"] == "nosniff"


def test_language_switch(client, auth):
    auth.login("wangfang")
    auth.post("/lang", {"lang": "en", "next": "/"})
    assert '<html lang="en">' in client.get("/").text
