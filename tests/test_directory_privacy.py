"""Mobile privacy (Art. 5, 21): who sees a hidden number, and the administrator's switch — its
scope, its refusals and its event on the admin chain."""

from __future__ import annotations

from datetime import UTC, datetime

import pytest
from sqlalchemy import insert, select, update

from workflow.audit import verify_all
from workflow.errors import Forbidden, FormInvalid, NotFound
from workflow.org import directory, privacy, ratelimit
from workflow.org.names import name_keys
from workflow.store.models import AuditEvent, Unit, User

NOW = datetime(2026, 3, 2, 2, 0, tzinfo=UTC)
FREE = ratelimit.Rate(0)
LEADER_MOBILE = "13801710001"


def unit_id(engine, code: str) -> int:
    with engine.db.read() as s:
        return s.scalar(select(Unit.id).where(Unit.code == code))


@pytest.fixture
def hidden(engine, people):
    """张建国 (公司领导) hidden from all but 办公室 (and the units below it), by the main admin;
    a team 收发室 under 办公室 with one person, 小刘."""
    with engine.db.write() as s:
        office = s.scalar(select(Unit.id).where(Unit.code == "office"))
        team = s.execute(insert(Unit).values(code="mailroom", name="收发室", kind="department",
                                             parent_id=office)).inserted_primary_key[0]  # fmt: skip
        pinyin, initials = name_keys("刘小")
        s.execute(insert(User).values(login="liuxiao", name="刘小", unit_id=team, status="active",
                                      pinyin=pinyin, initials=initials))  # fmt: skip
        people["liuxiao"] = s.scalar(select(User.id).where(User.login == "liuxiao"))
    done = privacy.set_privacy(engine.db, people["zhouwei"], people["zhangjianguo"], hidden=True,
                               viewer_ids=[unit_id(engine, "office")], at=NOW)  # fmt: skip
    assert done.changed and done.hidden
    return people["zhangjianguo"]


def mobile_seen_by(engine, people, who: str, leader: int) -> str | None:
    return directory.person(engine.db, people[who], leader, NOW, FREE).mobile


@pytest.mark.parametrize(
    ("who", "sees"),
    [
        ("zhangjianguo", True),  # the person themself
        ("chenzhiqiang", False),  # the same unit, not chosen
        ("wangfang", True),  # a chosen unit
        ("liuxiao", True),  # a unit below a chosen one
        ("huangyong", False),  # outside
        ("zhouwei", True),  # the main administrator (also in 办公室: see the next test)
        ("fenglei", True),  # people over the whole company
        ("linxiaoyan", False),  # people over 财务部 only: not over 公司领导
    ],
)
def test_who_sees_a_hidden_mobile(engine, people, hidden, who, sees):
    seen = mobile_seen_by(engine, people, who, hidden)
    assert seen == (LEADER_MOBILE if sees else None)
    card = directory.person(engine.db, people[who], hidden, NOW, FREE)
    assert card.mobile_hidden is (not sees)
    row = next(c for c in directory.search(engine.db, people[who], "zjg", NOW, FREE).cards)
    assert row.mobile == seen  # the same rule in a search result
    assert (LEADER_MOBILE in repr(card.as_json())) is sees  # the JSON door: absent, not blanked


def test_the_main_administrator_sees_it_from_anywhere(engine, people, hidden):
    with engine.db.write() as s:  # zhouwei moves out of 办公室
        s.execute(update(User).where(User.id == people["zhouwei"])
                  .values(unit_id=unit_id(engine, "south")))  # fmt: skip
    assert mobile_seen_by(engine, people, "zhouwei", hidden) == LEADER_MOBILE


def test_nobody_outside_finds_the_person_by_the_hidden_number(engine, people, hidden):
    outside = directory.search(engine.db, people["huangyong"], LEADER_MOBILE, NOW, FREE)
    assert outside.cards == ()
    inside = directory.search(engine.db, people["wangfang"], LEADER_MOBILE, NOW, FREE)
    assert [c.name for c in inside.cards] == ["张建国"]


