"""Static assets: content-hashed URLs with year-long immutable caching; pages never public."""

from __future__ import annotations

import re

from web import create_app
from web.assets import IMMUTABLE, file_hashes


def _style_url(client) -> str:
    found = re.search(r'href="(/static/style\.css[^"]*)"', client.get("/login").text)
    assert found
    return found.group(1)


def test_a_static_url_carries_the_hash_of_its_content_and_is_cached_a_year(client):
    url = _style_url(client)
    assert re.fullmatch(r"/static/style\.css\?v=[0-9a-f]{12}", url)
    with client.get(url) as r:
        assert r.status_code == 200
        assert r.headers["Cache-Control"] == IMMUTABLE
    # without the version (or with a stale one) the file is revalidated as before
    for plain in ("/static/style.css", "/static/style.css?v=0"):
        with client.get(plain) as r:
            assert r.status_code == 200
            assert "immutable" not in r.headers.get("Cache-Control", "")


def test_the_url_changes_when_the_content_does(tmp_path, app):
    static = tmp_path / "static"
    static.mkdir()
    (static / "a.css").write_text("body { color: red }")
    first = file_hashes(static)["a.css"]
    (static / "a.css").write_text("body { color: blue }")
    assert file_hashes(static)["a.css"] != first
    # the app computes the hashes once, from its own static folder
    shipped = file_hashes(app.static_folder)
    with app.test_request_context():
        from flask import url_for

        assert url_for("static", filename="app.js").endswith(f"?v={shipped['app.js']}")
        assert url_for("static", filename="no-such-file.js") == "/static/no-such-file.js"


def test_html_pages_are_not_cached_publicly(client, auth):
    for url in ("/login",):
        cache = client.get(url).headers.get("Cache-Control", "")
        assert "public" not in cache and "private" in cache
    auth.login("liming")
    page = client.get("/")
    assert page.status_code == 200
    assert "public" not in page.headers.get("Cache-Control", "")
    assert "private" in page.headers["Cache-Control"]


def test_templates_translate_per_request_in_the_chosen_language(client, auth):
    """The per-request translations cache follows each request's language."""
    zh = client.get("/login", headers={"Accept-Language": "zh"}).text
    en = client.get("/login", headers={"Accept-Language": "en"}).text
    assert "登录" in zh and "Sign in" in en
    assert create_app  # the factory is what installs the cached gettext (web/__init__.py)
