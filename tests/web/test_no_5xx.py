"""Bad input never gives a 5xx: every route, every form and query parameter, on both databases.

The routes come from ``app.url_map`` (a route added later is fuzzed without a change here); the
parameter names from what the web reads (``request.form``/``request.args`` in web/*.py, the
``name=`` of every template input) plus the dynamic ones (``host.STEP``, a definition's form
fields, ``FIELD.kept``). URL ids are real ids of a demo flow, its work items, a message and a job,
or ids no row has (0, 2^63-1, 2^63, 20 digits). Requests go as GET and POST, signed in as the
host of the demo flow's step, as an administrator, or not at all, with CSRF off (a test
config), so that the values reach the code that reads them.
"""

from __future__ import annotations

import io
import re
import traceback
import uuid
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest
from argon2 import PasswordHasher
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from sqlalchemy import select, update

from tests.conftest import PG_URL, ROOT, Clock, setup_engine
from tests.engine.test_contract_review import CONTRACT
from tests.web.conftest import PASSWORD
from web import create_app
from workflow import files, messages
from workflow.jobs import JOBS
from workflow.store.db import Database
from workflow.store.models import User

WEB = ROOT / "web"

# --- what is thrown ------------------------------------------------------------------------------

NASTY = [
    "", " ", "\x00", "a\x00b", "%00", "\r\n", "x\r\nSet-Cookie: a=b", "%0d%0aLocation:%20/x",
    "/\r\nX-Injected: 1", "/ok\n", "/\t/evil.example/",
    "0", "-1", "-0", "+5", "1", "2", "99999999999999999999", str(2**63 - 1), str(2**63),
    str(-(2**63) - 1), "9" * 400, "9" * 5000, "1" + "0" * 30 + ".5", "0.001",
    "1e999999", "-1e999999", "1e-999999", "NaN", "-NaN", "sNaN", "Infinity", "-inf", "1_000",
    "²", "١٢", "１２", "0x10", "1,234.50", "680000", "680000.00",
    "0001-01-01", "9999-12-31", "10000-01-01", "2026-02-30", "2026-03-02", "-2026-01-01",
    "../../etc/passwd", "%2e%2e%2f", "/%09/evil.example/", "//evil.example", "\\\\evil",
    "javascript:alert(1)", "<script>alert(1)</script>", "'; DROP TABLE flows; --",
    "%", "_", "\\", "%%%", "\u202etxt.exe", "\ud7ff", "💥" * 20, "é" * 300, "x" * 10_001,
    "approve", "reject", "approved", "rejected", "sms", "voice", "email", "pigeon", "1",
    "zh", "en", "countersign", "leader_review", "dept_review", "todo", "sent",
]  # fmt: skip
NUMBERS = st.one_of(
    st.integers(),
    st.integers(min_value=2**62, max_value=2**70),
    st.floats(allow_nan=True, allow_infinity=True),
    st.decimals(allow_nan=True, allow_infinity=True),
).map(str)
TEXT = st.text(max_size=40)
ESCAPED = st.text(alphabet="%0123456789abcdefABCDEF/.\\\r\n\t ", max_size=20)


def values(real: list[str]) -> st.SearchStrategy[str]:
    real_ones = [st.sampled_from(real)] if real else []
    return st.one_of(st.sampled_from(NASTY), NUMBERS, TEXT, ESCAPED, *real_ones)


# --- the demo data and the app -------------------------------------------------------------------


