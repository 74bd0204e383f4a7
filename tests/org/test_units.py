"""The unit tree and roles as data: every act in the administrator's scope, one transaction with
its admin-chain event, and every bad value refused by its field (SQLite and PostgreSQL)."""

from __future__ import annotations

import pytest
from sqlalchemy import select, update

from tests.conftest import setup_engine
from tests.org.helpers import NOW, admin_events, chains_intact
from workflow.errors import Conflict, Forbidden, FormInvalid, InvalidAction
from workflow.org import roles, units
from workflow.store.models import RoleMembership, Unit, User


@pytest.fixture(params=["sqlite", "postgres"])
def org(request, db, clock):
    database = db if request.param == "sqlite" else request.getfixturevalue("pg_db")
    engine, people = setup_engine(database, clock)
    with database.read() as s:
        codes = dict(s.execute(select(Unit.code, Unit.id)).all())
    return engine, people, codes


def unit(engine, unit_id):
    with engine.db.read() as s:
        return s.get(Unit, unit_id)


def test_create_rename_move_close_each_recorded_with_before_and_after(org):
    engine, p, u = org
    zhou = p["zhouwei"]
    new = units.create(engine.db, zhou, code="audit", name="审计部", kind="department",
                       parent_id=u["hq"], now=NOW)  # fmt: skip
    units.rename(engine.db, zhou, new, "审计监察部", NOW)
    units.move(engine.db, zhou, new, u["finance"], NOW)
    units.close(engine.db, zhou, new, NOW)
    row = unit(engine, new)
    assert (row.name, row.parent_id, row.closed_at) == ("审计监察部", u["finance"], NOW)
    events = admin_events(engine.db)
    assert [e.kind for e in events] == ["unit_create", "unit_rename", "unit_move", "unit_close"]
    assert events[0].data["after"] == {"code": "audit", "name": "审计部", "kind": "department",
                                       "parent": u["hq"]}  # fmt: skip
    assert events[1].data["before"] == {"name": "审计部"}
    assert events[1].data["after"] == {"name": "审计监察部"}
    assert events[2].data["before"] == {"parent": u["hq"]}
    assert events[0].actor_name == "周伟" and events[0].data["scope"] == {"main": True}
    chains_intact(engine.db)
    # closed: hidden from choosers, still on the tree (history)
    assert new not in dict(units.open_units(engine.db, zhou))
    assert new in [n.id for n in units.tree(engine.db, zhou)]


def test_bad_values_are_refused_by_their_field(org):
    engine, p, u = org
    zhou = p["zhouwei"]
    with pytest.raises(FormInvalid) as bad:
        units.create(engine.db, zhou, code="", name="", kind="club", parent_id=None, now=NOW)
    assert set(bad.value.errors) == {"code", "name", "kind", "parent"}
    assert bad.value.errors["kind"].code == "field_not_choice"
    with pytest.raises(FormInvalid) as dup:
        units.create(engine.db, zhou, code="finance", name="财务二部", kind="department",
                     parent_id=u["hq"], now=NOW)  # fmt: skip
    assert dup.value.errors["code"].code == "unit_code_taken"
    assert "财务部" in str(dup.value.errors["code"])
    with pytest.raises(FormInvalid) as unknown:
        units.create(engine.db, zhou, code="x1", name="某部", kind="department", parent_id=99999,
                     now=NOW)  # fmt: skip
    assert unknown.value.errors["parent"].code == "field_no_unit"
    with pytest.raises(FormInvalid) as loop:
        units.move(engine.db, zhou, u["hq"], u["finance"], NOW)
    assert loop.value.errors["parent"].code == "unit_move_below_itself"
    with pytest.raises(FormInvalid) as itself:
        units.move(engine.db, zhou, u["finance"], u["finance"], NOW)
    assert itself.value.errors["parent"].code == "unit_move_below_itself"
    assert admin_events(engine.db) == []  # nothing refused was recorded


def test_a_unit_with_people_or_open_units_below_is_not_closed(org):
    engine, p, u = org
    with pytest.raises(InvalidAction) as busy:
        units.close(engine.db, p["zhouwei"], u["finance"], NOW)
    assert busy.value.code == "unit_close_people"
    assert busy.value.params["count"] == 4 and busy.value.params["first"] == "钱学军"
    with pytest.raises(InvalidAction) as below:
        units.close(engine.db, p["zhouwei"], u["hq"], NOW)
    assert below.value.code in ("unit_close_people", "unit_close_units")
    # the people leave (removed): then the unit closes, and a second close is a conflict
    with engine.db.write() as s:
        s.execute(update(User).where(User.unit_id == u["finance"]).values(status="removed"))
    units.close(engine.db, p["zhouwei"], u["finance"], NOW)
    with pytest.raises(Conflict):
        units.close(engine.db, p["zhouwei"], u["finance"], NOW)
    with pytest.raises(FormInvalid) as closed:
        units.create(engine.db, p["zhouwei"], code="f2", name="财务一组", kind="department",
                     parent_id=u["finance"], now=NOW)  # fmt: skip
    assert closed.value.errors["parent"].code == "unit_closed"


