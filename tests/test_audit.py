"""The audit trail: intact after real flows, and every kind of tampering is found at its first broken link."""

from __future__ import annotations

import json
import shutil
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pytest
from click.testing import CliRunner
from sqlalchemy import delete, select, text, update

from tests.conftest import Clock, setup_engine
from workflow.audit import Broken, verify_all
from workflow.cli import main
from workflow.engine import Engine
from workflow.store.db import Database
from workflow.store.models import AuditEvent, Flow

EVENTS = AuditEvent.__table__
FLOWS = Flow.__table__

CONTRACT = {
    "title": "办公楼空调采购合同",
    "counterparty": "上海申能机电有限公司",
    "amount": "680000",
    "contract_type": "purchase",
    "summary": "采购空调 40 台",
}
SEAL = {"title": "租赁合同用印", "seal": "legal_representative", "copies": 2, "purpose": "签约"}
ARCHIVE = {"archive_name": "2019 年度会计凭证", "purpose": "borrow", "reason": "审计"}


def drive(engine: Engine, flow_id: int, *, steps: int = 50) -> None:
    """Push a flow to its end: everyone opens, co-signers approve, handlers finish, hosts forward
    to the first offered step with the first candidates (or end approved where nothing is next)."""
    for _ in range(steps):
        rec = engine.history(flow_id)
        if rec.state in ("ended", "withdrawn"):
            return
        people = rec.visits[-1].people
        for p in (p for p in people if p.status == "open" and p.role != "host"):
            engine.open(p.user_id, p.item_id)
            if p.role == "co_signer":
                engine.sign(p.user_id, p.item_id, decision="approve", opinion="同意")
            else:
                engine.finish(p.user_id, p.item_id, opinion="已办")
        host = next(p for p in people if p.role == "host" and p.status == "open")
        engine.open(host.user_id, host.item_id)
        acts = {a["action"]: a for a in engine.available_actions(host.user_id, host.item_id)}
        if "forward" in acts:
            opt = acts["forward"]["options"][0]
            engine.forward(
                host.user_id,
                host.item_id,
                to=opt["step"],
                host=opt["host"]["ids"][0],
                handlers=opt["handlers"]["ids"][: opt["handlers"]["min"] or 0]
                if opt["handlers"]["choose"]
                else None,
                co_signers=opt["co_signers"]["ids"][: opt["co_signers"]["min"] or 0]
                if opt["co_signers"]["choose"]
                else None,
                opinion="同意",
            )
        else:
            engine.end(host.user_id, host.item_id, outcome="approved", opinion="办结")
    raise AssertionError(f"flow {flow_id} did not end in {steps} rounds")


def _build_trail(db: Database) -> dict[str, Any]:
    """A few flows: a contract reviewed to the end, a seal request half-way, one withdrawn,
    one ended as rejected, one returned and sent on again."""
    engine, people = setup_engine(db, Clock())
    done = engine.start(people["huangyong"], "contract_review", CONTRACT, opinion="请审核").flow_id
    drive(engine, done)
    half = engine.start(people["gaofeng"], "seal_usage", SEAL).flow_id
    head = engine.inbox(people["huzhigang"])[0]
    engine.open(people["huzhigang"], head.item_id)
    engine.forward(people["huzhigang"], head.item_id, opinion="同意")
    gone = engine.start(people["caoyang"], "archive_use", ARCHIVE).flow_id
    engine.withdraw(people["caoyang"], gone, reason="填错了")
    rejected = engine.start(people["songjia"], "seal_usage", {**SEAL, "seal": "company"}).flow_id
    item = engine.inbox(people["zhengjie"])[0].item_id
    engine.end(people["zhengjie"], item, outcome="rejected", opinion="不同意")
    back = engine.start(people["pengtao"], "contract_review", {**CONTRACT, "amount": "1200"})
    item = engine.inbox(people["dengjianhua"])[0].item_id
    engine.return_(people["dengjianhua"], item, opinion="补充材料")
    item = engine.inbox(people["pengtao"])[0].item_id
    engine.forward(people["pengtao"], item, opinion="已补充")
    return {"done": done, "half": half, "gone": gone, "rejected": rejected, "back": back.flow_id}


@pytest.fixture(scope="module")
def template(tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, dict[str, int]]:
    """The trail built once; each test gets its own copy of the database file to tamper with."""
    path = tmp_path_factory.mktemp("audit") / "template.db"
    db = Database(f"sqlite:///{path}")
    flows = _build_trail(db)
    db.dispose()  # the last connection to close checkpoints the WAL into the file
    assert not path.with_name(path.name + "-wal").exists()
    return path, flows


