"""Step reminders before a deadline and timeout actions after it, run as jobs by the worker."""

from __future__ import annotations

import re
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any
from zoneinfo import ZoneInfo

import pytest
from click.testing import CliRunner
from sqlalchemy import select

from tests.conftest import Clock, setup_engine
from tests.engine.helpers import assert_effects_in_order
from tests.engine.test_incoming_document import DOCUMENT
from workflow.audit import verify_all
from workflow.calendar import before, due_at
from workflow.cli import main
from workflow.engine import timeouts
from workflow.engine.registry import store_definition
from workflow.errors import AlreadyHandled, FlowClosed
from workflow.jobs import JOBS, JobRecord, Worker
from workflow.sheet import render_text
from workflow.sheet_pdf import render_html
from workflow.spec.lint import lint
from workflow.spec.model import Definition
from workflow.store.models import AuditEvent, Visit, WorkItem

SH = ZoneInfo("Asia/Shanghai")
TIMED = Path(__file__).resolve().parents[1] / "data" / "definitions" / "timed_review.yaml"
TITLE = "差旅费报销复核"


@pytest.fixture
def clock() -> Clock:
    # Wednesday 29 April 2026, 10:00 in Shanghai: the Labour Day holiday runs 1–5 May
    return Clock(datetime(2026, 4, 29, 2, 0, tzinfo=UTC))


@pytest.fixture
def timed(engine):
    with engine.db.write() as s:
        store_definition(s, TIMED, engine.clock())
    return engine


@pytest.fixture
def worker(engine) -> Worker:
    runner = Worker(engine.db, worker_id="test-worker")
    timeouts.register(runner, engine)
    return runner


def start(engine, people, route: str) -> int:
    """huangyong (财务部) starts a timed review that goes to the route's step."""
    return engine.start(
        people["huangyong"], "timed_review", {"title": TITLE, "route": route}
    ).flow_id


def jobs(engine, like: str) -> list[JobRecord]:
    with engine.db.read() as s:
        rows = s.execute(select(JOBS).where(JOBS.c.key.like(like)).order_by(JOBS.c.id))
        return [JobRecord.of(row) for row in rows]


def job(engine, key: str) -> JobRecord:
    (found,) = jobs(engine, key)
    return found


def visit_jobs(engine, visit_id: int) -> list[str]:
    """The keys of the remind and timeout jobs of one visit."""
    return [j.key for j in jobs(engine, "%") if j.kind in ("remind", "timeout")
            and j.payload["visit_id"] == visit_id]  # fmt: skip


def events(engine, flow_id: int, kind: str) -> list[AuditEvent]:
    with engine.db.read() as s:
        return list(
            s.scalars(
                select(AuditEvent)
                .where(AuditEvent.chain == f"flow:{flow_id}", AuditEvent.kind == kind)
                .order_by(AuditEvent.seq)
            )
        )


def visit_of(engine, flow_id: int, step: str) -> Visit:
    with engine.db.read() as s:
        return s.scalars(
            select(Visit).where(Visit.flow_id == flow_id, Visit.step == step).order_by(Visit.seq)
        ).all()[-1]


def items(engine, visit_id: int) -> list[WorkItem]:
    with engine.db.read() as s:
        return list(
            s.scalars(select(WorkItem).where(WorkItem.visit_id == visit_id).order_by(WorkItem.id))
        )


def run_at(worker: Worker, clock: Clock, at: datetime) -> Any:
    """Move the clock to ``at`` and run the jobs due then."""
    clock.now = at
    return worker.run_once(now=at)


def local(at: datetime) -> str:
    return at.astimezone(SH).strftime("%Y-%m-%d %a %H:%M")


# --- scheduling ----------------------------------------------------------------------------------


