"""Administrators (Art. 29-31), engine side, on SQLite and PostgreSQL: one main administrator,
transferred only by them; sub-administrators appointed, changed and revoked only by the main
one, each act one transaction with its event on the admin chain; the admin log in the reader's
scope."""

from __future__ import annotations

import threading
import time
from datetime import UTC, date, datetime

import pytest
from sqlalchemy import select, update

from tests.conftest import Clock, setup_engine
from workflow.access import admin_scope, main_admin_id, require_capability
from workflow.audit import verify_all
from workflow.errors import Conflict, Forbidden, FormInvalid
from workflow.org import admins
from workflow.org.adminlog_view import read_log
from workflow.store.models import MainAdmin, Unit, User

NOW = datetime(2026, 3, 2, 2, 0, tzinfo=UTC)


@pytest.fixture(params=["db", "pg_db"], ids=["sqlite", "postgres"])
def setup(request):
    """(engine, people, units by code) on SQLite and on PostgreSQL."""
    database = request.getfixturevalue(request.param)
    engine, people = setup_engine(database, Clock())
    with database.read() as s:
        units = {code: i for i, code in s.execute(select(Unit.id, Unit.code))}
    return engine, people, units


def scope_of(engine, uid):
    with engine.db.read() as s:
        return admin_scope(s, uid)


def chain_ok(engine) -> None:
    with engine.db.read() as s:
        checked, broken = verify_all(s)
    assert checked > 0 and broken == []


def kinds(engine, viewer) -> list[str]:
    return [e.kind for e in read_log(engine.db, viewer).entries]


def test_appoint_change_revoke_take_effect_at_once_each_an_event(setup) -> None:
    engine, p, u = setup
    db = engine.db
    assert not scope_of(engine, p["wujing"]).capabilities
    after = admins.appoint(db, p["zhouwei"], "wujing", [("stats", "office")], NOW)
    assert [(g["capability"], g["unit_name"]) for g in after] == [("stats", "办公室")]
    wujing = scope_of(engine, p["wujing"])
    assert wujing.covers("stats", u["office"]) and not wujing.covers("stats", u["finance"])
    assert not wujing.covers("people", u["office"])

    admins.change_scope(db, p["zhouwei"], "wujing", add=[("people", u["finance"])],
                        remove=[("stats", u["office"])], now=NOW)  # fmt: skip
    wujing = scope_of(engine, p["wujing"])
    assert wujing.capabilities == {"people"} and wujing.covers("people", u["finance"])
    with engine.db.read() as s, pytest.raises(Forbidden) as refused:
        require_capability(s, p["wujing"], "stats", u["office"])
    assert refused.value.code == "admin_unit_out_of_scope"

    held = admins.revoke(db, p["zhouwei"], "wujing", NOW)
    assert [g["capability"] for g in held] == ["people"]
    assert not scope_of(engine, p["wujing"]).capabilities
    with pytest.raises(Conflict) as again:  # the second click of a double click
        admins.revoke(db, p["zhouwei"], "wujing", NOW)
    assert again.value.code == "admin_not_appointed"

    log = read_log(db, p["zhouwei"]).entries
    assert [e.kind for e in log[:3]] == ["admin_revoke", "admin_scope_change", "admin_appoint"]
    change = {c.field: (c.before, c.after) for c in log[1].changes}
    before, after = change["grants"]
    assert [g["capability"] for g in before] == ["stats"]
    assert [g["capability"] for g in after] == ["people"]
    assert log[0].target == {"user": p["wujing"], "name": "吴静", "unit": u["office"]}
    assert log[0].actor_name == "周伟" and log[0].scope == {"main": True}
    chain_ok(engine)