@pytest.fixture
def trail(template: tuple[Path, dict[str, int]], tmp_path: Path) -> Iterator[dict[str, Any]]:
    path, flows = template
    copy = tmp_path / "banli.db"
    shutil.copyfile(path, copy)
    db = Database(f"sqlite:///{copy}")
    yield {"db": db, "flows": flows}
    db.dispose()


def _verify(db: Database) -> tuple[int, list[Broken]]:
    with db.read() as s:
        return verify_all(s)


def _chain(db: Database, flow_id: int) -> list[Any]:
    with db.read() as s:
        return list(
            s.execute(
                select(EVENTS.c.id, EVENTS.c.seq, EVENTS.c.kind, EVENTS.c.data)
                .where(EVENTS.c.chain == f"flow:{flow_id}")
                .order_by(EVENTS.c.seq)
            )
        )


def test_real_flows_leave_an_intact_trail(trail: dict[str, Any]) -> None:
    db = trail["db"]
    checked, broken = _verify(db)
    assert broken == []
    with db.read() as s:
        total = s.scalar(select(text("count(*)")).select_from(EVENTS))
        heads = dict(s.execute(select(FLOWS.c.id, FLOWS.c.audit_seq)).all())
    assert checked == total
    for flow_id, seq in heads.items():
        events = _chain(db, flow_id)
        assert [e.seq for e in events] == list(range(1, seq + 1))
    kinds = [e.kind for e in _chain(db, trail["flows"]["done"])]
    assert kinds[:3] == ["start", "deliver", "forward"]
    assert kinds[-1] == "end" and "sign" in kinds and "confirm" in kinds


def _flip_one_character(db: Database, event_id: int) -> None:
    with db.read() as s:
        data = s.scalar(select(EVENTS.c.data).where(EVENTS.c.id == event_id))
    raw = json.dumps(data, ensure_ascii=False, sort_keys=True)
    # The first character of a value that is a string in the JSON: flip it, keep the JSON valid.
    at = raw.index('": "') + 4
    flipped = raw[:at] + ("X" if raw[at] != "X" else "Y") + raw[at + 1 :]
    assert flipped != raw
    with db.write() as s:
        s.execute(update(EVENTS).where(EVENTS.c.id == event_id).values(data=json.loads(flipped)))


def _raw_sql(db: Database, sql: str, **params: Any) -> None:
    with db.write() as s:
        s.execute(text(sql), params)


