"""Random people doing random things to random flows: the engine's promises hold after every step.

A hypothesis state machine starts contract reviews, seal requests and archive requests, has their
people (and people who have no business there) open items, press the buttons ``available_actions``
offers with random choices, press buttons it does not offer, and withdraw flows. It keeps a model
of its own (each flow's state, version and visits; each item's person, role, status and whether it
was confirmed) and checks after every step that the database says the same, that a refusal
changed nothing at all, and that the engine's invariants hold.
"""

from __future__ import annotations

import shutil
import tempfile
from dataclasses import dataclass, field
from decimal import Decimal
from pathlib import Path
from typing import Any

import pytest
from hypothesis import HealthCheck, settings
from hypothesis import strategies as st
from hypothesis.stateful import (
    RuleBasedStateMachine,
    invariant,
    precondition,
    rule,
    run_state_machine_as_test,
)
from sqlalchemy import select

from tests.conftest import DEFINITIONS, Clock, setup_engine
from workflow.audit import verify_all
from workflow.demo_org import PEOPLE
from workflow.engine import Engine
from workflow.engine.registry import Registry
from workflow.errors import (
    AlreadyHandled,
    BanliError,
    FlowClosed,
    Forbidden,
    FormInvalid,
    InvalidAction,
    NotFound,
    NotYourItem,
    RoleNotAllowed,
    StaleVersion,
    WaitingRuleUnmet,
)
from workflow.integrity import check_all
from workflow.spec import load_file
from workflow.store.db import Database
from workflow.store.models import (
    AuditEvent,
    AuditHead,
    DefinitionVersion,
    Flow,
    User,
    Visit,
    WorkItem,
)

FLOWS, VISITS, ITEMS = Flow.__table__, Visit.__table__, WorkItem.__table__
EVENTS, HEADS, DEFS = AuditEvent.__table__, AuditHead.__table__, DefinitionVersion.__table__
#: table → the column naming the flow a row belongs to (None: rows of no flow)
TABLES = {
    FLOWS: FLOWS.c.id,
    VISITS: VISITS.c.flow_id,
    ITEMS: ITEMS.c.flow_id,
    EVENTS: EVENTS.c.flow_id,
    HEADS: None,
    DEFS: None,
}
KEYS = ("contract_review", "seal_usage", "archive_use")
SPECS = {d.id: d for d in (load_file(p) for p in DEFINITIONS) if d.id in KEYS}
CLOSED = ("ended", "withdrawn")
LOGINS = sorted(p.login for p in PEOPLE)
UNIT_OF = {p.login: p.unit for p in PEOPLE}
#: the unit head of each unit, from the demo organisation's data (not from the engine)
HEAD_OF = {
    (held.partition("@")[2] or p.unit): p.login
    for p in PEOPLE
    for held in p.roles
    if held.partition("@")[0] == "unit_head"
}


# --- forms ----------------------------------------------------------------------------------

titles = st.builds(
    lambda w, n: f"{w}{n}", st.sampled_from(["空调采购合同", "租赁合同", "Ｘ"]), st.integers(1, 999)
)
amounts = st.one_of(
    st.sampled_from(["499999.99", "500000", "500000.00", "500000.01", "0", "1200.5"]),
    st.integers(450_000, 550_000).map(str),
    st.builds(lambda y, f: f"{y}.{f:02d}", st.integers(499_990, 500_010), st.integers(0, 99)),
)
FORMS: dict[str, Any] = {
    "contract_review": st.fixed_dictionaries(
        {
            "title": titles,
            "counterparty": st.sampled_from(["上海申能机电有限公司", "ACME Ltd."]),
            "amount": amounts,
            "contract_type": st.sampled_from(["purchase", "sales", "service", "construction"]),
            "summary": st.just("采购空调 40 台"),
        }
    ),
    "seal_usage": st.fixed_dictionaries(
        {
            "title": titles,
            "seal": st.sampled_from(["company", "contract", "legal_representative"]),
            "copies": st.integers(1, 5),
            "purpose": st.just("签约"),
        }
    ),
    "archive_use": st.fixed_dictionaries(
        {
            "archive_name": titles,
            "purpose": st.sampled_from(["consult", "borrow", "copy"]),
            "reason": st.just("审计"),
        },
        optional={"return_date": st.sampled_from(["2026-04-01", "2026-05-15"])},
    ),
}
BAD_FORMS: dict[str, Any] = {
    "contract_review": [
        {"amount": "12.345"},
        {"title": ""},
        {"contract_type": "lease"},
        {"amount": "-1"},
        {"nonsense": 1},
    ],
    "seal_usage": [{"seal": "round"}, {"copies": 0}, {"purpose": None}],
    "archive_use": [{"purpose": "steal"}, {"return_date": "soon"}],
}


