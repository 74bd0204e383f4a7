"""Removal races, on SQLite (WAL) and PostgreSQL: the leaver's last click against their removal,
and two administrators removing the same person at once."""

from __future__ import annotations

import inspect

import pytest

from tests.engine import test_leavers
from tests.engine.test_concurrency import SafeClock, database, race  # noqa: F401 (fixture)
from tests.engine.test_incoming_document import to_instruct
from workflow.errors import Conflict, NotFound
from workflow.integrity import verify_trail
from workflow.org import leavers

LEAVERS = ("gaofeng", "luobin", "liangxue", "caoyang", "tanghao")


@pytest.fixture
def setup(database):  # noqa: F811
    from tests.conftest import setup_engine

    return setup_engine(database, SafeClock())


def _item_of(engine, people):
    def find(login, flow_id):
        (row,) = [r for r in engine.inbox(people[login]) if r.flow_id == flow_id]
        return row.item_id

    return find


def hosting(engine, people, login):
    """A flow at 承办 with ``login`` its host; (flow id, their item id)."""
    item_of = _item_of(engine, people)
    fid = to_instruct(engine, people, item_of)
    engine.forward(people["liuhaitao"], item_of("liuhaitao", fid), host=people[login], handlers=[])
    return fid, item_of(login, fid)


def parts(engine, fid):
    return [(p.name, p.status, p.action) for p in engine.history(fid).visits[-1].people]


def test_the_leavers_last_click_lands_first_or_is_refused_never_both(setup):
    engine, people = setup
    outcomes = set()
    for login in LEAVERS:
        fid, item = hosting(engine, people, login)
        ended, removed = race(
            lambda who=login, it=item: engine.end(people[who], it, opinion="办结"),
            lambda who=login: leavers.remove(
                engine, people["fenglei"], people[who], people["wujing"], at=engine.clock()
            ),
        )
        assert not isinstance(removed, Exception), removed
        shown = parts(engine, fid)
        name = shown[0][0]
        if isinstance(ended, Exception):
            # the removal came first: the click is refused, the item went to the successor
            assert isinstance(ended, NotFound) and ended.code == "actor_not_active"
            assert [h.old_item for h in removed.handed] == [item]
            assert shown == [(name, "cancelled", "reassign"), ("吴静", "open", None)]
            outcomes.add("refused")
        else:
            # the click came first: it is kept, and the item was no longer open to reassign
            assert ended.state == "ended" and removed.handed == []
            assert shown == [(name, "done", "end")]
            outcomes.add("landed")
        report = verify_trail(engine.db)
        assert report.broken == [] and report.mismatches == []
    # both orders, deterministically, besides whatever order the threads took
    for first in ("click", "removal"):
        login = {"click": "xiejun", "removal": "hanmei"}[first]
        fid, item = hosting(engine, people, login)
        calls = [
            lambda who=login, it=item: engine.end(people[who], it),
            lambda who=login: leavers.remove(
                engine, people["fenglei"], people[who], people["wujing"], at=engine.clock()
            ),
        ]
        if first == "removal":
            calls.reverse()
        results = []
        for call in calls:
            try:
                results.append(call())
            except NotFound as exc:
                results.append(exc)
        done = [s for _, s, _ in parts(engine, fid)]
        assert done == (["done"] if first == "click" else ["cancelled", "open"])
    report = verify_trail(engine.db)
    assert report.broken == [] and report.mismatches == []


def test_two_administrators_remove_the_same_person_at_once(setup):
    engine, people = setup
    hosting(engine, people, "gaofeng")
    results = race(
        lambda: leavers.remove(engine, people["fenglei"], people["gaofeng"], people["luobin"],
                               at=engine.clock()),
        lambda: leavers.remove(engine, people["zhouwei"], people["gaofeng"], people["luobin"],
                               at=engine.clock()),
    )  # fmt: skip
    won = [r for r in results if not isinstance(r, Exception)]
    lost = [r for r in results if isinstance(r, Exception)]
    assert len(won) == 1 and len(lost) == 1
    assert isinstance(lost[0], Conflict) and lost[0].code == "person_already_removed"
    assert lost[0].params["by"] == won[0].person.removed_by
    assert len(won[0].handed) == 1
    assert len(engine.inbox(people["luobin"])) == 1
    report = verify_trail(engine.db)
    assert report.broken == [] and report.mismatches == []


@pytest.mark.parametrize(
    "case",
    [
        test_leavers.test_removing_a_leaver_hands_every_open_item_to_the_successor,
        test_leavers.test_a_handler_successor_who_already_holds_the_part_keeps_one_item,
        test_leavers.test_moving_a_person_keeps_their_items_unless_ticked,
        test_leavers.test_tampering_with_a_reassignment_is_found,
    ],
    ids=["remove", "kept", "move", "tamper"],
)
def test_the_engine_cases_on_both_databases(setup, case):
    engine, people = setup
    given = {"engine": engine, "people": people, "item_of": _item_of(engine, people),
             "clock": engine.clock}  # fmt: skip
    case(**{name: given[name] for name in inspect.signature(case).parameters})