class Demo:
    """An app with one contract review at countersign (with a file), a message, a job."""

    def __init__(self, db: Database, files_dir: Path) -> None:
        engine, people = setup_engine(db, Clock())
        # Cheap argon2 settings (a hash carries its own): every fuzzed /logout means a new
        # sign-in, and the real settings cost a third of a second each time.
        cheap = PasswordHasher(time_cost=1, memory_cost=1024, parallelism=1).hash(PASSWORD)
        with db.write() as s:
            s.execute(update(User).values(password_hash=cheap))
        self.app = create_app(test_config={
            "ENGINE": engine, "SECRET_KEY": "test", "TESTING": True,
            "WTF_CSRF_ENABLED": False, "FILES_DIR": str(files_dir),
        })  # fmt: skip
        stored = files.FileStore(str(files_dir)).save(io.BytesIO(b"%PDF-1.4 demo"), "合同.pdf")
        self.sha256 = stored.sha256
        flow = engine.start(people["huangyong"], "contract_review",
                            {**CONTRACT, "text": [stored.as_dict()]})  # fmt: skip
        inbox = {r.flow_id: r.item_id for r in engine.inbox(people["qianxuejun"])}
        engine.forward(people["qianxuejun"], inbox[flow.flow_id], opinion="同意送会签")
        self.flow_id = flow.flow_id
        self.items = [str(p.item_id) for v in engine.history(flow.flow_id).visits for p in v.people]
        sent = messages.send(engine, people["liming"], subject="会议通知", body="周一开会",
                             to_users=[people["wangfang"]], attachments=[stored.as_dict()])  # fmt: skip
        self.message_id = sent.flow_id
        with db.read() as s:
            self.jobs = [str(j) for j in s.scalars(select(JOBS.c.id).limit(3))]
        self.people = people
        self.ids = [
            str(self.flow_id), str(self.message_id), *self.items, *self.jobs,
            *(str(i) for i in people.values()), "0", "1", str(2**63 - 1), str(2**63), "9" * 20,
        ]  # fmt: skip
        self.names = parameter_names(engine)
        self.clients: dict[str, Any] = {}

    def client(self, who: str) -> Any:
        """A client signed in as ``who`` (again, if the last request signed it out)."""
        client = self.clients.get(who)
        if client is None:
            client = self.clients[who] = self.app.test_client()
            if who == "nobody":
                # its fuzzed sign-ins fail; from an address of its own, so that a throttle
                # per address never locks out the demo users' own sign-ins here
                client.environ_base["REMOTE_ADDR"] = "192.0.2.7"
            else:
                sign_in(client, who)
        return client

    def after(self, who: str, response: Any) -> None:
        """A fuzzed /logout (or a language switch) must not spoil the next requests."""
        if who != "nobody" and response.headers.get("Location", "").startswith("/login"):
            sign_in(self.clients[who], who)


def sign_in(client: Any, login: str) -> None:
    response = client.post("/login", data={"login": login, "password": PASSWORD})
    assert response.status_code == 302, f"{login} could not sign in"


def parameter_names(engine: Any) -> list[str]:
    """Every name a page's form or query string may carry."""
    names: set[str] = set()
    reads = re.compile(r"request\.(?:form|args|files)\.(?:get|getlist)\(\s*f?\"([^\"{]+)\"")
    for path in WEB.glob("*.py"):
        names.update(reads.findall(path.read_text()))
    for path in (WEB / "templates").rglob("*.html"):
        names.update(re.findall(r'name="([^"{]+)"', path.read_text()))
    with engine.db.read() as s:
        keys = [k for k, _names in engine.approval_types()]
        for key in [*keys, "message"]:
            try:
                spec = engine.registry.latest(s, key).spec
            except Exception:  # a retired type: nothing to add
                continue
            for f in spec.form:
                names.update({f.key, f"{f.key}.kept", f"{f.key}.remove"})
            for step in spec.steps:
                names.update(f"{k}.{step}" for k in ("host", "handlers", "co_signers"))
    names.discard("csrf_token")
    return sorted(names)