def test_the_switch_is_one_event_on_the_admin_chain_with_before_and_after(engine, people, hidden):
    with engine.db.read() as s:
        events = s.scalars(select(AuditEvent).where(AuditEvent.kind == "mobile_privacy")).all()
        assert len(events) == 1
        data = events[0].data
        assert events[0].actor_name == "周伟"
        assert data["target"] == {
            "user": hidden,
            "name": "张建国",
            "unit": unit_id(engine, "leaders"),
        }
        assert data["before"] == {"hidden": False, "viewers": []}
        assert data["after"] == {"hidden": True,
                                 "viewers": [{"unit": unit_id(engine, "office"), "name": "办公室"}]}  # fmt: skip
        assert data["scope"] == {"main": True}
        assert verify_all(s)[1] == []
    # the same values again change nothing and record nothing
    again = privacy.set_privacy(engine.db, people["fenglei"], hidden, hidden=True,
                                viewer_ids=[unit_id(engine, "office")], at=NOW)  # fmt: skip
    assert again.changed is False
    shown = privacy.set_privacy(engine.db, people["fenglei"], hidden, hidden=False,
                                viewer_ids=[unit_id(engine, "office")], at=NOW)  # fmt: skip
    assert shown.changed and not shown.hidden
    assert mobile_seen_by(engine, people, "huangyong", hidden) == LEADER_MOBILE
    with engine.db.read() as s:
        kinds = s.scalars(select(AuditEvent.kind).where(AuditEvent.chain == "admin")).all()
        assert kinds.count("mobile_privacy") == 2
        assert verify_all(s)[1] == []
    # the chosen units were kept: hiding it again restores them
    assert [u.code for u in privacy.privacy_of(engine.db, people["fenglei"], hidden).viewers] == [
        "office"
    ]


def test_only_people_administrators_of_the_persons_unit_may_switch_it(engine, people):
    for who in ("linxiaoyan", "wangfang"):
        with pytest.raises(Forbidden):
            privacy.set_privacy(engine.db, people[who], people["zhangjianguo"], hidden=True,
                                viewer_ids=[], at=NOW)  # fmt: skip
        with pytest.raises(Forbidden):
            privacy.privacy_of(engine.db, people[who], people["zhangjianguo"])
    done = privacy.set_privacy(engine.db, people["linxiaoyan"], people["huangyong"], hidden=True,
                               viewer_ids=[], at=NOW)  # fmt: skip
    assert done.hidden and done.viewers == ()
    assert mobile_seen_by(engine, people, "mali", people["huangyong"]) is None  # same unit
    assert mobile_seen_by(engine, people, "huangyong", people["huangyong"]) is not None
    assert privacy.administers(engine.db, people["linxiaoyan"], people["huangyong"])
    assert not privacy.administers(engine.db, people["linxiaoyan"], people["zhangjianguo"])


def test_an_unknown_or_closed_unit_is_refused_by_the_field_and_nothing_changes(engine, people):
    with engine.db.write() as s:
        s.execute(update(Unit).where(Unit.code == "legal").values(closed_at=NOW))
    for bad in ([999_999], [unit_id(engine, "legal")]):
        with pytest.raises(FormInvalid) as refused:
            privacy.set_privacy(engine.db, people["zhouwei"], people["zhangjianguo"], hidden=True,
                                viewer_ids=bad, at=NOW)  # fmt: skip
        assert set(refused.value.errors) == {"viewers"}
    assert privacy.privacy_of(engine.db, people["zhouwei"], people["zhangjianguo"]).hidden is False
    with pytest.raises(FormInvalid):
        privacy.units_by_code(engine.db, ["office", "nowhere"])
    assert privacy.units_by_code(engine.db, ["office"]) == [unit_id(engine, "office")]


def test_a_removed_person_has_no_privacy_page(engine, people):
    with engine.db.write() as s:
        s.execute(update(User).where(User.id == people["heting"]).values(status="removed"))
    with pytest.raises(NotFound):
        privacy.privacy_of(engine.db, people["zhouwei"], people["heting"])
    with pytest.raises(NotFound):
        privacy.privacy_of(engine.db, people["zhouwei"], 999_999)


def test_search_and_privacy_on_postgresql(pg_db):
    from tests.conftest import setup_engine

    engine, people = setup_engine(pg_db)
    office = unit_id(engine, "office")
    privacy.set_privacy(engine.db, people["zhouwei"], people["zhangjianguo"], hidden=True,
                        viewer_ids=[office], at=NOW)  # fmt: skip
    for query, found in (("wf", ["王芳"]), ("王", ["王芳"]), ("zjg", ["张建国"]),
                         ("1380171", ["陈志强", "刘海涛"])):  # fmt: skip
        got = directory.search(engine.db, people["huangyong"], query, NOW, FREE)
        assert [c.name for c in got.cards] == found, query
    outside = directory.search(engine.db, people["huangyong"], "zjg", NOW, FREE).cards[0]
    inside = directory.search(engine.db, people["wangfang"], "zjg", NOW, FREE).cards[0]
    assert (outside.mobile, inside.mobile) == (None, LEADER_MOBILE)
    with engine.db.read() as s:
        assert verify_all(s)[1] == []
