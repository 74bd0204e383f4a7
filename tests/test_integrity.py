"""What is shown is what the chain says: flows built through the engine replay to their rows, and
each change made behind the engine's back with plain SQL is named by flow, row, field and event."""

from __future__ import annotations

import shutil
from collections.abc import Callable, Iterator
from datetime import timedelta
from pathlib import Path
from typing import Any

import pytest
from click.testing import CliRunner
from sqlalchemy import Connection, delete, insert, select, text, update

from tests.conftest import Clock, setup_engine
from tests.engine.test_incoming_document import DOCUMENT
from tests.engine.test_timeouts import TIMED
from tests.test_audit import CONTRACT, drive
from workflow import messages as m
from workflow.audit import GENESIS, event_hash, verify_all
from workflow.cli import main
from workflow.engine import Engine
from workflow.engine.registry import store_definition
from workflow.engine.timeouts import register
from workflow.integrity import Mismatch, check_all, check_flow, snapshot
from workflow.jobs import Worker
from workflow.store.db import Database
from workflow.store.models import AuditEvent, Ding, Flow, Visit, WorkItem
from workflow.urge import urge

FLOWS, VISITS, ITEMS = Flow.__table__, Visit.__table__, WorkItem.__table__
DINGS, EVENTS = Ding.__table__, AuditEvent.__table__


# --- the flows -----------------------------------------------------------------------------------


def _item(engine: Engine, login: str, fid: int, people: dict[str, int]) -> int:
    """That person's open work item in that flow (approval or message)."""
    with engine.db.read() as s:
        return s.scalars(
            select(ITEMS.c.id).where(ITEMS.c.flow_id == fid, ITEMS.c.user_id == people[login],
                                     ITEMS.c.status == "open")
        ).one()  # fmt: skip


def _ding_to(engine: Engine, fid: int, user: int) -> int:
    with engine.db.read() as s:
        return s.scalars(
            select(DINGS.c.id).where(DINGS.c.flow_id == fid, DINGS.c.user_id == user)
        ).one()