def test_entering_a_timed_step_queues_its_reminder_and_timeout_across_the_holiday(timed, people):
    fid = start(timed, people, "forward")
    review = visit_of(timed, fid, "review")
    due = due_at(review.entered_at, "2 working days", SH)
    # 2 working days from Wednesday: Thursday 30 April, then (after 1–5 May) Wednesday 6 May
    assert local(due) == "2026-05-06 Wed 10:00"
    remind = job(timed, f"remind:{review.id}")
    # one working day before: Thursday 30 April, not the holiday Tuesday 5 May
    assert remind.due_at == before(due, "1 working day", SH)
    assert local(remind.due_at) == "2026-04-30 Thu 10:00"
    assert (remind.kind, remind.status) == ("remind", "pending")
    assert remind.payload == {"flow_id": fid, "visit_id": review.id, "step": "review"}
    timeout = job(timed, f"timeout:{review.id}")
    assert (timeout.kind, timeout.due_at, timeout.payload) == ("timeout", due, remind.payload)
    # the draft has no deadline: these two are the flow's only jobs
    assert {j.key for j in jobs(timed, "%")} == {remind.key, timeout.key}


def test_a_step_with_a_reminder_and_no_timeout_queues_only_the_reminder(
    timed, people, worker, clock
):
    fid = start(timed, people, "forward")
    run_at(worker, clock, due_at(visit_of(timed, fid, "review").entered_at, "2 working days", SH))
    filing = visit_of(timed, fid, "filing")
    assert visit_jobs(timed, filing.id) == [f"remind:{filing.id}"]
    # 4 hours before the end of one working day, counted from when the system forwarded it
    due = due_at(filing.entered_at, "1 working day", SH)
    assert job(timed, f"remind:{filing.id}").due_at == due - timedelta(hours=4)


# --- reminders -----------------------------------------------------------------------------------


def test_the_reminder_goes_only_to_the_people_still_open(timed, people, item_of, worker, clock):
    fid = start(timed, people, "forward")
    host_item = item_of("qianxuejun", fid)
    timed.finish(people["linxiaoyan"], item_of("linxiaoyan", fid), opinion="票据齐全")
    version = timed.history(fid).version
    review = visit_of(timed, fid, "review")
    remind = job(timed, f"remind:{review.id}")

    stats = run_at(worker, clock, remind.due_at)
    assert (stats.claimed, stats.done) == (1, 1)
    (sms,) = jobs(timed, "deliver:remind:%")
    assert sms.key == f"deliver:remind:{review.id}:{host_item}"
    assert sms.payload["user_id"] == people["qianxuejun"]
    assert sms.payload["kind"] == "sms"
    assert sms.payload["subject"] == f"【办理提醒】{TITLE}"
    assert "部门审核" in sms.payload["body"] and "2026-05-06 10:00到期" in sms.payload["body"]
    (event,) = events(timed, fid, "remind")
    assert (event.actor_id, event.actor_name) == (None, "系统")
    assert event.data["items"] == [host_item]
    assert timed.history(fid).version == version  # a reminder changes nothing on the flow

    # run again (a worker that died before completing the job): nothing is sent twice
    assert timeouts.remind(timed, remind) == []
    assert len(jobs(timed, "deliver:remind:%")) == 1
    assert len(events(timed, fid, "remind")) == 1


# --- forward -------------------------------------------------------------------------------------


def test_timeout_forward_moves_the_flow_on_as_the_system(timed, people, item_of, worker, clock):
    fid = start(timed, people, "forward")
    host_item = item_of("qianxuejun", fid)
    handler_item = item_of("linxiaoyan", fid)
    timed.open(people["qianxuejun"], host_item)  # read, never handled
    review = visit_of(timed, fid, "review")
    version = timed.history(fid).version

    timeout = job(timed, f"timeout:{review.id}")
    stats = run_at(worker, clock, timeout.due_at + timedelta(minutes=1))
    assert stats.failed == 0 and job(timed, timeout.key).status == "done"

    record = timed.history(fid)
    assert (record.state, record.version) == ("filing", version + 1)
    left, filing = record.visits[-2:]
    assert (left.step, left.timeout) == ("review", "forward")
    assert (filing.step, filing.via) == ("filing", "forward")
    assert left.left_at is not None
    # the host read it but did not handle it: no handling effect, closed by the system
    host = next(p for p in left.people if p.role == "host")
    assert (host.name, host.status) == ("钱学军", "cancelled")
    assert host.handled_at is None and host.action is None
    assert host.confirmed_at is not None
    parts = {p.name: p for p in left.people}
    assert parts["林晓燕"].status == "cancelled"
    assert [i.closed_by for i in items(timed, review.id)] == [None, None]
    assert visit_of(timed, fid, "review").left_by is None
    assert visit_of(timed, fid, "filing").entered_by is None
    # the next step's people, as the definition names them, without a choice
    assert [(p.name, p.role, p.status) for p in filing.people] == [
        ("赵敏", "host", "open"),
        ("杨帆", "co_signer", "open"),
    ]
    item_of("zhaomin", fid)
    item_of("yangfan", fid)

    (event,) = events(timed, fid, "timeout")
    assert (event.actor_id, event.actor_name) == (None, "系统")
    assert event.data == {
        "action": "forward",
        "step": "review",
        "visit": left.seq,
        "to": "filing",
        "item": host_item,
        "cancelled": [handler_item],
    }
    deliver = events(timed, fid, "deliver")[-1]
    assert (deliver.actor_id, deliver.actor_name, deliver.data["step"]) == (None, "系统", "filing")
    assert not [r for r in timed.done(people["qianxuejun"]) if r.flow_id == fid]
    assert_effects_in_order(timed, fid)
    with timed.db.read() as s:
        assert verify_all(s)[1] == []

    # the host comes back to an item the system has moved on
    with pytest.raises(AlreadyHandled, match="already handled by the system at 2026-05-06 10:01"):
        timed.forward(people["qianxuejun"], host_item)


