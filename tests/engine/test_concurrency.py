"""Many people pressing the same button at the same moment, on SQLite (WAL) and on PostgreSQL."""

from __future__ import annotations

import threading
from collections import Counter
from collections.abc import Callable, Iterator
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest
from sqlalchemy import select

from tests.conftest import setup_engine
from workflow.audit import verify_all
from workflow.engine import Engine
from workflow.errors import AlreadyHandled, BanliError, FlowClosed, InvalidAction, WaitingRuleUnmet
from workflow.store.db import Database
from workflow.store.models import AuditEvent

THREADS = 20
CONTRACT = {
    "title": "办公楼空调采购合同",
    "counterparty": "上海申能机电有限公司",
    "amount": "680000",
    "contract_type": "purchase",
    "summary": "采购空调 40 台",
}


class SafeClock:
    """The test clock, one second per reading, safe to read from many threads."""

    def __init__(self) -> None:
        self.now = datetime(2026, 3, 2, 1, 0, tzinfo=UTC)
        self._lock = threading.Lock()

    def __call__(self) -> datetime:
        with self._lock:
            self.now += timedelta(seconds=1)
            return self.now


@pytest.fixture(params=["db", "pg_db"], ids=["sqlite", "postgres"])
def database(request: pytest.FixtureRequest) -> Database:
    """The SQLite file database (WAL) and the PostgreSQL one (skipped unless configured)."""
    db = request.getfixturevalue(request.param)
    if db.dialect == "sqlite":
        with db.engine.connect() as conn:
            assert conn.exec_driver_sql("PRAGMA journal_mode").scalar() == "wal"
    return db


@pytest.fixture
def setup(database: Database) -> Iterator[tuple[Engine, dict[str, int]]]:
    yield setup_engine(database, SafeClock())


def race(*calls: Callable[[], Any]) -> list[Any]:
    """Run the calls in threads released together; each call's result or the exception it raised."""
    barrier = threading.Barrier(len(calls))
    results: list[Any] = [None] * len(calls)

    def run(i: int, call: Callable[[], Any]) -> None:
        barrier.wait()
        try:
            results[i] = call()
        except Exception as exc:  # every outcome is examined by the test
            results[i] = exc

    threads = [threading.Thread(target=run, args=(i, c)) for i, c in enumerate(calls)]
    for t in threads:
        t.start()
    for t in threads:
        t.join(timeout=120)
    assert not any(t.is_alive() for t in threads), "a thread hung"
    unexpected = [r for r in results if isinstance(r, Exception) and not isinstance(r, BanliError)]
    assert not any("database is locked" in str(r) for r in unexpected), unexpected
    assert unexpected == [], [f"{type(r).__name__}: {r}" for r in unexpected]
    return results


def events(db: Database, flow_id: int) -> list[Any]:
    with db.read() as s:
        return list(
            s.scalars(
                select(AuditEvent)
                .where(AuditEvent.chain == f"flow:{flow_id}")
                .order_by(AuditEvent.seq)
            )
        )


def assert_consistent(engine: Engine, flow_id: int) -> Any:
    """A flow no race could have corrupted: one open host item at the current visit if the flow
    is active (none if closed), nothing open at earlier visits, effect times in order, the
    audit chain intact, one 'deliver' event per visit."""
    rec = engine.history(flow_id)
    closed = rec.state in ("ended", "withdrawn")
    for v in rec.visits[:-1]:
        assert v.left_at is not None
        assert [p.item_id for p in v.people if p.status == "open"] == []
    last = rec.visits[-1]
    hosts = [p for p in last.people if p.role == "host" and p.status == "open"]
    if closed:
        assert last.left_at is not None
        assert [p for p in last.people if p.status == "open"] == []
    else:
        assert last.step == rec.state and last.left_at is None
        assert len(hosts) == 1
    assert [v.seq for v in rec.visits] == list(range(1, len(rec.visits) + 1))
    for v in rec.visits:
        for p in v.people:
            times = [t for t in (p.delivered_at, p.confirmed_at, p.handled_at) if t is not None]
            assert times == sorted(times)
            assert (p.status == "done") == (p.handled_at is not None)
    with engine.db.read() as s:
        _checked, broken = verify_all(s)
    assert broken == []
    evs = events(engine.db, flow_id)
    assert rec.audit_seq == len(evs)
    assert sum(e.kind == "deliver" for e in evs) == len(rec.visits)
    return rec