@pytest.fixture(scope="module", params=["sqlite", "postgresql"])
def demo(request, tmp_path_factory) -> Iterator[Demo]:
    base = tmp_path_factory.mktemp("fuzz")
    if request.param == "sqlite":
        db = Database(f"sqlite:///{base / 'banli.db'}")
        yield Demo(db, base / "files")
        db.dispose()
        return
    if not PG_URL:
        pytest.skip("BANLI_TEST_POSTGRES_URL is not set: PostgreSQL tests skipped")
    schema = f"t_{uuid.uuid4().hex[:12]}"
    admin = Database(PG_URL)
    with admin.engine.begin() as conn:
        conn.exec_driver_sql(f"CREATE SCHEMA {schema}")
    db = Database(PG_URL, connect_args={"options": f"-csearch_path={schema}"})
    try:
        yield Demo(db, base / "files")
    finally:
        db.dispose()
        with admin.engine.begin() as conn:
            conn.exec_driver_sql(f"DROP SCHEMA {schema} CASCADE")
        admin.dispose()


# --- the requests --------------------------------------------------------------------------------

_VARIABLE = re.compile(r"<(?:([a-z]+)(?:\([^)]*\))?:)?([a-z_0-9]+)>")


def routes(demo: Demo) -> list[tuple[str, str]]:
    """(rule, method) for every route but the static files."""
    out = []
    for rule in demo.app.url_map.iter_rules():
        if rule.endpoint == "static":
            continue
        out.extend((rule.rule, m) for m in sorted(rule.methods - {"HEAD", "OPTIONS"}))
    return sorted(out)


def url_values(demo: Demo, rule: str) -> dict[str, st.SearchStrategy[str]]:
    """For each variable of a rule: real values and ones no row has."""
    out = {}
    for converter, name in _VARIABLE.findall(rule):
        if converter in ("id", "int"):
            real = {"flow_id": [str(demo.flow_id), str(demo.message_id)], "item_id": demo.items,
                    "job_id": demo.jobs}.get(name) or demo.ids  # fmt: skip
            # mostly a row that exists, so the request gets past the 404 to the code behind it
            out[name] = st.one_of(st.sampled_from(real), st.sampled_from(real),
                                  st.sampled_from(demo.ids))  # fmt: skip
        elif converter == "any":
            choices = re.search(rf"<any\(([^)]*)\):{name}>", rule).group(1)  # type: ignore[union-attr]
            out[name] = st.one_of(st.sampled_from([c.strip() for c in choices.split(",")]), TEXT)
        elif name == "sha256":
            out[name] = st.one_of(st.just(demo.sha256), st.sampled_from(NASTY), ESCAPED)
        else:
            out[name] = st.one_of(
                st.sampled_from(["contract_review", "message", "every_field"]), values([])
            )
    return out


def fill(rule: str, parts: dict[str, str]) -> str:
    def one(found: re.Match[str]) -> str:
        value = parts[found.group(2)]
        # %-escape what a browser would; keep "%" as is sometimes, so %-escapes arrive raw
        return re.sub(r"[\x00-\x20#?/\x7f]", lambda m: f"%{ord(m.group(0)):02X}", value) or "x"

    return _VARIABLE.sub(one, rule)


def send(demo: Demo, who: str, method: str, url: str, params: dict[str, list[str]],
         upload: tuple[str, str] | None, as_json: bool, query: bool = False) -> Any:  # fmt: skip
    client = demo.client(who)
    headers = {"Accept": "application/json"} if as_json else {}
    try:
        if method == "GET":
            response = client.get(url, query_string=params, headers=headers)
        else:
            data: dict[str, Any] = dict(params)
            if upload:
                data[upload[0]] = (io.BytesIO(b"fuzz"), upload[1])
            # /login reads next= from the query string of its POST: send the values there too
            response = client.post(url, data=data, headers=headers,
                                   query_string=params if query else None)  # fmt: skip
    except Exception:  # TESTING lets the app's exception through: to a browser, a 500
        return Raised(traceback.format_exc())
    response.get_data()
    response.close()  # a download is a streamed file: close it, or it stays open
    demo.after(who, response)
    return response


@dataclass
class Raised:
    """What the app raised instead of answering (the traceback, for the failure message)."""

    text: str
    status_code: int = 500