def build(db: Database) -> dict[str, Any]:
    """A contract review with an urge, a veto, a return and a countersign to the end; a message
    delivered, read, replied to, DINGed (one delivered and confirmed, one failed), deleted; a
    revoked message; timeouts that forward, end and escalate; a withdrawn flow; a draft."""
    clock = Clock()
    engine, p = setup_engine(db, clock)
    it: dict[str, Any] = {}

    def item(login: str, fid: int) -> int:
        return _item(engine, login, fid, p)

    # the contract review
    fid = it["contract"] = engine.start(p["huangyong"], "contract_review", CONTRACT,
                                        opinion="请审核").flow_id  # fmt: skip
    it["dept"] = item("qianxuejun", fid)
    engine.open(p["qianxuejun"], it["dept"])
    engine.forward(p["qianxuejun"], it["dept"], opinion="同意送会签")
    it["legal"], it["finance"] = item("yangfan", fid), item("linxiaoyan", fid)
    clock.advance(days=1)
    urge(engine, p["liming"], it["legal"], note="请今天处理")
    it["urge_ding"] = _ding_to(engine, fid, p["yangfan"])
    m.ding_delivered(engine, it["urge_ding"], "sms")
    m.confirm_ding(engine, p["yangfan"], it["legal"])
    engine.sign(p["yangfan"], it["legal"], decision="reject", opinion="违约条款不可接受")
    engine.return_(p["liming"], item("liming", fid), opinion="请修改违约条款")
    engine.forward(p["qianxuejun"], item("qianxuejun", fid), opinion="已修改")
    it["finance2"] = item("linxiaoyan", fid)
    engine.open(p["linxiaoyan"], it["finance2"])
    engine.sign(p["linxiaoyan"], it["finance2"], opinion="预算已落实")
    engine.sign(p["yangfan"], item("yangfan", fid), opinion="条款合规")
    engine.forward(p["liming"], item("liming", fid), host=p["chenzhiqiang"], opinion="同意")
    it["leader"] = item("chenzhiqiang", fid)
    drive(engine, fid)

    # a message: delivered, read, replied to, DINGed, one DING failed, deleted, unsent by its sender
    msg = it["message"] = m.send(
        engine, p["huangyong"], subject="周五例会", body="请准时参加",
        to_users=[p["wangfang"], p["zhaomin"], p["liming"]],
    ).flow_id  # fmt: skip
    wang = item("wangfang", msg)
    m.mark_delivered(engine, p["wangfang"])
    m.read(engine, p["wangfang"], wang)
    it["reply"] = m.reply(engine, p["wangfang"], wang, body="收到").flow_id
    m.ding(engine, p["huangyong"], msg)
    it["ding_ok"], it["ding_failed"] = (
        _ding_to(engine, msg, p["zhaomin"]),
        _ding_to(engine, msg, p["liming"]),
    )
    m.ding_delivered(engine, it["ding_ok"], "sms")
    m.ding_failed(engine, it["ding_failed"], "号码无效")
    m.confirm_ding(engine, p["zhaomin"], item("zhaomin", msg))
    m.delete(engine, p["liming"], item("liming", msg))
    m.delete_sent(engine, p["huangyong"], msg)
    revoked = m.send(engine, p["huangyong"], subject="撤回的消息", to_users=[p["wangfang"]])
    m.revoke(engine, p["huangyong"], revoked.flow_id)

    # timeouts, done by the worker as the system
    with engine.db.write() as s:
        store_definition(s, TIMED, engine.clock())
    timed = {
        route: engine.start(p["huangyong"], "timed_review", {"title": "差旅费报销复核", "route": route})
        .flow_id
        for route in ("forward", "end", "escalate")
    }  # fmt: skip
    worker = Worker(engine.db, worker_id="integrity")
    register(worker, engine)
    worker.handler("deliver")(lambda job: None)  # the SMS themselves are not this test's business
    clock.advance(days=10)
    worker.run_once(now=clock.now)
    engine.end(p["qianxuejun"], item("qianxuejun", timed["escalate"]), opinion="同意")
    it["timed"] = timed

    # an incoming document handled by two handlers (finish), one of them after the host ended
    doc = engine.start(p["wangfang"], "incoming_document", DOCUMENT, opinion="已登记").flow_id
    engine.forward(p["liming"], item("liming", doc), host=p["liuhaitao"], opinion="拟请刘总批示")
    engine.forward(p["liuhaitao"], item("liuhaitao", doc), host=p["huzhigang"],
                   handlers=[p["gaofeng"], p["luobin"]], opinion="请落实")  # fmt: skip
    engine.finish(p["gaofeng"], item("gaofeng", doc), opinion="已完成现场检查")
    engine.end(p["huzhigang"], item("huzhigang", doc), outcome="rejected", opinion="另行处理")

    # withdrawn, and a draft
    gone = engine.start(p["caoyang"], "archive_use", {"archive_name": "2019 年度会计凭证",
                                                       "purpose": "borrow", "reason": "审计"})  # fmt: skip
    engine.withdraw(p["caoyang"], gone.flow_id, reason="填错了")
    engine.start(p["gaofeng"], "seal_usage", {"title": "租赁合同用印", "seal": "company",
                                             "copies": 2, "purpose": "签约"}, submit=False)  # fmt: skip
    it["people"] = p
    return it


@pytest.fixture(scope="module")
def template(tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, dict[str, Any]]:
    path = tmp_path_factory.mktemp("integrity") / "template.db"
    db = Database(f"sqlite:///{path}")
    built = build(db)
    db.dispose()
    return path, built


@pytest.fixture
def copy(template: tuple[Path, dict[str, Any]], tmp_path: Path) -> Iterator[tuple[Database, dict]]:
    path, built = template
    shutil.copyfile(path, tmp_path / "banli.db")
    db = Database(f"sqlite:///{tmp_path / 'banli.db'}")
    yield db, built
    db.dispose()


def _all(db: Database) -> tuple[int, list[Mismatch]]:
    with db.read() as s:
        snapshot(s)
        return check_all(s)


# --- what the events say, read without the replay ------------------------------------------------


def _seq(c: Connection, fid: int, kind: str, pick: Callable[[dict], bool]) -> int:
    rows = c.execute(
        select(EVENTS.c.seq, EVENTS.c.data).where(EVENTS.c.chain == f"flow:{fid}",
                                                  EVENTS.c.kind == kind).order_by(EVENTS.c.seq)
    ).all()  # fmt: skip
    found = [r.seq for r in rows if pick(r.data)]
    assert found, f"no {kind} event in flow {fid}"
    return found[-1]