def item(engine: Engine, user_id: int, flow_id: int) -> int:
    (row,) = [r for r in engine.inbox(user_id, limit=500) if r.flow_id == flow_id]
    return row.item_id


# --- the same button, twenty times at once ----------------------------------------------------


def test_twenty_hosts_forwarding_the_same_item_move_the_flow_once(setup) -> None:
    engine, people = setup
    flow = engine.start(people["huangyong"], "contract_review", CONTRACT).flow_id
    head = people["qianxuejun"]
    it = item(engine, head, flow)
    engine.open(head, it)

    results = race(
        *[lambda n=n: engine.forward(head, it, opinion=f"同意 {n}") for n in range(THREADS)]
    )

    ok = [r for r in results if not isinstance(r, Exception)]
    refused = [r for r in results if isinstance(r, Exception)]
    assert len(ok) == 1, results
    assert len(refused) == THREADS - 1
    assert all(type(r) is AlreadyHandled for r in refused), {type(r).__name__ for r in refused}
    assert all("钱学军" in r.message for r in refused), refused[0].message
    assert ok[0].state == "countersign" and len(ok[0].delivered) == 3

    rec = assert_consistent(engine, flow)
    assert rec.state == "countersign" and rec.version == 3
    assert [v.step for v in rec.visits] == ["draft", "dept_review", "countersign"]
    sign = rec.visits[-1]
    assert sorted(p.item_id for p in sign.people) == sorted(ok[0].delivered)
    assert Counter(p.role for p in sign.people) == {"host": 1, "co_signer": 2}
    assert all(p.status == "open" for p in sign.people)
    (handled,) = [p for p in rec.visits[1].people]
    assert handled.status == "done" and handled.opinion == f"同意 {results.index(ok[0])}"
    kinds = [e.kind for e in events(engine.db, flow)]
    assert kinds.count("forward") == 2 and kinds.count("deliver") == 3


def test_twenty_opens_of_the_same_item_confirm_it_once(setup) -> None:
    engine, people = setup
    flow = engine.start(people["huangyong"], "contract_review", CONTRACT).flow_id
    head = people["qianxuejun"]
    it = item(engine, head, flow)
    version = engine.history(flow).version

    results = race(*[lambda: engine.open(head, it) for _ in range(THREADS)])

    assert all(r.flow_id == flow and r.state == "dept_review" for r in results)
    confirms = [e for e in events(engine.db, flow) if e.kind == "confirm"]
    assert len(confirms) == 1 and confirms[0].data["item"] == it
    rec = assert_consistent(engine, flow)
    (part,) = rec.visits[-1].people
    assert part.confirmed_at is not None
    assert part.confirmed_at == confirms[0].at
    assert rec.version == version, "opening is no change of the flow's version"
    engine.open(head, it)
    assert assert_consistent(engine, flow).visits[-1].people[0].confirmed_at == part.confirmed_at


def test_twenty_flows_forwarded_at_once_share_one_machine(setup) -> None:
    """Different flows of one definition, each moved at the same moment by its own host."""
    engine, people = setup
    starters = ["huangyong", "gaofeng", "caoyang", "songjia", "pengtao"]
    flows = [
        engine.start(people[starters[n % 5]], "contract_review", {**CONTRACT, "title": f"合同 {n}"})
        for n in range(THREADS)
    ]
    hosts = []
    for out in flows:
        (it,) = out.delivered
        rec = engine.history(out.flow_id)
        hosts.append((rec.visits[-1].people[0].user_id, it))

    results = race(*[lambda u=u, i=i: engine.forward(u, i) for u, i in hosts])

    assert [type(r).__name__ for r in results] == ["Outcome"] * THREADS
    for out in flows:
        rec = assert_consistent(engine, out.flow_id)
        assert rec.state == "countersign"
        assert [v.step for v in rec.visits] == ["draft", "dept_review", "countersign"]
    (compiled,) = engine.registry._compiled.values()
    assert compiled.machine.models == []


# --- two people, one flow -------------------------------------------------------------------