def _middle(events: list[Any]) -> Any:
    return events[len(events) // 2]


Tamper = Callable[[Database, list[Any], int], tuple[int, str | None]]


def _data(db: Database, events: list[Any], _flow: int) -> tuple[int, str | None]:
    ev = next(e for e in events[len(events) // 2 :] if '": "' in json.dumps(e.data))
    _flip_one_character(db, ev.id)
    return ev.seq, "altered"


def _actor_name(db: Database, events: list[Any], _flow: int) -> tuple[int, str | None]:
    ev = _middle(events)
    _raw_sql(db, "UPDATE audit_events SET actor_name = :n WHERE id = :id", n="张三", id=ev.id)
    return ev.seq, "altered"


def _delete_middle(db: Database, events: list[Any], _flow: int) -> tuple[int, str | None]:
    ev = _middle(events)
    _raw_sql(db, "DELETE FROM audit_events WHERE id = :id", id=ev.id)
    return ev.seq, "missing"


def _delete_last(db: Database, events: list[Any], _flow: int) -> tuple[int, str | None]:
    ev = events[-1]
    with db.write() as s:
        s.execute(delete(EVENTS).where(EVENTS.c.id == ev.id))
    return ev.seq, "removed"


def _swap_seq(db: Database, events: list[Any], _flow: int) -> tuple[int, str | None]:
    a, b = _middle(events), events[len(events) // 2 + 1]
    # (chain, seq) is unique: park one event on a free seq while the other takes its place.
    _raw_sql(db, "UPDATE audit_events SET seq = -1 WHERE id = :id", id=a.id)
    _raw_sql(db, "UPDATE audit_events SET seq = :seq WHERE id = :id", seq=a.seq, id=b.id)
    _raw_sql(db, "UPDATE audit_events SET seq = :seq WHERE id = :id", seq=b.seq, id=a.id)
    return a.seq, "does not link"


def _head(db: Database, events: list[Any], flow_id: int) -> tuple[int, str | None]:
    _raw_sql(db, "UPDATE flows SET audit_head = :h WHERE id = :id", h="f" * 64, id=flow_id)
    # Every event still checks out; what breaks is the link from the last event to the head.
    return events[-1].seq + 1, "chain head"


def _head_seq(db: Database, events: list[Any], flow_id: int) -> tuple[int, str | None]:
    _raw_sql(db, "UPDATE flows SET audit_seq = audit_seq + 1 WHERE id = :id", id=flow_id)
    return events[-1].seq + 1, "chain head"


TAMPERS: dict[str, Tamper] = {
    "data": _data,
    "actor_name": _actor_name,
    "delete_middle": _delete_middle,
    "delete_last": _delete_last,
    "swap_seq": _swap_seq,
    "audit_head": _head,
    "audit_seq": _head_seq,
}


@pytest.mark.parametrize("which", list(TAMPERS))
@pytest.mark.parametrize("victim", ["done", "rejected"])
def test_tampering_is_found_at_the_first_broken_link(
    trail: dict[str, Any], which: str, victim: str
) -> None:
    db, flow_id = trail["db"], trail["flows"][victim]
    events = _chain(db, flow_id)
    assert len(events) >= 5
    seq, words = TAMPERS[which](db, events, flow_id)
    _checked, broken = _verify(db)
    assert [(b.chain, b.seq) for b in broken] == [(f"flow:{flow_id}", seq)], [
        str(b) for b in broken
    ]
    assert words is None or words in str(broken[0])


def test_tampering_with_the_admin_chain_is_found(trail: dict[str, Any]) -> None:
    db = trail["db"]
    with db.read() as s:
        ev = s.execute(
            select(EVENTS.c.id, EVENTS.c.seq)
            .where(EVENTS.c.chain == "admin")
            .order_by(EVENTS.c.seq)
        ).first()
    _flip_one_character(db, ev.id)
    _checked, broken = _verify(db)
    assert [(b.chain, b.seq) for b in broken] == [("admin", ev.seq)]


def test_two_tampered_chains_are_both_named(trail: dict[str, Any]) -> None:
    db, flows = trail["db"], trail["flows"]
    done, half = _chain(db, flows["done"]), _chain(db, flows["half"])
    _actor_name(db, done, flows["done"])
    _delete_last(db, half, flows["half"])
    _checked, broken = _verify(db)
    assert sorted((b.chain, b.seq) for b in broken) == sorted(
        [(f"flow:{flows['done']}", _middle(done).seq), (f"flow:{flows['half']}", half[-1].seq)]
    )


def test_a_chain_deleted_whole_is_found(trail: dict[str, Any]) -> None:
    db, flow_id = trail["db"], trail["flows"]["gone"]
    _raw_sql(db, "DELETE FROM audit_events WHERE chain = :c", c=f"flow:{flow_id}")
    _checked, broken = _verify(db)
    assert [(b.chain, b.seq) for b in broken] == [(f"flow:{flow_id}", 1)]


# --- banli audit verify ----------------------------------------------------------------------


def _cli(db: Database) -> Any:
    url = db.url.render_as_string(hide_password=False)
    assert url.startswith("sqlite:///")
    return CliRunner().invoke(main, ["--db", url, "audit", "verify"])


def test_cli_reports_an_intact_trail(trail: dict[str, Any]) -> None:
    result = _cli(trail["db"])
    assert result.exit_code == 0, result.output
    checked, _ = _verify(trail["db"])
    assert "audit trail intact" in result.stdout
    assert f"{checked} events checked" in result.stdout
    assert "BROKEN" not in result.output


def test_cli_names_each_broken_chain_and_exits_1(trail: dict[str, Any]) -> None:
    db, flows = trail["db"], trail["flows"]
    done, half = _chain(db, flows["done"]), _chain(db, flows["half"])
    seq_done, _ = _data(db, done, flows["done"])
    _delete_middle(db, half, flows["half"])
    result = _cli(db)
    assert result.exit_code == 1, result.output
    assert "audit trail intact" not in result.output
    lines = sorted(ln for ln in result.stderr.splitlines() if ln.startswith("BROKEN"))
    expected = sorted(
        [
            f"BROKEN flow:{flows['done']}: seq {seq_done} ",
            f"BROKEN flow:{flows['half']}: seq {_middle(half).seq} ",
        ]
    )
    assert len(lines) == 2, result.stderr
    assert [ln[: len(p)] for ln, p in zip(lines, expected, strict=True)] == expected
    assert "2 broken chain(s)" in result.stderr