def test_the_record_and_the_sheets_show_the_system_moving_the_step_on(timed, people, worker, clock):
    fid = start(timed, people, "forward")
    review = visit_of(timed, fid, "review")
    run_at(worker, clock, job(timed, f"timeout:{review.id}").due_at)
    record = timed.history(fid)
    with timed.db.read() as s:
        spec = timed.registry.get(s, record.definition_id).spec
    text = render_text(record, spec, timed.stamp)
    (line,) = [x for x in text.splitlines() if x.startswith("2. 部门审核")]
    assert line.endswith("系统：超时自动转交")
    assert re.search(r"主办 钱学军（财务部）\s+未办理（已关闭）", text)
    zh = render_html(record, spec, timed.stamp, "", "zh")
    assert "2. 部门审核 (系统：超时自动转交)" in zh
    en = render_html(record, spec, timed.stamp, "", "en")
    assert "2. Department review (System: Forwarded automatically on timeout)" in en


def test_a_forward_the_system_cannot_choose_for_is_escalated_with_the_reason(
    timed, people, item_of, worker, clock
):
    fid = start(timed, people, "choose")
    visit = visit_of(timed, fid, "choosing")
    run_at(worker, clock, job(timed, f"timeout:{visit.id}").due_at)
    record = timed.history(fid)
    assert (record.state, record.visits[-1].timeout) == ("choosing", "escalate")
    (event,) = events(timed, fid, "timeout")
    assert event.data["action"] == "escalate" and event.data["planned"] == "forward"
    assert event.data["reason"].startswith("cannot forward: choose the host of step 'leaders'")
    item_of("zhangjianguo", fid)  # 钱学军 heads 财务部: the head of the company above


# --- end -----------------------------------------------------------------------------------------


def test_timeout_end_ends_the_flow_approved_as_the_system(timed, people, item_of, worker, clock):
    fid = start(timed, people, "end")
    host_item = item_of("qianxuejun", fid)
    visit = visit_of(timed, fid, "closing")
    timeout = job(timed, f"timeout:{visit.id}")
    assert timeout.due_at == visit.entered_at + timedelta(hours=4)
    run_at(worker, clock, timeout.due_at + timedelta(seconds=5))

    record = timed.history(fid)
    assert (record.state, record.outcome) == ("ended", "approved")
    assert record.ended_at is not None and record.visits[-1].timeout == "end"
    (host,) = record.visits[-1].people
    assert (host.status, host.handled_at, host.action) == ("cancelled", None, None)
    (event,) = events(timed, fid, "timeout")
    assert (event.actor_id, event.actor_name) == (None, "系统")
    assert event.data == {
        "action": "end",
        "step": "closing",
        "visit": 2,
        "to": None,
        "item": host_item,
        "outcome": "approved",
        "cancelled": [],
    }
    with pytest.raises(FlowClosed, match="already ended by the system"):
        timed.end(people["qianxuejun"], host_item)
    assert_effects_in_order(timed, fid)