def expected_next(flow: MFlow) -> list[str]:
    """Where the host may forward, by the definitions' conditions worked out here, by hand."""
    form, where = flow.form, (flow.key, flow.state)
    if where == ("contract_review", "leader_review"):
        return ["gm_review"] if Decimal(form["amount"]) >= 500_000 else ["sealing"]
    if where == ("seal_usage", "dept_review"):
        return ["gm_review"] if form["seal"] == "legal_representative" else ["sealing"]
    if where == ("archive_use", "archivist_review"):
        return ["lend"] if form["purpose"] == "borrow" else []
    return [n.to for n in SPECS[flow.key].steps[flow.state].next]


# --- the model ------------------------------------------------------------------------------


@dataclass
class MItem:
    id: int
    flow: int
    user: int
    role: str
    visit: int  # the visit's seq
    status: str = "open"
    confirmed: bool = False


@dataclass
class MFlow:
    id: int
    key: str
    initiator: int
    form: dict[str, Any]
    state: str
    version: int
    outcome: str | None = None
    #: per visit (index = seq - 1): its step and its item ids, in delivery order
    steps: list[str] = field(default_factory=list)
    visits: list[list[int]] = field(default_factory=list)
    rejected: bool = False

    @property
    def active(self) -> bool:
        return self.state not in CLOSED


def _rows(s: Any, table: Any) -> dict[Any, tuple]:
    """Every row of ``table`` as the driver returns it, by primary key (raw: it is fast)."""
    (pk,) = table.primary_key.columns
    cols = ", ".join(c.name for c in table.c)
    rows = s.connection().exec_driver_sql(f"SELECT {cols} FROM {table.name} ORDER BY {pk.name}")
    return {row[0]: tuple(row) for row in rows}


