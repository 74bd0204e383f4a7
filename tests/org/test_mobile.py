"""Changing a mobile number (Art. 8): a code to the new number through the delivery queue, only
its hash kept, expiry, tries and hourly limits; an administrator's direct change; the race for
one number settled by the unique index (SQLite and PostgreSQL)."""

from __future__ import annotations

import re
import threading
from datetime import timedelta

import pytest
from sqlalchemy import select

from tests.conftest import setup_engine
from tests.org.helpers import NOW, admin_events, chains_intact
from workflow.channels import RecordingChannel
from workflow.delivery import make_deliver_handler
from workflow.errors import Forbidden, FormInvalid, InvalidAction
from workflow.jobs import Worker
from workflow.org import mobile
from workflow.store.models import Job, MobileChange, User


@pytest.fixture(params=["sqlite", "postgres"])
def org(request, db, clock):
    database = db if request.param == "sqlite" else request.getfixturevalue("pg_db")
    return setup_engine(database, clock)


def sent_code(engine, tmp_path, name: str = "outbox") -> tuple[str, str]:
    """Run the queued deliveries through a recording channel; the last SMS's (number, code)."""
    channel = RecordingChannel("sms", tmp_path / f"{name}.jsonl")
    worker = Worker(engine.db, "test-worker")
    worker.handler("deliver")(make_deliver_handler(engine.db, {"sms": channel}))
    worker.run_once(now=NOW + timedelta(seconds=5))
    message = channel.sent[-1]
    return message.address, re.search(r"\d{6}", message.body).group(0)


def mobile_of(engine, user_id):
    with engine.db.read() as s:
        return s.scalar(select(User.mobile).where(User.id == user_id))


@pytest.mark.parametrize(
    ("typed", "stored"),
    [("139 0172 9999", "13901729999"), ("+86 139-0172-9999", "13901729999"),
     ("008613901729999", "13901729999")],
)  # fmt: skip
def test_numbers_are_normalised(typed, stored):
    assert mobile.normalise(typed) == stored


@pytest.mark.parametrize(
    "typed", ["12345678901", "1390172999", "139017299990", "abc", "1290172999x"]
)
def test_a_number_not_mainland_mobile_is_refused_by_the_field(typed):
    with pytest.raises(FormInvalid) as bad:
        mobile.normalise(typed)
    assert bad.value.errors["mobile"].code == "person_mobile_invalid"


def test_the_code_goes_to_the_new_number_and_changes_it(org, tmp_path):
    engine, p = org
    wang = p["wangfang"]
    mobile.request_change(engine.db, wang, "13912345678", NOW)
    with engine.db.read() as s:
        change = s.scalars(select(MobileChange)).one()
        job = s.scalars(select(Job)).all()[-1]
    address, code = sent_code(engine, tmp_path)
    assert address == "13912345678"  # the new number, not the old one
    assert code not in change.code_hash and len(change.code_hash) == 64
    assert job.payload["address"] == "13912345678"
    assert "13912345678" in (tmp_path / "outbox.jsonl").read_text()
    wrong = "000000" if code != "000000" else "111111"
    with pytest.raises(FormInvalid) as bad:
        mobile.confirm(engine.db, wang, wrong, NOW + timedelta(minutes=1))
    assert bad.value.errors["code"].code == "mobile_code_wrong"
    assert bad.value.errors["code"].params["left"] == 4
    assert mobile_of(engine, wang) == "13901720002"
    assert mobile.confirm(engine.db, wang, code, NOW + timedelta(minutes=2)) == "13912345678"
    assert mobile_of(engine, wang) == "13912345678"
    [event] = admin_events(engine.db, "mobile_change_self")
    assert event.actor_name == "王芳"
    assert event.data["before"] == {"mobile": "13901720002"}
    assert event.data["after"] == {"mobile": "13912345678"}
    chains_intact(engine.db)
    with pytest.raises(FormInvalid) as used:  # the code is spent
        mobile.confirm(engine.db, wang, code, NOW + timedelta(minutes=3))
    assert used.value.errors["code"].code == "mobile_code_none"