# --- escalate ------------------------------------------------------------------------------------


def test_escalate_hands_the_hosts_part_to_the_head_of_their_unit(
    timed, people, item_of, worker, clock
):
    fid = start(timed, people, "escalate")
    old = item_of("linxiaoyan", fid)
    visit = visit_of(timed, fid, "escalation")
    version = timed.history(fid).version
    run_at(worker, clock, visit.entered_at + timedelta(minutes=31))

    record = timed.history(fid)
    assert (record.state, record.version) == ("escalation", version + 1)
    (same,) = [v for v in record.visits if v.step == "escalation"]
    assert same.timeout == "escalate" and same.left_at is None
    assert [(p.name, p.role, p.status, p.handled_at) for p in same.people] == [
        ("林晓燕", "host", "cancelled", None),
        ("钱学军", "host", "open", None),
    ]
    new = item_of("qianxuejun", fid)
    assert [i.closed_by for i in items(timed, visit.id)] == [None, None]
    (event,) = events(timed, fid, "timeout")
    assert (event.actor_id, event.actor_name) == (None, "系统")
    assert event.data == {
        "action": "escalate",
        "step": "escalation",
        "visit": 2,
        "to": None,
        "item": old,
        "host": people["linxiaoyan"],
        "superior": people["qianxuejun"],
        "delivered": [new],
    }
    # the superior gets a DING at once; nothing new is scheduled for the visit
    (ding,) = jobs(timed, "deliver:escalate:%")
    assert ding.key == f"deliver:escalate:{new}"
    assert (ding.payload["user_id"], ding.payload["kind"]) == (people["qianxuejun"], "sms")
    assert (
        ding.payload["subject"] == f"【超时上报】{TITLE}" and "林晓燕未办理" in ding.payload["body"]
    )
    assert visit_jobs(timed, visit.id) == [f"timeout:{visit.id}"]
    with pytest.raises(AlreadyHandled, match="by the system"):
        timed.end(people["linxiaoyan"], old)

    # the superior handles it like any host
    timed.end(people["qianxuejun"], new, opinion="同意")
    assert timed.history(fid).outcome == "approved"
    assert_effects_in_order(timed, fid)
    with timed.db.read() as s:
        assert verify_all(s)[1] == []


def test_a_unit_head_is_escalated_to_the_head_of_the_unit_above(
    timed, people, item_of, worker, clock
):
    fid = start(timed, people, "escalate_head")
    old = item_of("qianxuejun", fid)
    visit = visit_of(timed, fid, "head_escalation")
    run_at(worker, clock, visit.entered_at + timedelta(days=1, seconds=1))
    new = item_of("zhangjianguo", fid)
    (event,) = events(timed, fid, "timeout")
    assert (event.data["item"], event.data["superior"], event.data["delivered"]) == (
        old,
        people["zhangjianguo"],
        [new],
    )


def test_superior_is_the_nearest_head_who_is_not_the_person(timed, people):
    with timed.db.read() as s:
        assert timeouts.superior(s, people["linxiaoyan"]) == people["qianxuejun"]
        assert timeouts.superior(s, people["qianxuejun"]) == people["zhangjianguo"]
        assert timeouts.superior(s, people["liming"]) == people["zhangjianguo"]
        # the general manager heads the top unit: nobody is above him
        assert timeouts.superior(s, people["zhangjianguo"]) is None


def test_the_shipped_incoming_document_escalates_a_proposal_not_made_in_a_working_day(
    engine, people, item_of, worker, clock
):
    fid = engine.start(people["wangfang"], "incoming_document", DOCUMENT).flow_id
    item_of("liming", fid)
    propose = visit_of(engine, fid, "propose")
    timeout = job(engine, f"timeout:{propose.id}")
    # entered Wednesday 29 April: due Thursday 30 April, reminded two hours before
    assert local(timeout.due_at) == "2026-04-30 Thu 10:00"
    assert job(engine, f"remind:{propose.id}").due_at == timeout.due_at - timedelta(hours=2)
    run_at(worker, clock, timeout.due_at)
    # 李明 heads the office: the head of the company above it
    item_of("zhangjianguo", fid)
    assert engine.history(fid).visits[-1].timeout == "escalate"