def ask(demo: Demo, who: str, method: str, url: str, params: dict[str, list[str]],
        upload: tuple[str, str] | None = None, as_json: bool = False, query: bool = False) -> None:  # fmt: skip
    """Send one request and assert it answered below 500."""
    response = send(demo, who, method, url, params, upload, as_json, query)
    assert response.status_code < 500, (
        f"{method} {url} {params!r} as {who} answered {response.status_code}:\n"
        f"{response.text[:2000]}"
    )


def test_every_route_with_every_parameter_at_its_worst(demo):
    """A sweep first: each route with every parameter set to each of a few bad values, and
    its address with an id too wide for 64 bits and with a NUL."""
    worst = ["\x00", "99999999999999999999", "1e999999", "9999-12-31", "0001-01-01", "²",
             "/\r\nX: 1"]  # fmt: skip
    for rule, method in routes(demo):
        for bad in ("99999999999999999999", "%00"):
            url = fill(rule, {name: bad for _c, name in _VARIABLE.findall(rule)})
            ask(demo, "liming", method, url, {})
        url = _real(demo, rule)
        for bad in worst:
            params = {name: [bad] for name in demo.names}
            for who in ("host", "admin", "nobody"):
                ask(demo, WHO[who], method, url, params, query=True)


WHO = {"host": "liming", "admin": "zhouwei", "nobody": "nobody", "initiator": "huangyong"}


def _real(demo: Demo, rule: str) -> str:
    """The rule with real ids (the flow, the host's item, the message's attachment)."""
    real = {"flow_id": str(demo.flow_id), "item_id": demo.items[-1], "job_id": demo.jobs[0]
            if demo.jobs else "1", "sha256": demo.sha256, "key": "contract_review",
            "tab": "todo", "box": "received"}  # fmt: skip
    return _VARIABLE.sub(lambda m: real.get(m.group(2), "x"), rule)


@st.composite
def requests(draw: Any, demo: Demo, rule: str, method: str) -> tuple[Any, ...]:
    parts = {k: draw(v, label=k) for k, v in url_values(demo, rule).items()}
    names = draw(st.lists(st.sampled_from(demo.names), max_size=6, unique=True), label="names")
    real = [*demo.ids, demo.sha256]
    params = {n: draw(st.lists(values(real), min_size=1, max_size=3), label=n) for n in names}
    upload = None
    if method == "POST" and draw(st.integers(0, 4), label="upload?") == 0:
        field = draw(st.sampled_from(["attachments", "reply_files", "text"]), label="field")
        upload = (field, draw(st.one_of(st.sampled_from(NASTY), TEXT), label="filename"))
    who = draw(st.sampled_from(["host", "host", "admin", "initiator", "nobody"]), label="who")
    flags = draw(st.booleans(), label="json"), draw(st.booleans(), label="query")
    return WHO[who], fill(rule, parts), params, upload, *flags


#: examples per route and method: ~45 of them, so some 550 requests per database, ~10 s each
PER_ROUTE = 12


def test_arbitrary_input_on_every_route_never_gives_a_5xx(demo):
    """Hypothesis throws strings and numbers at the parameters of each route in turn."""
    for rule, method in routes(demo):
        fuzz_route(demo, rule, method)


def fuzz_route(demo: Demo, rule: str, method: str) -> None:
    @settings(max_examples=PER_ROUTE, deadline=None, database=None,
              suppress_health_check=list(HealthCheck))  # fmt: skip
    @given(st.data())
    def fuzz(data: Any) -> None:
        who, url, params, upload, as_json, query = data.draw(requests(demo, rule, method))
        ask(demo, who, method, url, params, upload, as_json, query)

    fuzz()


# --- the cases the issue names, each with the page it must give -------------------------------


def page(demo: Demo, method: str, url: str, data: dict[str, Any] | None = None, **kw: Any):
    client = demo.client("liming")
    if method == "GET":
        response = client.get(url, query_string=data, **kw)
    else:
        response = client.post(url, data=data, **kw)
    response.get_data()
    response.close()
    return response