def test_expiry_tries_and_the_hourly_limit(org, tmp_path):
    engine, p = org
    wang = p["wangfang"]
    mobile.request_change(engine.db, wang, "13912345678", NOW)
    with pytest.raises(FormInvalid) as late:
        mobile.confirm(engine.db, wang, "123456", NOW + timedelta(minutes=11))
    assert late.value.errors["code"].code == "mobile_code_expired"
    mobile.request_change(engine.db, wang, "13912345679", NOW + timedelta(minutes=12))
    _address, code = sent_code(engine, tmp_path)
    wrong = "000000" if code != "000000" else "111111"
    for _ in range(4):
        with pytest.raises(FormInvalid):
            mobile.confirm(engine.db, wang, wrong, NOW + timedelta(minutes=13))
    with pytest.raises(FormInvalid) as last:
        mobile.confirm(engine.db, wang, wrong, NOW + timedelta(minutes=13))
    assert last.value.errors["code"].code == "mobile_code_used_up"
    with pytest.raises(FormInvalid) as spent:  # even the right code, after five wrong ones
        mobile.confirm(engine.db, wang, code, NOW + timedelta(minutes=13))
    assert spent.value.errors["code"].code == "mobile_code_used_up"
    mobile.request_change(engine.db, wang, "13912345670", NOW + timedelta(minutes=14))
    with pytest.raises(InvalidAction) as many:
        mobile.request_change(engine.db, wang, "13912345671", NOW + timedelta(minutes=15))
    assert many.value.code == "mobile_too_many_requests"
    assert mobile_of(engine, wang) == "13901720002"
    assert admin_events(engine.db, "mobile_change_self") == []


def test_a_number_in_use_or_unchanged_is_refused(org):
    engine, p = org
    with pytest.raises(FormInvalid) as taken:
        mobile.request_change(engine.db, p["wangfang"], "13901720001", NOW)  # 李明's
    assert taken.value.errors["mobile"].code == "person_mobile_in_use"
    assert "李明" not in str(taken.value)  # a colleague's number is not given away
    with pytest.raises(FormInvalid) as same:
        mobile.request_change(engine.db, p["wangfang"], "13901720002", NOW)
    assert same.value.errors["mobile"].code == "mobile_unchanged"


def test_an_administrator_changes_it_directly_within_scope(org):
    engine, p = org
    mobile.admin_set(engine.db, p["linxiaoyan"], p["huangyong"], "13612345678", NOW)
    assert mobile_of(engine, p["huangyong"]) == "13612345678"
    [event] = admin_events(engine.db, "mobile_change_admin")
    assert event.actor_name == "林晓燕" and event.data["target"]["name"] == "黄勇"
    assert event.data["before"] == {"mobile": "13601740003"}
    with pytest.raises(Forbidden):
        mobile.admin_set(engine.db, p["linxiaoyan"], p["songjia"], "13612345679", NOW)
    with pytest.raises(FormInvalid) as taken:
        mobile.admin_set(engine.db, p["zhouwei"], p["songjia"], "13612345678", NOW)
    assert "黄勇" in str(taken.value.errors["mobile"])  # an administrator is told whose
    chains_intact(engine.db)


def test_two_people_claiming_one_number_one_wins(org, tmp_path):
    engine, p = org
    codes = {}
    for login in ("wangfang", "wujing"):
        mobile.request_change(engine.db, p[login], "13988887777", NOW)
        codes[login] = sent_code(engine, tmp_path, login)[1]
    results: dict[str, object] = {}
    start = threading.Barrier(2)

    def claim(login: str) -> None:
        start.wait()
        try:
            results[login] = mobile.confirm(engine.db, p[login], codes[login], NOW)
        except FormInvalid as exc:
            results[login] = exc.errors["mobile"].code

    threads = [threading.Thread(target=claim, args=(login,)) for login in codes]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert sorted(map(str, results.values())) == ["13988887777", "person_mobile_in_use"]
    with engine.db.read() as s:
        holders = s.scalars(select(User.name).where(User.mobile == "13988887777")).all()
    assert len(holders) == 1
    assert len(admin_events(engine.db, "mobile_change_self")) == 1
    chains_intact(engine.db)
