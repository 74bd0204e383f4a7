"""The access rules as a table over the demo organisation: who may see or do what (workflow/access.py).

Each row is (person, question) → answer: ``yes``, ``no`` (403, ``Forbidden``) or ``hidden``
(404, ``Hidden``: the same as for something that does not exist). This table is the spec the
doors (web pages, CLI, the JSON API to come) build on: they ask the engine, never decide.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator
from dataclasses import dataclass
from itertools import count

import pytest
from sqlalchemy import insert, select, update

from tests.conftest import Clock, setup_engine
from tests.engine.test_contract_review import CONTRACT
from workflow import access, jobs, messages, signin
from workflow.engine import Engine
from workflow.errors import Forbidden, Hidden
from workflow.store.db import Database
from workflow.store.models import Job, Unit, User, WorkItem

ITEMS = WorkItem.__table__

# The demo's people by the part they play in the running contract review (at countersign).
PEOPLE = {
    "initiator": "huangyong",  # started the contract review
    "host": "liming",  # hosts the countersign step; also sent the message
    "handler": "wujing",  # a handler's item, written by hand (the verb comes with its issue)
    "co-signer": "yangfan",  # legal, countersigning
    "reader": "songjia",  # a circulated copy, written by hand (the circulate verb comes later)
    "recipient": "wangfang",  # received the message
    "stranger": "gaofeng",  # no part in anything
    "administrator": "zhouwei",  # role admin, active
}


@dataclass
class World:
    engine: Engine
    people: dict[str, int]
    flow_id: int  # the running contract review
    closed_id: int  # a contract review its initiator withdrew
    host_item: int
    message_id: int

    def who(self, part: str) -> int:
        return self.people[PEOPLE[part]]


@pytest.fixture(scope="module")
def world(tmp_path_factory) -> Iterator[World]:
    db = Database(f"sqlite:///{tmp_path_factory.mktemp('access') / 'banli.db'}")
    engine, people = setup_engine(db, Clock())
    flow = engine.start(people["huangyong"], "contract_review", CONTRACT)
    (dept,) = [r.item_id for r in engine.inbox(people["qianxuejun"]) if r.flow_id == flow.flow_id]
    engine.forward(people["qianxuejun"], dept, opinion="同意送会签")
    record = engine.history(flow.flow_id)
    visit = record.visits[-1]
    (host_item,) = [p.item_id for p in visit.people if p.role == "host"]
    with db.write() as s:
        visit_id = s.scalar(
            ITEMS.select().with_only_columns(ITEMS.c.visit_id).where(ITEMS.c.id == host_item)
        )
        for login, role in (("wujing", "handler"), ("songjia", "reader")):
            s.execute(insert(ITEMS).values(flow_id=flow.flow_id, visit_id=visit_id,
                                           user_id=people[login], role=role, status="open",
                                           delivered_at=engine.clock()))  # fmt: skip
    closed = engine.start(people["huangyong"], "contract_review", {**CONTRACT, "title": "撤回的"})
    engine.withdraw(people["huangyong"], closed.flow_id, reason="重拟")
    sent = messages.send(engine, people["liming"], subject="会议通知", body="周一开会",
                         to_users=[people["wangfang"]])  # fmt: skip
    yield World(engine, people, flow.flow_id, closed.flow_id, host_item, sent.flow_id)
    db.dispose()


_keys = count(1)


def _dead_job(w: World) -> int:
    with w.engine.db.write() as s:
        key = f"access-{next(_keys)}"
        jobs.enqueue(s, "noop", key, {}, w.engine.clock())
        s.execute(update(Job).where(Job.key == key).values(status="dead"))
        return s.scalar(Job.__table__.select().with_only_columns(Job.id).where(Job.key == key))


def _locked_login(w: World) -> str:
    login = f"nobody{next(_keys)}"
    signin.sign_in(w.engine.db, login, "wrong", None, None, w.engine.clock())
    return login


QUESTIONS: dict[str, Callable[[World, int], object]] = {
    "see the flow": lambda w, u: w.engine.visible(u, flow_id=w.flow_id),
    "see the host's work item": lambda w, u: w.engine.visible(u, item_id=w.host_item),
    "open the flow's record": lambda w, u: w.engine.history(w.flow_id, viewer_id=u),
    # an attachment is served only after the flow it belongs to is asked for (web/visibility.py)
    "download an attachment": lambda w, u: w.engine.visible(u, flow_id=w.flow_id),
    "see the message": lambda w, u: messages.view(w.engine, u, w.message_id),
    "see the message's receipts": lambda w, u: messages.receipts(w.engine, u, w.message_id),
    "print the running flow's sheet": lambda w, u: w.engine.printable(u, w.flow_id),
    "print the closed flow's sheet": lambda w, u: w.engine.printable(u, w.closed_id),
    "retry a dead job": lambda w, u: jobs.retry(w.engine.db, _dead_job(w), u, w.engine.clock()),
    "lift a sign-in lock": lambda w, u: signin.lift(
        w.engine.db, signin.ACCOUNT, _locked_login(w), u, w.engine.clock()
    ),
}

PARTS = list(PEOPLE)
Y, N, H = "yes", "no", "hidden"
# One row per question, one column per part, in PEOPLE's order:
#        initiator host handler co-signer reader recipient stranger administrator
TABLE = {
    "see the flow": [Y, Y, Y, Y, Y, H, H, Y],
    "see the host's work item": [Y, Y, Y, Y, Y, H, H, Y],
    "open the flow's record": [Y, Y, Y, Y, Y, H, H, Y],
    "download an attachment": [Y, Y, Y, Y, Y, H, H, Y],
    "see the message": [H, Y, H, H, H, Y, H, Y],
    "see the message's receipts": [H, Y, H, H, H, N, H, Y],
    "print the running flow's sheet": [N, N, N, N, N, H, H, Y],
    "print the closed flow's sheet": [Y, H, H, H, H, H, H, Y],
    "retry a dead job": [N, N, N, N, N, N, N, Y],
    "lift a sign-in lock": [N, N, N, N, N, N, N, Y],
}
CASES = [(q, part, TABLE[q][i]) for q in QUESTIONS for i, part in enumerate(PARTS)]


def answer(w: World, question: str, user_id: int) -> str:
    try:
        QUESTIONS[question](w, user_id)
    except Hidden:
        return H
    except Forbidden:
        return N
    return Y


@pytest.mark.parametrize(("question", "part", "expected"), CASES,
                         ids=[f"{p}: {q}" for q, p, _ in CASES])  # fmt: skip
def test_the_access_table(world: World, question: str, part: str, expected: str) -> None:
    assert answer(world, question, world.who(part)) == expected


@pytest.mark.parametrize("part", PARTS)
def test_only_the_administrator_is_one(world: World, part: str) -> None:
    assert world.engine.is_admin(world.who(part)) is (part == "administrator")


def test_the_flow_page_offers_the_sheet_exactly_to_those_who_may_print_it(world: World) -> None:
    for flow_id, question in ((world.flow_id, "print the running flow's sheet"),
                              (world.closed_id, "print the closed flow's sheet")):  # fmt: skip
        record = world.engine.history(flow_id)
        for i, part in enumerate(PARTS):
            if TABLE[question][i] != H:
                offered = world.engine.may_print_sheet(world.who(part), record)
                assert offered is (TABLE[question][i] == Y), (question, part)


def test_an_administrator_no_longer_active_is_no_administrator(world: World) -> None:
    admin = world.who("administrator")
    with world.engine.db.write() as s:
        s.execute(update(User).where(User.id == admin).values(status="inactive"))
    try:
        assert not world.engine.is_admin(admin)
        assert answer(world, "see the flow", admin) == H
        assert answer(world, "retry a dead job", admin) == N
        with pytest.raises(Forbidden, match="only an active administrator may lift a sign-in lock"):
            QUESTIONS["lift a sign-in lock"](world, admin)
    finally:
        with world.engine.db.write() as s:
            s.execute(update(User).where(User.id == admin).values(status="active"))


def test_a_person_named_by_login_says_whether_they_administer(world: World) -> None:
    zhou, wang = world.engine.person("zhouwei"), world.engine.person("wangfang")
    assert (zhou.name, zhou.admin) == ("周伟", True)
    assert (wang.name, wang.admin) == ("王芳", False)
    assert world.engine.person("nobody-at-all") is None


def test_the_sheet_rule_in_words() -> None:
    assert access.sheet_refusal(True, 1, 2, "countersign") is None
    assert access.sheet_refusal(False, 1, 2, "ended") == access.NOT_PRINTER
    assert access.sheet_refusal(False, 1, 1, "countersign") == access.NOT_CLOSED
    assert access.sheet_refusal(False, 1, 1, "withdrawn") is None


# --- administrators and their scopes (Art. 29-31) ----------------------------------------------


def test_the_main_administrator_holds_every_capability_everywhere(world: World) -> None:
    scope = world.engine.admin_scope(world.who("administrator"))
    assert scope.main and scope.capabilities == set(access.CAPABILITIES)
    assert scope.units_for("people") is None and scope.covers("jobs", 12345)


def test_a_sub_administrator_covers_only_the_subtrees_granted(world: World) -> None:
    e = world.engine
    with e.db.read() as s:
        units = dict(s.execute(select(Unit.code, Unit.id)).all())
    hr = e.admin_scope(e.person("fenglei").id)
    finance = e.admin_scope(e.person("linxiaoyan").id)
    assert not hr.main and hr.capabilities == {"people", "stats"}
    assert hr.units_for("people") == set(units.values())  # the whole company, hq's subtree
    assert finance.units_for("people") == {units["finance"]}
    assert finance.covers("people", units["finance"]) and not finance.covers("people", units["hr"])
    assert not finance.covers("jobs") and not e.is_admin(e.person("linxiaoyan").id)
    with e.db.read() as s, pytest.raises(Forbidden) as refused:
        access.require_capability(s.connection(), finance.user_id, "people", units["hr"])
    assert refused.value.code == "admin_unit_out_of_scope"
    assert str(refused.value) == "林晓燕 may not administer people and units in 人力资源部"
    with e.db.read() as s, pytest.raises(Forbidden, match="may not administer system jobs"):
        access.require_capability(s.connection(), finance.user_id, "jobs")
    assert e.admin_scope(e.person("wangfang").id).capabilities == set()


def test_sign_in_locks_are_lifted_only_with_people_over_the_whole_company(world: World) -> None:
    e = world.engine
    hr, finance = e.admin_scope(e.person("fenglei").id), e.admin_scope(e.person("linxiaoyan").id)
    assert hr.company_wide("people") and not finance.company_wide("people")
    with e.db.read() as s:
        assert access.require_admin(s.connection(), hr.user_id, "unlock") == "冯磊"
        with pytest.raises(Forbidden, match="lift a sign-in lock; 林晓燕"):
            access.require_admin(s.connection(), finance.user_id, "unlock")