def test_the_shipped_archive_use_goes_on_to_the_archivist_when_not_reviewed_in_time(
    engine, people, item_of, worker, clock
):
    form = {"archive_name": "滨江花园项目竣工图", "archive_number": "GC-2019-031",
            "purpose": "consult", "reason": "编制改造方案。"}  # fmt: skip
    fid = engine.start(people["huzhigang"], "archive_use", form).flow_id
    review = visit_of(engine, fid, "dept_review")
    run_at(worker, clock, job(engine, f"timeout:{review.id}").due_at)
    record = engine.history(fid)
    assert record.state == "archivist_review" and record.visits[-2].timeout == "forward"
    item_of("zhaomin", fid)  # the archivist has it, and still decides
    [event] = events(engine, fid, "timeout")
    assert (event.actor_id, event.actor_name, event.data["to"]) == (
        None,
        "系统",
        "archivist_review",
    )


# --- idempotency ---------------------------------------------------------------------------------


def test_jobs_of_a_visit_that_moved_on_do_nothing(timed, people, item_of, worker, clock):
    fid = start(timed, people, "forward")
    review = visit_of(timed, fid, "review")
    timed.forward(people["qianxuejun"], item_of("qianxuejun", fid), opinion="同意")
    version = timed.history(fid).version
    filing = visit_of(timed, fid, "filing")
    stats = run_at(worker, clock, job(timed, f"timeout:{review.id}").due_at + timedelta(hours=1))
    # the review's reminder and timeout are done and did nothing; the filing's reminder reminded
    assert (stats.claimed, stats.done) == (3, 3)
    assert job(timed, f"remind:{review.id}").status == "done"
    assert job(timed, f"timeout:{review.id}").status == "done"
    assert timed.history(fid).version == version
    assert events(timed, fid, "timeout") == []
    assert [e.data["step"] for e in events(timed, fid, "remind")] == ["filing"]
    assert {j.key.rsplit(":", 1)[0] for j in jobs(timed, "deliver:%")} == {
        f"deliver:remind:{filing.id}"
    }


def test_a_timeout_after_a_withdrawal_does_nothing(timed, people, worker, clock):
    fid = start(timed, people, "end")
    visit = visit_of(timed, fid, "closing")
    timed.withdraw(people["huangyong"], fid)
    run_at(worker, clock, job(timed, f"timeout:{visit.id}").due_at)
    record = timed.history(fid)
    assert (record.state, record.outcome) == ("withdrawn", None)
    assert events(timed, fid, "timeout") == []


def test_the_same_timeout_job_run_twice_acts_once(timed, people, clock):
    fid = start(timed, people, "escalate")
    visit = visit_of(timed, fid, "escalation")
    timeout = job(timed, f"timeout:{visit.id}")
    clock.now = timeout.due_at
    assert timeouts.timeout(timed, timeout) == "escalate"
    version = timed.history(fid).version
    assert timeouts.timeout(timed, timeout) is None  # the visit is still current: the chain says
    assert timed.history(fid).version == version
    assert len(events(timed, fid, "timeout")) == 1
    assert len(items(timed, visit.id)) == 2

    fid = start(timed, people, "forward")
    review = visit_of(timed, fid, "review")
    timeout = job(timed, f"timeout:{review.id}")
    clock.now = timeout.due_at
    assert timeouts.timeout(timed, timeout) == "forward"
    assert timeouts.timeout(timed, timeout) is None
    assert [v.step for v in timed.history(fid).visits] == ["draft", "review", "filing"]


def test_banli_worker_runs_the_timeouts(timed, people, item_of, tmp_path, monkeypatch):
    fid = start(timed, people, "escalate")  # due in April 2026: the worker's real clock is later
    monkeypatch.delenv("BANLI_SMTP_HOST", raising=False)
    monkeypatch.setenv("BANLI_OUTBOX", str(tmp_path / "outbox.jsonl"))
    url = timed.db.engine.url.render_as_string(hide_password=False)
    result = CliRunner().invoke(main, ["--db", url, "worker", "--once"], catch_exceptions=False)
    assert result.exit_code == 0, result.output
    assert "0 failed" in result.output
    item_of("qianxuejun", fid)