def _about(item: int) -> Callable[[dict], bool]:
    return lambda d: d.get("item") == item


def _delivering(item: int) -> Callable[[dict], bool]:
    return lambda d: any(i == item for i, _u, _r in d.get("items", ()))


def _flow_of(c: Connection, item: int) -> int:
    return c.execute(select(ITEMS.c.flow_id).where(ITEMS.c.id == item)).scalar_one()


def _shift(c: Connection, table: Any, row: int, column: str, **delta: float) -> None:
    was = c.execute(select(table.c[column]).where(table.c.id == row)).scalar_one()
    c.execute(update(table).where(table.c.id == row).values({column: was + timedelta(**delta)}))


# --- the tamperings: each changes one thing with plain SQL and gives the line it must produce ----


def t_opinion(c: Connection, b: dict) -> str:
    c.execute(
        text("UPDATE work_items SET opinion = '同意，金额无误' WHERE id = :i"), {"i": b["dept"]}
    )
    seq = _seq(c, b["contract"], "forward", _about(b["dept"]))
    return f"flow {b['contract']}: work item {b['dept']}: opinion differs from event seq {seq}"


def t_decision(c: Connection, b: dict) -> str:
    c.execute(text("UPDATE work_items SET decision = 'approve' WHERE id = :i"), {"i": b["legal"]})
    seq = _seq(c, b["contract"], "sign", _about(b["legal"]))
    return f"flow {b['contract']}: work item {b['legal']}: decision differs from event seq {seq}"


def t_confirmed(c: Connection, b: dict) -> str:
    _shift(c, ITEMS, b["finance2"], "confirmed_at", hours=-3)
    seq = _seq(c, b["contract"], "confirm", _about(b["finance2"]))
    return f"flow {b['contract']}: work item {b['finance2']}: confirmed_at differs from event seq {seq}"


def t_handled(c: Connection, b: dict) -> str:
    _shift(c, ITEMS, b["dept"], "handled_at", days=-1)
    seq = _seq(c, b["contract"], "forward", _about(b["dept"]))
    return f"flow {b['contract']}: work item {b['dept']}: handled_at differs from event seq {seq}"


def t_amount(c: Connection, b: dict) -> str:
    form = c.execute(select(FLOWS.c.form).where(FLOWS.c.id == b["contract"])).scalar_one()
    c.execute(
        update(FLOWS).where(FLOWS.c.id == b["contract"]).values(form={**form, "amount": "68000"})
    )
    return f"flow {b['contract']}: flow: form.amount differs from event seq 1"


def t_state(c: Connection, b: dict) -> str:
    c.execute(text("UPDATE flows SET state = 'sealing' WHERE id = :f"), {"f": b["contract"]})
    seq = _seq(c, b["contract"], "end", lambda d: True)
    return f"flow {b['contract']}: flow: state differs from event seq {seq}"


def t_step(c: Connection, b: dict) -> str:
    c.execute(text("UPDATE visits SET step = 'leader_review' WHERE flow_id = :f AND seq = 3"),
              {"f": b["contract"]})  # fmt: skip
    seq = _seq(c, b["contract"], "deliver", lambda d: d["visit"] == 3)
    return f"flow {b['contract']}: visit 3: step differs from event seq {seq}"


def t_moved(c: Connection, b: dict) -> str:
    c.execute(text("UPDATE work_items SET user_id = :u WHERE id = :i"),
              {"u": b["people"]["zhaomin"], "i": b["finance"]})  # fmt: skip
    seq = _seq(c, b["contract"], "deliver", _delivering(b["finance"]))
    return f"flow {b['contract']}: work item {b['finance']}: user_id differs from event seq {seq}"


def t_deleted(c: Connection, b: dict) -> str:
    c.execute(text("DELETE FROM work_items WHERE id = :i"), {"i": b["leader"]})
    seq = _seq(c, b["contract"], "deliver", _delivering(b["leader"]))
    return f"flow {b['contract']}: work item {b['leader']}: missing (recorded by event seq {seq})"


def t_inserted(c: Connection, b: dict) -> str:
    row = c.execute(select(ITEMS).where(ITEMS.c.id == b["finance2"])).mappings().one()
    new = c.execute(
        insert(ITEMS).values({**{k: v for k, v in row.items() if k != "id"}, "user_id": b["people"]["zhaomin"]})
        .returning(ITEMS.c.id)
    ).scalar_one()  # fmt: skip
    return f"flow {b['contract']}: work item {new}: no event records this work item"