class EngineMachine(RuleBasedStateMachine):
    template: Path
    registry: Registry

    def __init__(self) -> None:
        super().__init__()
        self.dir = Path(tempfile.mkdtemp(prefix="banli-props-"))
        shutil.copyfile(self.template, self.dir / "banli.db")
        self.db = Database(f"sqlite:///{self.dir / 'banli.db'}")
        self.engine = Engine(self.db, clock=Clock())
        # Every example's database is a copy of one template, with the same definition versions:
        # one registry (so one set of compiled machines) serves them all.
        self.engine.registry = self.registry
        with self.db.read() as s:
            self.ids = dict(s.execute(select(User.login, User.id)).all())
        self.login = {v: k for k, v in self.ids.items()}
        self.flows: dict[int, MFlow] = {}
        self.items: dict[int, MItem] = {}
        #: items once done or cancelled: (status, delivered_at, confirmed_at, handled_at)
        self.frozen: dict[int, tuple] = {}

    def teardown(self) -> None:
        self.db.dispose()
        shutil.rmtree(self.dir, ignore_errors=True)

    # --- helpers ----------------------------------------------------------------------------

    def snapshot(self) -> dict[str, dict[Any, tuple]]:
        with self.db.read() as s:
            return {t.name: _rows(s, t) for t in TABLES}

    def others(self, snap: dict[str, dict[Any, tuple]], flow_id: int) -> dict[str, Any]:
        """The snapshot without the rows of ``flow_id`` (and without the admin chain heads)."""
        out: dict[str, Any] = {}
        for table, col in TABLES.items():
            if col is None:
                continue
            at = [c.name for c in table.c].index(col.name)
            out[table.name] = {k: r for k, r in snap[table.name].items() if r[at] != flow_id}
        return out

    def attempt(
        self,
        what: str,
        call: Any,
        *,
        expect_ok: bool | None,
        flow_id: int | None,
        refusal: tuple[type[BanliError], ...] = (BanliError,),
    ) -> Any:
        """Run an action; a refusal must change nothing, a success only its own flow."""
        before = self.snapshot()
        try:
            out = call()
        except BanliError as exc:
            after = self.snapshot()
            assert after == before, f"{what} was refused ({exc!r}) but changed the database"
            assert expect_ok is not True, (
                f"{what} should have succeeded: {type(exc).__name__}: {exc}"
            )
            assert isinstance(exc, refusal), f"{what}: {type(exc).__name__} ({exc}), not {refusal}"
            return exc
        assert expect_ok is not False, f"{what} should have been refused, but returned {out}"
        if flow_id is not None:
            assert self.others(self.snapshot(), flow_id) == self.others(before, flow_id), (
                f"{what} changed rows of other flows"
            )
        return out

    def open_items(self, flow: MFlow) -> list[MItem]:
        return [self.items[i] for i in flow.visits[-1] if self.items[i].status == "open"]

    def enter(self, flow: MFlow, step: str, people: list[tuple[int, str]], ids: list[int]) -> None:
        assert len(ids) == len(people), (step, people, ids)
        seq = len(flow.visits) + 1
        for i, (user, role) in zip(ids, people, strict=True):
            assert i not in self.items
            self.items[i] = MItem(i, flow.id, user, role, seq)
        flow.steps.append(step)
        flow.visits.append(list(ids))
        flow.state, flow.rejected = step, False

    def leave(self, flow: MFlow) -> None:
        for it in self.open_items(flow):
            it.status = "cancelled"

    def handle(self, it: MItem) -> None:
        it.status, it.confirmed = "done", True

    # --- rules ------------------------------------------------------------------------------

    @precondition(lambda self: sum(f.active for f in self.flows.values()) < 4)
    @rule(
        data=st.data(),
        key=st.sampled_from(KEYS),
        starter=st.sampled_from(LOGINS),
        submit=st.integers(0, 5),
        bad=st.integers(0, 7),
    )
    def start(self, data: Any, key: str, starter: str, submit: int, bad: int) -> None:
        form = data.draw(FORMS[key], label="form")
        if bad == 7:
            form = {**form, **data.draw(st.sampled_from(BAD_FORMS[key]), label="bad")}
        uid = self.ids[starter]
        out = self.attempt(
            f"start {key} by {starter}",
            lambda: self.engine.start(uid, key, form, submit=submit < 5, opinion="请审核"),
            expect_ok=bad != 7,
            flow_id=None,
            refusal=(FormInvalid,),
        )
        if isinstance(out, BanliError):
            return
        spec = SPECS[key]
        flow = MFlow(out.flow_id, key, uid, form, spec.first_step, out.version)
        assert out.flow_id not in self.flows
        self.flows[flow.id] = flow
        self.enter(flow, spec.first_step, [(uid, "host")], [out.item_id])
        self.items[out.item_id].confirmed = True
        if submit < 5:
            # The first step of each of these has one next step, hosted by the initiator's head.
            self.handle(self.items[out.item_id])
            head = self.ids[HEAD_OF[UNIT_OF[starter]]]
            self.enter(flow, "dept_review", [(head, "host")], out.delivered)
        assert (out.state, out.version) == (flow.state, 2)

    @precondition(lambda self: bool(self.items))
    @rule(data=st.data())
    def open(self, data: Any) -> None:
        live = sorted(i for i, it in self.items.items() if it.status == "open")
        if not live or data.draw(st.integers(0, 3), label="any item?") == 3:
            live = sorted(self.items)
        it = self.items[data.draw(st.sampled_from(live), label="item")]
        owner = data.draw(st.integers(0, 4), label="stranger?") < 4
        user = it.user if owner else self.ids[data.draw(st.sampled_from(LOGINS), label="who")]
        owner = user == it.user
        flow = self.flows[it.flow]
        before = self.snapshot()
        out = self.attempt(
            f"open item {it.id} ({it.status} {it.role}) by {self.login[user]}",
            lambda: self.engine.open(user, it.id),
            # the owner's first look at an open item must be recorded; a look at a closed one
            # may be refused or be a no-op, but must record nothing (checked below)
            expect_ok=(it.status == "open" or None) if owner else False,
            flow_id=it.flow,
            refusal=(BanliError,) if owner else (NotYourItem,),
        )
        if isinstance(out, BanliError):
            return
        if it.confirmed or it.status != "open":
            # Opening again, or opening an item the flow has moved past, records nothing.
            assert self.snapshot() == before, (
                f"opening {it.status} item {it.id} (confirmed: {it.confirmed}) changed the database"
            )
        else:
            it.confirmed = True
        assert (out.state, out.version) == (flow.state, flow.version)

    @precondition(lambda self: bool(self.items))
    @rule(data=st.data(), burst=st.integers(1, 4))
    def act(self, data: Any, burst: int) -> None:
        """A few actions in a row, mostly on one flow's open items, so flows get far."""
        focus: int | None = None
        for _ in range(burst):
            live = sorted(i for i, it in self.items.items() if it.status == "open")
            near = [i for i in live if self.items[i].flow == focus]
            pool = near or live
            if not pool or data.draw(st.integers(0, 7), label="any item?") == 7:
                pool = sorted(self.items)
            it = self.items[data.draw(st.sampled_from(pool), label="item")]
            focus = it.flow
            self.act_once(data, it)

    @precondition(lambda self: any(it.status == "open" for it in self.items.values()))
    @rule(data=st.data(), burst=st.integers(1, 4))
    def act_more(self, data: Any, burst: int) -> None:
        """The same again: people act far more often than they start or withdraw flows."""
        self.act(data, burst)

    def act_once(self, data: Any, it: MItem) -> None:
        flow = self.flows[it.flow]
        if data.draw(st.integers(0, 7), label="stranger?") == 7:
            self.act_as_stranger(data, it)
        elif it.status != "open":
            self.act_on_closed(data, it)
        else:
            self.act_as_owner(data, it, flow)

    def act_as_stranger(self, data: Any, it: MItem) -> None:
        user = self.ids[data.draw(st.sampled_from(LOGINS), label="who")]
        if user == it.user:
            return
        with pytest.raises(NotYourItem):
            self.engine.available_actions(user, it.id)
        name, call = data.draw(st.sampled_from(list(self.any_calls(user, it).items())), label="do")
        self.attempt(
            f"{name} on item {it.id} by stranger {self.login[user]}",
            call,
            expect_ok=False,
            flow_id=it.flow,
            refusal=(NotYourItem,),
        )

    def any_calls(self, user: int, it: MItem) -> dict[str, Any]:
        e, i = self.engine, it.id
        return {
            "forward": lambda: e.forward(user, i),
            "end approved": lambda: e.end(user, i, outcome="approved"),
            "end rejected": lambda: e.end(user, i, outcome="rejected"),
            "return": lambda: e.return_(user, i),
            "sign approve": lambda: e.sign(user, i, decision="approve"),
            "sign reject": lambda: e.sign(user, i, decision="reject"),
            "finish": lambda: e.finish(user, i),
        }

    def act_on_closed(self, data: Any, it: MItem) -> None:
        assert self.engine.available_actions(it.user, it.id) == []
        name, call = data.draw(
            st.sampled_from(list(self.any_calls(it.user, it).items())), label="do"
        )
        self.attempt(
            f"{name} on {it.status} item {it.id}",
            call,
            expect_ok=False,
            flow_id=it.flow,
            refusal=(AlreadyHandled, FlowClosed),
        )

    def act_as_owner(self, data: Any, it: MItem, flow: MFlow) -> None:
        acts = self.engine.available_actions(it.user, it.id)
        offered = {a["action"]: a for a in acts}
        assert len(offered) == len(acts)
        if it.role == "co_signer":
            assert acts == [{"action": "sign", "decisions": ["approve", "reject"]}]
        elif it.role == "host":
            assert "sign" not in offered and "finish" not in offered
            nexts = (
                [o["step"] for o in offered["forward"]["options"]] if "forward" in offered else []
            )
            assert nexts == expected_next(flow), f"{flow.key}@{flow.state} {flow.form}: {nexts}"
        valid = data.draw(st.integers(0, 9), label="valid?") < 7
        if valid and acts:
            self.valid_action(data, it, flow, offered)
        else:
            self.invalid_action(data, it, flow, offered)

    def _version(self, data: Any, flow: MFlow) -> int | None:
        return data.draw(st.sampled_from([None, flow.version]), label="version")

    def valid_action(self, data: Any, it: MItem, flow: MFlow, offered: dict[str, Any]) -> None:
        e, u, i = self.engine, it.user, it.id
        # Mostly onwards, so that flows get far; but every offered action now and then.
        onwards = "forward" in offered and data.draw(st.integers(0, 3), label="onwards?") < 3
        kind = "forward" if onwards else data.draw(st.sampled_from(list(offered)), label="action")
        act = offered[kind]
        version = self._version(data, flow)
        what = f"{kind} of item {i} ({flow.key}@{flow.state}) by {self.login[u]}"
        if kind == "sign":
            decision = data.draw(st.sampled_from(["approve", *act["decisions"]]), label="decision")
            out = self.attempt(
                f"{what}: {decision}",
                lambda: e.sign(u, i, decision=decision, opinion="会签意见", version=version),
                expect_ok=True,
                flow_id=flow.id,
            )
            self.handle(it)
            step = SPECS[flow.key].steps[flow.state]
            if decision == "reject" and step.on_reject == "veto":
                flow.rejected = True
                for other in self.open_items(flow):
                    if other.role != "host":
                        other.status = "cancelled"
        elif kind == "finish":
            out = self.attempt(
                what,
                lambda: e.finish(u, i, opinion="已办", version=version),
                expect_ok=True,
                flow_id=flow.id,
            )
            self.handle(it)
        elif kind == "end":
            outcome = data.draw(st.sampled_from(act["outcomes"]), label="outcome")
            out = self.attempt(
                f"{what}: {outcome}",
                lambda: e.end(u, i, outcome=outcome, version=version),
                expect_ok=True,
                flow_id=flow.id,
            )
            self.handle(it)
            self.leave(flow)
            flow.state, flow.outcome = "ended", outcome
        elif kind == "return":
            assert act["options"], act
            assert act["default"] in act["options"], f"return's default is not an option: {act}"
            to = data.draw(st.sampled_from([None, *act["options"]]), label="to")
            out = self.attempt(
                f"{what} to {to or 'default ' + act['default']}",
                lambda: e.return_(u, i, to=to, version=version),
                expect_ok=True,
                flow_id=flow.id,
            )
            dest = to or act["default"]
            last = max(n for n, s in enumerate(flow.steps) if s == dest)
            people = [(self.items[x].user, self.items[x].role) for x in flow.visits[last]]
            self.handle(it)
            self.leave(flow)
            self.enter(flow, dest, people, out.delivered)
        else:
            assert kind == "forward"
            opt = data.draw(st.sampled_from(act["options"]), label="option")
            host = handlers = co_signers = None
            if opt["host"]["choose"] or data.draw(st.booleans(), label="name the host?"):
                host = data.draw(st.sampled_from(opt["host"]["ids"]), label="host")
            if opt["handlers"]["choose"]:
                handlers = self._some(data, opt["handlers"], "handlers")
            if opt["co_signers"]["choose"]:
                co_signers = self._some(data, opt["co_signers"], "co-signers")
            to = opt["step"] if len(act["options"]) > 1 or data.draw(st.booleans()) else None
            out = self.attempt(
                f"{what} to {opt['step']} (ready: {act['ready']})",
                lambda: e.forward(
                    u,
                    i,
                    to=to,
                    host=host,
                    handlers=handlers,
                    co_signers=co_signers,
                    opinion="同意",
                    version=version,
                ),
                expect_ok=act["ready"],
                flow_id=flow.id,
                refusal=(WaitingRuleUnmet,),
            )
            if isinstance(out, BanliError):
                return
            the_host = host if host is not None else opt["host"]["ids"][0]
            hs = handlers if handlers is not None else opt["handlers"]["ids"]
            cs = co_signers if co_signers is not None else opt["co_signers"]["ids"]
            hs = [h for h in dict.fromkeys(hs) if h != the_host]
            cs = [c for c in dict.fromkeys(cs) if c != the_host and c not in hs]
            people = [
                (the_host, "host"),
                *((h, "handler") for h in hs),
                *((c, "co_signer") for c in cs),
            ]
            self.handle(it)
            self.leave(flow)
            self.enter(flow, opt["step"], people, out.delivered)
        flow.version += 1
        assert (out.state, out.version) == (flow.state, flow.version), (what, out)

    def _some(self, data: Any, cands: dict[str, Any], label: str) -> list[int]:
        most = len(cands["ids"]) if cands["max"] is None else min(cands["max"], len(cands["ids"]))
        n = data.draw(st.integers(cands["min"], max(cands["min"], most)), label=f"{label} count")
        return data.draw(st.permutations(cands["ids"]), label=label)[:n]

    def invalid_action(self, data: Any, it: MItem, flow: MFlow, offered: dict[str, Any]) -> None:
        """Something the page did not offer: each must be refused and change nothing."""
        e, u, i = self.engine, it.user, it.id
        steps = [*SPECS[flow.key].steps, "nowhere"]
        calls: dict[str, Any] = {
            "end maybe": lambda: e.end(u, i, outcome="maybe"),
            "sign maybe": lambda: e.sign(u, i, decision="maybe"),
            "stale forward": lambda: e.forward(u, i, version=flow.version - 1),
            "stale end": lambda: e.end(u, i, outcome="rejected", version=flow.version + 1),
            "stale sign": lambda: e.sign(u, i, version=flow.version - 1),
            "stale return": lambda: e.return_(u, i, version=flow.version + 3),
        }
        if it.role == "host":
            calls["sign as host"] = lambda: e.sign(u, i)
            calls["finish as host"] = lambda: e.finish(u, i)
            forward = offered.get("forward")
            allowed = [o["step"] for o in forward["options"]] if forward else []
            for to in steps:
                if to not in allowed:
                    calls[f"forward to {to}"] = lambda to=to: e.forward(u, i, to=to)
            if not forward:
                calls["forward"] = lambda: e.forward(u, i)
            else:
                opt = forward["options"][0]
                strangers = [x for x in self.ids.values() if x not in opt["host"]["ids"]]
                stranger = data.draw(st.sampled_from(strangers), label="wrong host")
                calls["forward to a wrong host"] = lambda: e.forward(
                    u, i, to=opt["step"], host=stranger
                )
            if "end" not in offered:
                calls["end rejected"] = lambda: e.end(u, i, outcome="rejected")
                calls["end approved"] = lambda: e.end(u, i, outcome="approved")
            elif "approved" not in offered["end"]["outcomes"]:
                calls["end approved"] = lambda: e.end(u, i, outcome="approved")
            back = offered.get("return")
            for to in steps:
                if not back or to not in back["options"]:
                    calls[f"return to {to}"] = lambda to=to: e.return_(u, i, to=to)
            if not back:
                calls["return"] = lambda: e.return_(u, i)
        else:
            calls["forward as " + it.role] = lambda: e.forward(u, i)
            calls["end as " + it.role] = lambda: e.end(u, i, outcome="rejected")
            calls["return as " + it.role] = lambda: e.return_(u, i)
            if it.role == "co_signer":
                calls["finish as co-signer"] = lambda: e.finish(u, i)
        name = data.draw(st.sampled_from(sorted(calls)), label="invalid")
        self.attempt(
            f"{name} on item {i} ({flow.key}@{flow.state}, {it.role}) by {self.login[u]}",
            calls[name],
            expect_ok=False,
            flow_id=flow.id,
            refusal=(InvalidAction, StaleVersion, RoleNotAllowed),
        )

    @precondition(lambda self: bool(self.flows))
    @rule(data=st.data())
    def withdraw(self, data: Any) -> None:
        if data.draw(st.integers(0, 9), label="no such flow?") == 9:
            self.attempt(
                "withdraw a flow that does not exist",
                lambda: self.engine.withdraw(self.ids["huangyong"], 10**6),
                expect_ok=False,
                flow_id=None,
                refusal=(NotFound,),
            )
            return
        flow = self.flows[data.draw(st.sampled_from(sorted(self.flows)), label="flow")]
        by_initiator = data.draw(st.integers(0, 4), label="stranger?") < 4
        user = flow.initiator if by_initiator else self.ids[data.draw(st.sampled_from(LOGINS))]
        version = data.draw(
            st.sampled_from([None, flow.version, flow.version - 1]), label="version"
        )
        current = [self.items[i] for i in flow.visits[-1]]
        opened = [i for i in current if i.confirmed and i.user != flow.initiator]
        ok = (
            user == flow.initiator
            and flow.active
            and not opened
            and version in (None, flow.version)
        )
        if user != flow.initiator:
            refusal: tuple[type[BanliError], ...] = (Forbidden,)
        elif not flow.active:
            refusal = (FlowClosed,)
        elif version not in (None, flow.version):
            refusal = (StaleVersion,)
        else:
            refusal = (InvalidAction,)
        out = self.attempt(
            f"withdraw flow {flow.id} ({flow.state}) by {self.login[user]}"
            f" (opened by {[self.login[i.user] for i in opened]})",
            lambda: self.engine.withdraw(user, flow.id, reason="撤回", version=version),
            expect_ok=ok,
            flow_id=flow.id,
            refusal=refusal,
        )
        if ok:
            self.leave(flow)
            flow.state = "withdrawn"
            flow.version += 1
            assert (out.state, out.version) == ("withdrawn", flow.version)

    # --- invariants -------------------------------------------------------------------------

    @invariant()
    def invariants(self) -> None:
        """All checks in one read transaction, so they see one state of the database."""
        with self.db.read() as s:
            flows = {r.id: r for r in s.execute(select(FLOWS))}
            visits = {r.id: r for r in s.execute(select(VISITS))}
            items = {r.id: r for r in s.execute(select(ITEMS))}
            _checked, broken = verify_all(s)
            _flows, mismatches = check_all(s)
        assert broken == [], f"audit trail broken: {[str(b) for b in broken]}"
        # every row the pages show is what the flow's events, replayed, say it is
        assert mismatches == [], [str(x) for x in mismatches]
        self.one_open_host_per_active_flow(flows, items)
        self.closed_items_stay_closed(items)
        self.database_matches_model(flows, visits, items)

    def one_open_host_per_active_flow(self, flows: dict[int, Any], items: dict[int, Any]) -> None:
        open_items = [i for i in items.values() if i.status == "open"]
        for f in flows.values():
            mine = [i for i in open_items if i.flow_id == f.id]
            if f.state in CLOSED:
                assert mine == [], f"{f.state} flow {f.id} has open items {mine}"
                continue
            assert all(i.visit_id == f.current_visit_id for i in mine), (f, mine)
            assert [i.role for i in mine].count("host") == 1, (f, mine)

    def closed_items_stay_closed(self, items: dict[int, Any]) -> None:
        """Effects in order; a done or cancelled item never opens again nor changes a time."""
        for r in items.values():
            effects = [t for t in (r.delivered_at, r.confirmed_at, r.handled_at) if t is not None]
            assert effects == sorted(effects), f"item {r.id}: effects out of order {r}"
            assert (r.status == "done") == (r.handled_at is not None), r
            now = (r.status, r.delivered_at, r.confirmed_at, r.handled_at)
            if r.id in self.frozen:
                assert now == self.frozen[r.id], (
                    f"item {r.id} changed after it was closed: {self.frozen[r.id]} -> {now}"
                )
            elif r.status != "open":
                self.frozen[r.id] = now

    def database_matches_model(
        self, flows: dict[int, Any], visits: dict[int, Any], items: dict[int, Any]
    ) -> None:
        assert set(flows) == set(self.flows)
        assert set(items) == set(self.items)
        for fid, m in self.flows.items():
            f = flows[fid]
            assert (f.state, f.version, f.outcome, f.initiator_id) == (
                m.state,
                m.version,
                m.outcome,
                m.initiator,
            ), f"flow {fid}: database {f.state}/{f.version}/{f.outcome}, model {m}"
            mine = sorted((v for v in visits.values() if v.flow_id == fid), key=lambda v: v.seq)
            assert [v.step for v in mine] == m.steps
            assert [v.seq for v in mine] == list(range(1, len(m.steps) + 1))
            assert f.current_visit_id == mine[-1].id
            assert mine[-1].rejected == m.rejected
            assert all(v.left_at is not None for v in mine[:-1])
            assert (mine[-1].left_at is not None) == (not m.active)
            for seq, ids in enumerate(m.visits, 1):
                got = sorted(i.id for i in items.values() if i.visit_id == mine[seq - 1].id)
                assert got == sorted(ids), f"flow {fid} visit {seq}: items {got}, model {ids}"
        for iid, m in self.items.items():
            r = items[iid]
            assert (r.flow_id, r.user_id, r.role, r.status, r.confirmed_at is not None) == (
                m.flow,
                m.user,
                m.role,
                m.status,
                m.confirmed,
            ), f"item {iid}: database {r}, model {m}"


@pytest.fixture(scope="module")
def template(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """The organisation and definitions seeded once; every example starts from a copy."""
    path = tmp_path_factory.mktemp("props") / "template.db"
    db = Database(f"sqlite:///{path}")
    setup_engine(db, Clock())
    db.dispose()
    return path


def test_random_actions_keep_the_engines_promises(template: Path) -> None:
    EngineMachine.template = template
    EngineMachine.registry = Registry()
    run_state_machine_as_test(
        EngineMachine,
        settings=settings(
            max_examples=30,
            stateful_step_count=30,
            deadline=None,
            suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large],
        ),
    )