def test_only_the_main_administrator_appoints_and_bad_input_is_named_by_field(setup) -> None:
    engine, p, _u = setup
    db = engine.db
    # 冯磊 administers people and statistics company-wide, but may not appoint (Art. 30)
    with pytest.raises(Forbidden) as sub:
        admins.appoint(db, p["fenglei"], "wujing", [("stats", "office")], NOW)
    assert sub.value.code == "admin_not_main"
    with pytest.raises(Forbidden):
        admins.revoke(db, p["fenglei"], "linxiaoyan", NOW)
    with pytest.raises(Forbidden):
        admins.administrators(db, p["fenglei"])

    with pytest.raises(FormInvalid) as bad:
        admins.appoint(db, p["zhouwei"], "nobody", [], NOW)
    assert {k: e.code for k, e in bad.value.errors.items()} == {
        "person": "field_no_person", "capabilities": "admin_no_capability"}  # fmt: skip
    with db.write() as s:
        s.execute(update(Unit).where(Unit.code == "south").values(closed_at=NOW))
    with pytest.raises(FormInvalid) as closed:
        admins.appoint(db, p["zhouwei"], "wujing", [("stats", "south")], NOW)
    assert closed.value.errors["unit"].code == "admin_unit_closed"
    with pytest.raises(FormInvalid) as main:
        admins.appoint(db, p["zhouwei"], "zhouwei", [("stats", "office")], NOW)
    assert main.value.errors["person"].code == "admin_person_is_main"
    assert "admin_appoint" not in kinds(engine, p["zhouwei"])  # nothing refused was recorded


def test_transfer_moves_the_one_main_role_and_the_old_main_keeps_nothing(setup) -> None:
    engine, p, _u = setup
    db = engine.db
    for to, code in (("zhouwei", "admin_transfer_self"), ("ghost", "field_no_person")):
        with pytest.raises(FormInvalid) as bad:
            admins.transfer_main(db, p["zhouwei"], to, NOW)
        assert bad.value.errors["person"].code == code
    with db.write() as s:  # a removed person cannot become the main administrator
        s.execute(update(User).where(User.login == "songjia").values(status="removed"))
    with pytest.raises(FormInvalid):
        admins.transfer_main(db, p["zhouwei"], "songjia", NOW)
    with pytest.raises(Forbidden):
        admins.transfer_main(db, p["fenglei"], "fenglei", NOW)

    # 冯磊 (an HR sub-administrator) becomes the main administrator: his grants are dropped
    assert admins.transfer_main(db, p["zhouwei"], "fenglei", NOW) == p["fenglei"]
    with db.read() as s:
        assert main_admin_id(s) == p["fenglei"]
        assert s.execute(select(MainAdmin.user_id)).scalars().all() == [p["fenglei"]]
    assert scope_of(engine, p["fenglei"]).main
    assert not scope_of(engine, p["zhouwei"]).capabilities
    with pytest.raises(Forbidden):
        admins.appoint(db, p["zhouwei"], "wujing", [("stats", "office")], NOW)
    listed = admins.administrators(db, p["fenglei"])
    assert listed.main.login == "fenglei"
    assert "fenglei" not in [a.login for a in listed.subs]
    (event,) = [e for e in read_log(db, p["fenglei"]).entries if e.kind == "main_transfer"]
    change = {c.field: (c.before, c.after) for c in event.changes}
    assert change["main"] == ({"user": p["zhouwei"], "name": "周伟"},
                              {"user": p["fenglei"], "name": "冯磊"})  # fmt: skip
    assert [g["capability"] for g in change["grants"][0]] == ["people", "stats"]
    chain_ok(engine)


def test_a_removed_sub_administrator_no_longer_counts_and_is_listed_inactive(setup) -> None:
    engine, p, _u = setup
    with engine.db.write() as s:
        s.execute(update(User).where(User.login == "linxiaoyan").values(status="removed"))
    assert not scope_of(engine, p["linxiaoyan"]).capabilities
    listed = {a.login: a for a in admins.administrators(engine.db, p["zhouwei"]).subs}
    assert listed["linxiaoyan"].status == "removed" and not listed["linxiaoyan"].counts
    assert listed["fenglei"].counts
    admins.revoke(engine.db, p["zhouwei"], "linxiaoyan", NOW)  # still revocable
    assert "linxiaoyan" not in [
        a.login for a in admins.administrators(engine.db, p["zhouwei"]).subs
    ]