def test_ids_wider_than_64_bits(demo):
    wide = "99999999999999999999"
    for url in (f"/items/{wide}", f"/flows/{wide}", f"/flows/{wide}/sheet.pdf",
                f"/messages/{wide}", f"/items/{2**63}/forward", f"/admin/jobs/{wide}/retry"):  # fmt: skip
        method = "POST" if url.endswith(("forward", "retry")) else "GET"
        response = page(demo, method, url)
        assert response.status_code == 404 and "该内容不存在，或您无权查看。" in response.text, url
    # a page number: too wide to read is the first page; past the end, the last (as before)
    for url in ("/", "/messages"):
        assert page(demo, "GET", url, {"page": wide}).status_code == 200
        beyond = page(demo, "GET", url, {"page": str(2**62)})
        assert beyond.status_code == 302 and "page=" not in beyond.headers["Location"]
    # recipients and the next step's host: "not valid", nothing sent or forwarded
    sent = page(demo, "POST", "/messages/new",
                {"subject": "s", "body": "b", "to_users": [wide, str(2**63)]})  # fmt: skip
    assert sent.status_code == 400 and "所选接收人有误" in sent.text
    item = demo.app.extensions["banli"].history(demo.flow_id).visits[-1].people[0].item_id
    forwarded = page(demo, "POST", f"/items/{item}/forward",
                     {"to": "leader_review", "host.leader_review": wide, "version": "1"})  # fmt: skip
    assert forwarded.status_code == 400 and "部分所选人员无效" in forwarded.text


@pytest.mark.parametrize("amount", ["1e999999", "NaN", "Infinity", "-Infinity", "1e-999999",
                                    "9" * 5000, "0x10", str(10**15)])  # fmt: skip
def test_an_impossible_amount_is_a_field_error(demo, amount):
    response = page(demo, "POST", "/start/contract_review", {**CONTRACT, "amount": amount})
    assert response.status_code == 400
    assert re.search(r'id="error-amount"|class="field-error', response.text), response.text[:500]
    assert "金额" in response.text


@pytest.mark.parametrize("day", ["0001-01-01", "9999-12-31", "1899-12-31", "3000-01-01"])
def test_a_search_day_out_of_range_is_refused(demo, day):
    for name in ("from", "to"):
        response = page(demo, "GET", "/", {name: day})
        assert response.status_code == 400
        assert f"查询的日期须在 1900-01-01 至 2999-12-31 之间，不能是 {day}" in response.text
        counts = page(demo, "GET", "/workbench/counts.json", {name: day},
                      headers={"Accept": "application/json"})  # fmt: skip
        assert counts.status_code == 400 and counts.get_json()["status"] == 400


@pytest.mark.parametrize(
    ("method", "url", "data"),
    [
        ("GET", "/", {"q": "合同\x00"}),
        ("GET", "/messages", {"q": "\x00"}),
        ("POST", "/messages/new", {"subject": "s", "body": "b", "once": "k\x00"}),
        ("POST", "/start/contract_review", {**CONTRACT, "summary": "x\x00y"}),
        ("POST", "/items/{item}/sign", {"opinion": "同意\x00", "version": "1"}),
        ("GET", "/start/contract\x00review", None),
    ],
)
def test_a_nul_anywhere_is_refused_with_a_clear_400(demo, method, url, data):
    item = demo.app.extensions["banli"].history(demo.flow_id).visits[-1].people[0].item_id
    response = page(demo, method, url.format(item=item), data)
    assert response.status_code == 400
    assert "请求中含有空字符（NUL）" in response.text


def test_a_nul_in_a_login_name_is_refused(demo):
    client = demo.client("nobody")
    response = client.post("/login", data={"login": "li\x00ming", "password": PASSWORD})
    assert response.status_code == 400 and "请求中含有空字符（NUL）" in response.text
