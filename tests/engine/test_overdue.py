"""Overdue work: a step's deadline counted from when the flow entered it, by the engine's clock."""

from __future__ import annotations

from zoneinfo import ZoneInfo

from tests.engine.test_contract_review import to_countersign
from workflow.calendar import due_at

SH = ZoneInfo("Asia/Shanghai")
SIGNERS = ("liming", "yangfan", "linxiaoyan")  # the countersign's host and its co-signers


def todo_row(engine, user_id, flow_id):
    (row,) = [r for r in engine.worklist(user_id, "todo").rows if r.flow_id == flow_id]
    return row


def countersign_visit(engine, flow_id):
    return [v for v in engine.history(flow_id).visits if v.step == "countersign"][-1]


def test_countersign_is_due_three_working_days_after_it_arrives(engine, people, item_of):
    fid = to_countersign(engine, people, item_of, "680000")
    visit = countersign_visit(engine, fid)
    # the test clock starts on Monday 2 March 2026, 09:00 in Shanghai: due Thursday 5 March
    assert visit.entered_at.astimezone(SH).date().isoformat() == "2026-03-02"
    assert visit.due_at == due_at(visit.entered_at, "3 working days", SH)
    assert visit.due_at.astimezone(SH).date().isoformat() == "2026-03-05"
    assert not visit.overdue
    for login in SIGNERS:
        row = todo_row(engine, people[login], fid)
        assert (row.due_at, row.overdue) == (visit.due_at, False)
    # the steps already left keep their due time and are never overdue
    (dept,) = [v for v in engine.history(fid).visits if v.step == "dept_review"]
    assert dept.due_at is not None and not dept.overdue
    # the draft step has no deadline
    assert engine.history(fid).visits[0].due_at is None


def test_past_its_due_time_countersign_is_overdue_for_everyone_still_on_it(
    engine, people, item_of, clock
):
    fid = to_countersign(engine, people, item_of, "680000")
    due = countersign_visit(engine, fid).due_at
    clock.advance(seconds=(due - clock.now).total_seconds() - 60)
    assert not countersign_visit(engine, fid).overdue
    clock.advance(minutes=2)
    assert clock.now > due
    assert countersign_visit(engine, fid).overdue
    for login in SIGNERS:
        row = todo_row(engine, people[login], fid)
        assert row.overdue and row.due_at == due
    (started,) = [
        r for r in engine.worklist(people["huangyong"], "started").rows if r.flow_id == fid
    ]
    assert started.overdue


def test_a_handled_item_is_never_overdue(engine, people, item_of, clock):
    fid = to_countersign(engine, people, item_of, "680000")
    engine.sign(people["yangfan"], item_of("yangfan", fid), opinion="条款合规")
    clock.advance(days=10)
    (done,) = [r for r in engine.worklist(people["yangfan"], "done").rows if r.flow_id == fid]
    assert done.item_status == "done" and not done.overdue
    (dept_done,) = [
        r for r in engine.worklist(people["qianxuejun"], "done").rows if r.flow_id == fid
    ]
    assert not dept_done.overdue
    # the co-signer still on it is overdue
    assert todo_row(engine, people["linxiaoyan"], fid).overdue


def test_a_new_step_starts_its_own_deadline(engine, people, item_of, clock):
    fid = to_countersign(engine, people, item_of, "680000")
    clock.advance(days=10)
    engine.sign(people["yangfan"], item_of("yangfan", fid), opinion="条款合规")
    engine.sign(people["linxiaoyan"], item_of("linxiaoyan", fid), opinion="预算已落实")
    engine.forward(people["liming"], item_of("liming", fid), host=people["chenzhiqiang"])
    record = engine.history(fid)
    assert not any(v.overdue for v in record.visits)
    leader = record.visits[-1]
    assert leader.step == "leader_review" and leader.due_at > clock.now
    assert not todo_row(engine, people["chenzhiqiang"], fid).overdue


def test_a_withdrawn_flow_is_not_overdue(engine, people, clock):
    flow = engine.start(people["huangyong"], "contract_review", {
        "title": "t", "counterparty": "c", "amount": "1", "contract_type": "purchase",
        "summary": "s",
    })  # fmt: skip
    engine.withdraw(people["huangyong"], flow.flow_id, reason="重拟")
    clock.advance(days=30)
    record = engine.history(flow.flow_id)
    assert record.state == "withdrawn"
    assert not any(v.overdue for v in record.visits)
    (started,) = [
        r for r in engine.worklist(people["huangyong"], "started").rows if r.flow_id == flow.flow_id
    ]
    assert started.due_at is None and not started.overdue


# --- the pages: the web app's fixtures (app, client, auth), on this test's engine and clock ---

from tests.web.conftest import app, auth, client, compiled_catalogs  # noqa: E402, F401


def test_the_workbench_and_the_flow_page_mark_overdue_work(app, client, auth, clock):  # noqa: F811
    engine, people = app.extensions["banli"], app.config["PEOPLE"]

    def item_of(login, flow_id):
        (row,) = [r for r in engine.inbox(people[login]) if r.flow_id == flow_id]
        return row.item_id

    fid = to_countersign(engine, people, item_of, "680000")
    due = engine.stamp(countersign_visit(engine, fid).due_at)
    auth.login("liming")
    flow_page = client.get(f"/flows/{fid}").text
    item_page = client.get(f"/items/{item_of('liming', fid)}").text
    for page in (flow_page, item_page):
        assert due in page and "mark-overdue" not in page
    assert "mark-overdue" not in client.get("/").text

    clock.advance(days=7)
    for page in (
        client.get(f"/flows/{fid}").text,
        client.get(f"/items/{item_of('liming', fid)}").text,
    ):
        assert 'class="mark-overdue"' in page
        assert "已超期" in page or "Overdue" in page
    home = client.get("/").text
    row = home[home.index(f'data-flow="{fid}"') :].split("</tr>")[0]
    assert (
        'class="mark-overdue"' in row and engine.local(countersign_visit(engine, fid).due_at) in row
    )