def test_the_log_shows_a_sub_administrator_only_the_events_in_their_scope(setup) -> None:
    engine, p, u = setup
    db = engine.db
    admins.appoint(db, p["zhouwei"], "wujing", [("stats", "office")], NOW)  # 办公室
    admins.appoint(db, p["zhouwei"], "qianxuejun", [("stats", "finance")], NOW)  # 财务部
    with db.write() as s:  # an event another area writes about a unit, and an unscoped one
        from workflow.org.adminlog import record

        scope = admin_scope(s, p["zhouwei"])
        record(s, scope, "unit_rename", at=NOW, target={"unit": u["finance"], "name": "财务部"},
               before={"name": "财务处"}, after={"name": "财务部"})  # fmt: skip
        record(s, scope, "org_setting", at=NOW, target={}, before=None, after={"x": 1})
    assert kinds(engine, p["zhouwei"])[:4] == [
        "org_setting", "unit_rename", "admin_appoint", "admin_appoint"]  # fmt: skip
    # 林晓燕 administers 财务部: she reads its rename and 钱学军's appointment (he is in 财务部)
    lin = read_log(db, p["linxiaoyan"]).entries
    assert [e.kind for e in lin] == ["unit_rename", "admin_appoint"]
    assert lin[1].target["name"] == "钱学军"
    assert lin[0].changes[0].before == "财务处"
    # 吴静 reads her own appointment (and nothing of 财务部)
    assert [e.target.get("name") for e in read_log(db, p["wujing"]).entries] == ["吴静"]
    with pytest.raises(Forbidden):
        read_log(db, p["songjia"])  # administers nothing
    # filters and keyset paging
    assert [e.kind for e in read_log(db, p["zhouwei"], kind="unit_rename").entries] == [
        "unit_rename"]  # fmt: skip
    assert read_log(db, p["zhouwei"], actor="fenglei").entries == []
    assert read_log(db, p["zhouwei"], since=date(2026, 3, 3)).entries == []
    everything = read_log(db, p["zhouwei"]).entries  # the definitions loaded are there too
    assert len(read_log(db, p["zhouwei"], until=date(2026, 3, 2), tz=UTC).entries) == len(
        everything)  # fmt: skip
    first = read_log(db, p["zhouwei"], limit=3)
    rest = read_log(db, p["zhouwei"], limit=len(everything), before=first.next_before)
    assert len(first.entries) == 3 and rest.next_before is None
    ids = [e.id for e in first.entries + rest.entries]
    assert ids == [e.id for e in everything] == sorted(ids, reverse=True)


def test_an_appointment_waits_for_a_transfer_in_flight_and_is_then_refused(setup) -> None:
    engine, p, _u = setup
    db = engine.db
    outcome: dict[str, object] = {}

    def appoint() -> None:
        try:
            outcome["grants"] = admins.appoint(db, p["zhouwei"], "wujing", [("stats", "office")],
                                               NOW)  # fmt: skip
        except Forbidden as exc:
            outcome["refused"] = exc.code

    with db.write() as s:  # a transfer in its transaction: the main_admin row locked, changed
        s.execute(select(MainAdmin.user_id).where(MainAdmin.id == 1).with_for_update())
        s.execute(update(MainAdmin).where(MainAdmin.id == 1).values(user_id=p["liming"]))
        s.flush()
        racer = threading.Thread(target=appoint)
        racer.start()
        time.sleep(0.5)
        assert racer.is_alive(), "the appointment waits for the transfer's lock"
    racer.join(timeout=20)
    assert outcome == {"refused": "admin_not_main"}
    assert not scope_of(engine, p["wujing"]).capabilities


def test_a_transfer_racing_an_appointment_never_lets_the_old_main_act_after(setup) -> None:
    engine, p, u = setup
    db = engine.db
    start = threading.Barrier(2)
    results: dict[str, object] = {}

    def run(name, act) -> None:
        start.wait()
        try:
            results[name] = act()
        except Forbidden as exc:
            results[name] = exc.code

    acts = {
        "transfer": lambda: admins.transfer_main(db, p["zhouwei"], "liming", NOW),
        "appoint": lambda: admins.appoint(db, p["zhouwei"], "wujing", [("stats", "office")], NOW),
    }
    threads = [threading.Thread(target=run, args=item) for item in acts.items()]
    for t in threads:
        t.start()
    for t in threads:
        t.join(timeout=30)
    assert results["transfer"] == p["liming"]
    log = [e.kind for e in reversed(read_log(db, p["liming"]).entries)]
    if results["appoint"] == "admin_not_main":
        assert "admin_appoint" not in log and not scope_of(engine, p["wujing"]).capabilities
    else:  # the appointment landed first: it precedes the transfer on the chain
        assert log.index("admin_appoint") < log.index("main_transfer")
        assert scope_of(engine, p["wujing"]).covers("stats", u["office"])
    chain_ok(engine)