# --- checks --------------------------------------------------------------------------------------

NAME = {"zh": "名", "en": "Name"}


def memo(**review: Any) -> Definition:
    return Definition.model_validate({"id": "memo", "name": NAME, "steps": {
        "draft": {"name": NAME, "host": "initiator", "next": ["review"]},
        "review": {"name": NAME, "host": {"role": "clerk"}, "deadline": "2 days", **review},
        "done": {"name": NAME, "host": {"role": "clerk"}, "can_end": True},
        "pick": {"name": NAME, "host": {"choose_from": [{"role": "clerk"}]}, "can_end": True},
        "helpers": {"name": NAME, "host": {"user": "wangfang"}, "can_end": True,
                    "handlers": {"choose_from": ["anyone"], "min": 1}},
    }})  # fmt: skip


def problems(**review: Any) -> list[str]:
    return [p.removeprefix("memo.yaml:1: ") for p in lint(memo(**review), {}, "memo.yaml")]


def test_a_sound_timeout_passes_the_checks() -> None:
    allowed = {"next": ["done", "pick", "helpers"], "can_end": True}
    assert problems(**allowed, remind_before="1 day", on_timeout={"action": "end"}) == []
    assert problems(**allowed, on_timeout={"action": "escalate"}) == []
    assert problems(**allowed, on_timeout={"action": "forward", "to": "done"}) == []
    assert problems(next=["done"], on_timeout={"action": "forward"}, remind_before="47 hours") == [
        "step 'pick' cannot be reached from the first step 'draft'",
        "step 'helpers' cannot be reached from the first step 'draft'",
    ]


@pytest.mark.parametrize(
    ("review", "message"),
    [
        ({"next": ["done"], "on_timeout": {"action": "forward", "to": "pick"}},
         "step 'review': on_timeout forwards to 'pick', which is not a next step of 'review' "
         "(next: done)"),
        ({"next": ["done", "pick"], "on_timeout": {"action": "forward"}},
         "step 'review': on_timeout forwards but names no 'to', and the step has several "
         "(done, pick)"),
        ({"next": ["pick", "done"], "on_timeout": {"action": "forward", "to": "pick"}},
         "step 'review': on_timeout cannot forward to 'pick': its host is chosen (choose_from); "
         "the system chooses nobody"),
        ({"next": ["helpers", "done"], "on_timeout": {"action": "forward", "to": "helpers"}},
         "step 'review': on_timeout cannot forward to 'helpers': its handlers are chosen "
         "(choose_from with min 1); the system chooses nobody"),
        ({"next": ["done"], "on_timeout": {"action": "end"}},
         "step 'review': on_timeout ends the flow, but the step cannot end it (it has no "
         "can_end: true)"),
        ({"next": ["done"], "can_end": True, "on_timeout": {"action": "escalate", "to": "done"}},
         "step 'review': on_timeout.to is given but escalate goes to no step"),
        ({"next": ["done"], "remind_before": "48 hours"},
         "step 'review': remind_before '48 hours' is not shorter than the deadline '2 days'"),
    ],
)  # fmt: skip
def test_a_timeout_the_system_cannot_do_is_refused(review: dict[str, Any], message: str) -> None:
    found = [p for p in problems(**review) if "cannot be reached" not in p]
    assert found == [message]


def test_reminders_and_timeouts_on_postgresql(pg_db):
    clock = Clock(datetime(2026, 4, 29, 2, 0, tzinfo=UTC))
    engine, people = setup_engine(pg_db, clock)
    with engine.db.write() as s:
        store_definition(s, TIMED, engine.clock())
    runner = Worker(engine.db, worker_id="pg-worker")
    timeouts.register(runner, engine)
    forward, escalate = start(engine, people, "forward"), start(engine, people, "escalate")
    run_at(runner, clock, clock.now + timedelta(days=10))
    assert engine.history(forward).state == "filing"
    assert engine.history(escalate).visits[-1].timeout == "escalate"
    assert [e.data["step"] for e in events(engine, forward, "remind")] == ["review"]
    with engine.db.read() as s:
        assert verify_all(s)[1] == []
    # the same jobs again: nothing more happens
    for record in jobs(engine, "timeout:%"):
        assert timeouts.timeout(engine, record) is None