def t_ding_confirmed(c: Connection, b: dict) -> str:
    _shift(c, DINGS, b["ding_ok"], "confirmed_at", minutes=-30)
    seq = _seq(c, b["message"], "ding_confirm", lambda d: b["ding_ok"] in d["dings"])
    return f"flow {b['message']}: ding {b['ding_ok']}: confirmed_at differs from event seq {seq}"


def t_ding_status(c: Connection, b: dict) -> str:
    c.execute(text("UPDATE dings SET status = 'delivered', failure = NULL WHERE id = :d"),
              {"d": b["ding_failed"]})  # fmt: skip
    seq = _seq(c, b["message"], "delivery_failed", lambda d: d["ding"] == b["ding_failed"])
    return f"flow {b['message']}: ding {b['ding_failed']}: status differs from event seq {seq}"


TAMPERS = {
    "opinion": t_opinion,
    "decision": t_decision,
    "confirmed time": t_confirmed,
    "handled time": t_handled,
    "contract amount": t_amount,
    "flow state": t_state,
    "visit step": t_step,
    "item moved to another person": t_moved,
    "item deleted": t_deleted,
    "item inserted": t_inserted,
    "DING confirmed time": t_ding_confirmed,
    "DING status": t_ding_status,
}
#: tamperings that change a second field of the same row as well (reported too)
ALSO = {"DING status": "failure"}


def _tamper(db: Database, name: str, built: dict) -> list[str]:
    """Make one tampering; the lines it must produce (one, or two where it changes two fields)."""
    with db.transaction() as c:
        conn = c if isinstance(c, Connection) else c.connection()
        line = TAMPERS[name](conn, built)
    lines = [line]
    if name in ALSO:
        lines.append(line.replace(" status ", f" {ALSO[name]} "))
    return lines


# --- tests ---------------------------------------------------------------------------------------


def test_flows_built_through_the_engine_replay_to_their_rows(copy) -> None:
    db, built = copy
    flows, found = _all(db)
    assert [str(x) for x in found] == []
    with db.read() as s:
        assert flows == s.scalar(select(text("count(*)")).select_from(FLOWS)) >= 9
        assert verify_all(s)[1] == []
        assert check_flow(s, built["contract"]) == [] and check_flow(s, 10**6) == []
        kinds = set(s.scalars(select(EVENTS.c.kind).where(EVENTS.c.flow_id.is_not(None))))
    # every kind of event the engine writes was replayed
    assert kinds >= {"start", "deliver", "send", "confirm", "forward", "return", "end", "withdraw",
                     "revoke", "finish", "sign", "reply", "delete", "timeout", "urge", "ding",
                     "ding_confirm", "delivered", "delivery_failed", "remind"}  # fmt: skip


@pytest.mark.parametrize("name", list(TAMPERS))
def test_each_tampering_is_named_by_flow_row_field_and_event(copy, name: str) -> None:
    db, built = copy
    lines = _tamper(db, name, built)
    _flows, found = _all(db)
    got = [str(x) for x in found]
    assert got == lines
    with db.read() as s:
        assert verify_all(s)[1] == []  # the chains themselves are untouched: only the rows lie
        fid = found[0].flow_id
        assert [str(x) for x in check_flow(s, fid)] == got


def _every_tampering(db: Database, built: dict) -> None:
    """All tamperings one after another on one database: after each, exactly the lines so far."""
    want: list[str] = []
    for name in TAMPERS:
        lines = _tamper(db, name, built)
        want += lines
        got = [str(x) for x in _all(db)[1]]
        assert sorted(got) == sorted(want), name


def test_every_tampering_is_named_on_sqlite(copy) -> None:
    _every_tampering(*copy)


def test_every_tampering_is_named_on_postgresql(pg_db) -> None:
    built = build(pg_db)
    flows, found = _all(pg_db)
    assert found == [] and flows >= 9
    _every_tampering(pg_db, built)
    with pg_db.read() as s:  # one flow, its chain too, under a share lock on its row
        got = [str(x) for x in check_flow(s, built["message"])]
    assert len(got) == 3 and all(g.startswith(f"flow {built['message']}: ding ") for g in got)


