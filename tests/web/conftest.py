"""Web fixtures: an app on a fresh database with the demo organisation, a client, sign-in."""

from __future__ import annotations

import re
from pathlib import Path

import pytest
from babel.messages.mofile import write_mo
from babel.messages.pofile import read_po
from sqlalchemy import update

from tests.conftest import setup_engine
from web import create_app
from workflow.passwords import hash_password
from workflow.store.models import User

TRANSLATIONS = Path(__file__).resolve().parents[2] / "web" / "translations"
PASSWORD = "test-password"


@pytest.fixture(scope="session", autouse=True)
def compiled_catalogs():
    """Compile the message catalogs, as ``make`` does, so the suite also runs under bare pytest."""
    for po in TRANSLATIONS.glob("*/LC_MESSAGES/messages.po"):
        with po.open("rb") as f:
            catalog = read_po(f)
        with po.with_suffix(".mo").open("wb") as f:
            write_mo(f, catalog, use_fuzzy=True)


_HASH = hash_password(PASSWORD)  # argon2 is slow on purpose: hash once per test run


@pytest.fixture
def app(db, clock, tmp_path):
    engine, _people = setup_engine(db, clock)
    with db.write() as s:
        s.execute(update(User).values(password_hash=_HASH))
    app = create_app(test_config={"ENGINE": engine, "SECRET_KEY": "test", "TESTING": True,
                      "FILES_DIR": str(tmp_path / "files")})  # fmt: skip
    app.config["PEOPLE"] = _people
    return app


@pytest.fixture
def people(app):
    return app.config["PEOPLE"]


@pytest.fixture
def engine(app):
    return app.extensions["banli"]


@pytest.fixture
def client(app):
    return app.test_client()


def csrf_of(html: str) -> str:
    """The CSRF token a page's form carries."""
    found = re.search(r'name="csrf_token" value="([^"]+)"', html)
    assert found, "the page has a form with a CSRF token"
    return found.group(1)


class Auth:
    """``auth.login('wangfang')`` signs in as that person; ``auth.post(url, data)`` sends a form
    with the CSRF token of the page at ``page`` (default: the same URL)."""

    def __init__(self, client):
        self.client = client

    def login(self, login: str):
        page = self.client.get("/login")
        return self.client.post("/login", data={"login": login, "password": PASSWORD,
                                                "csrf_token": csrf_of(page.text)})  # fmt: skip

    def post(self, url: str, data: dict | None = None, page: str | None = None, **kw):
        token = csrf_of(self.client.get(page or "/").text)
        return self.client.post(url, data={**(data or {}), "csrf_token": token}, **kw)


@pytest.fixture
def auth(client):
    return Auth(client)


@pytest.hookimpl(hookwrapper=True)
def pytest_runtest_makereport(item, call):
    """Keep each phase's report on the test, so fixtures can screenshot a failed browser test."""
    outcome = yield
    report = outcome.get_result()
    setattr(item, f"rep_{report.when}", report)


# The real-browser fixtures (live_server, browser, new_page) for every web test module.
from tests.web.browser import browser, live_server, new_page  # noqa: E402, F401