def test_a_sub_administrator_acts_only_inside_their_subtree(org):
    engine, p, u = org
    lin = p["linxiaoyan"]  # people over 财务部 only
    assert [n.name for n in units.tree(engine.db, lin)] == ["财务部"]
    team = units.create(engine.db, lin, code="fin-tax", name="税务组", kind="department",
                        parent_id=u["finance"], now=NOW)  # fmt: skip
    assert [n.name for n in units.tree(engine.db, lin)] == ["财务部", "税务组"]
    with pytest.raises(Forbidden) as out:
        units.rename(engine.db, lin, u["hr"], "人事部", NOW)
    assert out.value.code == "admin_unit_out_of_scope"
    with pytest.raises(Forbidden):
        units.move(engine.db, lin, team, u["hr"], NOW)  # the new parent is outside
    with pytest.raises(Forbidden):
        units.create(engine.db, lin, code="hr2", name="人事二部", kind="department",
                     parent_id=u["hr"], now=NOW)  # fmt: skip
    with pytest.raises(Forbidden) as nobody:
        units.tree(engine.db, p["wangfang"])
    assert nobody.value.code == "admin_capability_missing"
    assert [e.kind for e in admin_events(engine.db)] == ["unit_create"]
    assert admin_events(engine.db)[0].data["scope"] == {
        "people": [u["finance"]],
        "stats": [u["finance"]],
    }


def test_heads_and_roles_granted_and_revoked(org):
    engine, p, u = org
    zhou = p["zhouwei"]
    with engine.db.read() as s:
        vocabulary = roles.vocabulary(s, engine.registry)
    assert {"clerk", "seal_keeper", "archivist", "legal", "finance", "office_director",
            "deputy_director", "general_manager", "unit_head"} <= set(vocabulary)  # fmt: skip
    roles.grant(engine.db, engine.registry, zhou, u["finance"], p["huangyong"], "clerk", NOW)
    roles.grant(engine.db, engine.registry, zhou, u["finance"], p["mali"], roles.HEAD, NOW)
    with engine.db.read() as s:
        held = {(h.name, h.role) for h in roles.holdings(s, [u["finance"]])}
    assert {("黄勇", "clerk"), ("马丽", "unit_head"), ("钱学军", "unit_head")} <= held
    with pytest.raises(Conflict) as twice:
        roles.grant(engine.db, engine.registry, zhou, u["finance"], p["huangyong"], "clerk", NOW)
    assert "黄勇" in str(twice.value) and "Document clerk" in str(twice.value)
    with pytest.raises(FormInvalid) as typo:
        roles.grant(engine.db, engine.registry, zhou, u["finance"], p["huangyong"], "clrek", NOW)
    assert typo.value.errors["role"].code == "role_unknown"
    with engine.db.write() as s:
        s.execute(update(User).where(User.id == p["mali"]).values(status="removed"))
    with pytest.raises(FormInvalid) as gone:
        roles.grant(engine.db, engine.registry, zhou, u["finance"], p["mali"], "clerk", NOW)
    assert gone.value.errors["person"].code == "field_no_person"
    roles.revoke(engine.db, zhou, u["finance"], p["huangyong"], "clerk", NOW)
    with pytest.raises(Conflict):
        roles.revoke(engine.db, zhou, u["finance"], p["huangyong"], "clerk", NOW)
    with pytest.raises(Forbidden):
        roles.grant(engine.db, engine.registry, p["linxiaoyan"], u["hr"], p["songjia"], "clerk",
                    NOW)  # fmt: skip
    kinds = [(e.kind, e.data["target"]["name"]) for e in admin_events(engine.db)]
    assert kinds == [("role_grant", "黄勇"), ("role_grant", "马丽"), ("role_revoke", "黄勇")]
    assert admin_events(engine.db)[2].data["before"] == {"role": "clerk"}
    with engine.db.read() as s:
        left = s.scalars(
            select(RoleMembership.role).where(RoleMembership.user_id == p["huangyong"])
        )
        assert list(left) == []
    chains_intact(engine.db)