def _at_countersign(engine: Engine, people: dict[str, int], n: int) -> tuple[int, dict[str, int]]:
    flow = engine.start(people["huangyong"], "contract_review", {**CONTRACT, "title": f"合同 {n}"})
    engine.forward(people["qianxuejun"], item(engine, people["qianxuejun"], flow.flow_id))
    items = {
        login: item(engine, people[login], flow.flow_id)
        for login in ("liming", "yangfan", "linxiaoyan")
    }
    return flow.flow_id, items


ROUNDS = 6


def test_last_countersign_and_forward_at_once(setup) -> None:
    """The host forwards while the last co-signer signs: the forward goes through only if the
    signature came first; the signature always counts."""
    engine, people = setup
    forwarded = 0
    for n in range(ROUNDS):
        flow, items = _at_countersign(engine, people, n)
        engine.sign(people["linxiaoyan"], items["linxiaoyan"], decision="approve")
        signed, moved = race(
            lambda it=items: engine.sign(people["yangfan"], it["yangfan"], decision="approve"),
            lambda it=items: engine.forward(
                people["liming"], it["liming"], host=people["chenzhiqiang"]
            ),
        )
        assert not isinstance(signed, Exception), signed
        rec = assert_consistent(engine, flow)
        sign_visit = next(v for v in rec.visits if v.step == "countersign")
        assert all(p.status == "done" for p in sign_visit.people if p.role == "co_signer")
        if isinstance(moved, Exception):
            assert isinstance(moved, WaitingRuleUnmet), moved
            assert rec.state == "countersign"
            engine.forward(people["liming"], items["liming"], host=people["chenzhiqiang"])
        else:
            forwarded += 1
            kinds = [e.kind for e in events(engine.db, flow)]
            assert kinds[-4:] == ["sign", "sign", "forward", "deliver"]
        rec = assert_consistent(engine, flow)
        assert rec.state == "leader_review" and len(rec.visits) == 4
    print(f"forward after the last signature: {forwarded} of {ROUNDS}")


def test_veto_and_return_at_once(setup) -> None:
    """A co-signer vetoes while the host returns the flow: whichever comes second either finds
    the step gone (the veto) or proceeds (the return does not wait for co-signers)."""
    engine, people = setup
    first = Counter()
    for n in range(ROUNDS):
        flow, items = _at_countersign(engine, people, n)
        vetoed, returned = race(
            lambda it=items: engine.sign(people["yangfan"], it["yangfan"], decision="reject"),
            lambda it=items: engine.return_(people["liming"], it["liming"], opinion="退回"),
        )
        assert not isinstance(returned, Exception), returned
        rec = assert_consistent(engine, flow)
        assert rec.state == "dept_review" and len(rec.visits) == 4
        legal = next(p for p in rec.visits[2].people if p.user_id == people["yangfan"])
        if isinstance(vetoed, Exception):
            assert isinstance(vetoed, AlreadyHandled), vetoed
            assert "李明" in vetoed.message
            assert legal.status == "cancelled" and legal.handled_at is None
            first["return"] += 1
        else:
            assert legal.status == "done" and rec.visits[2].rejected
            first["veto"] += 1
        finance = next(p for p in rec.visits[2].people if p.user_id == people["linxiaoyan"])
        assert finance.status == "cancelled"
    print(f"first of {ROUNDS}: {dict(first)}")


def test_countersign_and_withdraw_at_once(setup) -> None:
    """The initiator withdraws while a co-signer signs: one of the two wins, cleanly."""
    engine, people = setup
    first = Counter()
    for n in range(ROUNDS):
        flow, items = _at_countersign(engine, people, n)
        signed, withdrawn = race(
            lambda it=items: engine.sign(people["yangfan"], it["yangfan"], decision="approve"),
            lambda f=flow: engine.withdraw(people["huangyong"], f, reason="不签了"),
        )
        rec = assert_consistent(engine, flow)
        if isinstance(withdrawn, Exception):
            assert isinstance(withdrawn, InvalidAction), withdrawn
            assert "杨帆" in withdrawn.message
            assert not isinstance(signed, Exception), signed
            assert rec.state == "countersign"
            first["sign"] += 1
        else:
            assert isinstance(signed, FlowClosed), signed
            assert rec.state == "withdrawn"
            assert all(p.status == "cancelled" for p in rec.visits[-1].people)
            first["withdraw"] += 1
    print(f"first of {ROUNDS}: {dict(first)}")