def test_a_chain_broken_under_a_row_is_named_by_check_flow(copy) -> None:
    db, built = copy
    with db.transaction() as c:
        conn = c if isinstance(c, Connection) else c.connection()
        seq = _seq(conn, built["contract"], "forward", _about(built["dept"]))
        conn.execute(delete(EVENTS).where(EVENTS.c.chain == f"flow:{built['contract']}",
                                          EVENTS.c.seq > seq))  # fmt: skip
    with db.read() as s:
        found = check_flow(s, built["contract"])
    assert str(found[0]).startswith(f"flow {built['contract']}: chain: flow:{built['contract']}: ")
    assert "events removed" in str(found[0])
    # the rows the removed events recorded are now rows no event records
    assert (
        f"flow {built['contract']}: work item {built['leader']}: no event records this work item"
        in [str(x) for x in found]
    )


def test_a_chain_removed_with_its_head_moved_back_leaves_rows_no_event_records(copy) -> None:
    """The chains alone see nothing (a flow whose head says 0 events has none); the replay does."""
    db, built = copy
    fid = built["message"]
    with db.transaction() as c:
        c.execute(text("DELETE FROM audit_events WHERE chain = :c"), {"c": f"flow:{fid}"})
        c.execute(text("UPDATE flows SET audit_seq = 0, audit_head = '' WHERE id = :f"), {"f": fid})
    with db.read() as s:
        assert verify_all(s)[1] == []
        found = [str(x) for x in check_flow(s, fid)]
    assert found[0] == f"flow {fid}: flow: no event records this flow"
    assert f"flow {fid}: visit 1: no event records this visit" in found
    assert f"flow {fid}: ding {built['ding_ok']}: no event records this ding" in found


def _rehash(c: Connection, fid: int, change: Callable[[Any], dict | None]) -> None:
    """Rewrite a flow's events with ``change`` and re-hash its whole chain, head included: what
    someone with write access to the database could do (only anchors outside it catch that)."""
    head, seq = GENESIS, 0
    for ev in c.execute(
        select(EVENTS).where(EVENTS.c.chain == f"flow:{fid}").order_by(EVENTS.c.seq)
    ):
        data = change(ev) or ev.data
        seq = ev.seq
        digest = event_hash(head, ev.chain, seq, ev.at, ev.actor_id, ev.actor_name, ev.kind, data)
        c.execute(update(EVENTS).where(EVENTS.c.id == ev.id).values(data=data, prev_hash=head,
                                                                    hash=digest))  # fmt: skip
        head = digest
    c.execute(update(FLOWS).where(FLOWS.c.id == fid).values(audit_seq=seq, audit_head=head))


def test_an_event_the_replay_cannot_read_is_named_not_a_crash(copy) -> None:
    db, built = copy
    fid = built["contract"]
    with db.transaction() as c:
        conn = c if isinstance(c, Connection) else c.connection()
        _rehash(conn, fid, lambda ev: {**ev.data, "items": 7} if ev.seq == 2 else None)
    with db.read() as s:
        assert verify_all(s)[1] == []
        found = [str(x) for x in check_all(s)[1]]
    assert found[0].startswith(f"flow {fid}: chain: event seq 2: deliver event cannot be replayed")
    # the initiator's first item, which that event delivered, is now recorded by none
    assert len(found) == 2 and found[1].endswith("no event records this work item"), found


# --- banli audit verify --------------------------------------------------------------------------


def _cli(db: Database) -> Any:
    url = db.url.render_as_string(hide_password=False)
    return CliRunner().invoke(main, ["--db", url, "audit", "verify"])


def test_cli_says_intact_for_a_clean_database(copy) -> None:
    result = _cli(copy[0])
    assert result.exit_code == 0, result.output
    assert "audit trail intact" in result.stdout
    assert "flows replayed against their rows" in result.stdout


def test_cli_prints_each_mismatch_and_exits_1(copy) -> None:
    db, built = copy
    lines = _tamper(db, "opinion", built) + _tamper(db, "DING confirmed time", built)
    result = _cli(db)
    assert result.exit_code == 1, result.output
    assert "audit trail intact" not in result.output
    assert [ln for ln in result.stderr.splitlines() if ln.startswith("flow ")] == lines
    assert "0 broken chain(s), 2 mismatch(es)" in result.stderr
