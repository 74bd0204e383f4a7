"""Messages as flows of definitions/message.yaml: receipts, reply, relay, delete, revoke, DING."""

from __future__ import annotations

from concurrent.futures import ThreadPoolExecutor
from datetime import timedelta

import pytest
from sqlalchemy import func, select, update

from tests.conftest import setup_engine
from tests.engine.test_urge import SafeClock
from workflow import messages as m
from workflow.audit import verify_all
from workflow.channels import ChannelError, Outgoing, Receipt, RecordingChannel
from workflow.delivery import make_deliver_handler
from workflow.errors import FlowClosed, Forbidden, FormInvalid, InvalidAction, NotFound
from workflow.jobs import Worker
from workflow.settings import Settings
from workflow.store.db import Database
from workflow.store.models import AuditEvent, Ding, DingCount, Flow, Job, Unit, User, WorkItem
from workflow.urge import DingQuotaExceeded


def notice(engine, people, *to, **kw):
    return m.send(
        engine,
        people["liming"],
        subject=kw.pop("subject", "周五下午开会"),
        body=kw.pop("body", "请各位周五14:00到三楼会议室开会。"),
        to_users=[people[p] for p in to],
        **kw,
    )


def statuses(engine, people, flow_id, viewer="liming"):
    return {r.name: r.status for r in m.receipts(engine, people[viewer], flow_id)}


def item(engine, people, login, flow_id):
    (row,) = [r for r in m.received(engine, people[login]).rows if r.flow_id == flow_id]
    return row.item_id


def chain_ok(engine):
    with engine.db.read() as s:
        assert verify_all(s)[1] == []


def test_a_message_is_a_flow_with_one_item_per_recipient(engine, people):
    out = notice(engine, people, "wangfang", "huangyong")
    assert out.state == "sent" and len(out.delivered) == 3  # the sender's own item and two
    with engine.db.read() as s:
        flow = s.get(Flow, out.flow_id)
        assert (flow.kind, flow.title) == ("message", "周五下午开会")
        roles = sorted(
            (i.role, i.delivered_at is None)
            for i in s.scalars(select(WorkItem).where(WorkItem.flow_id == out.flow_id))
        )
        kinds = s.scalars(
            select(AuditEvent.kind)
            .where(AuditEvent.flow_id == out.flow_id)
            .order_by(AuditEvent.seq)
        ).all()
    # compose (handled at once by sending), then the sent step: sender + two recipients
    assert roles == [("recipient", True), ("recipient", True), ("sender", False), ("sender", False)]
    assert kinds == ["start", "deliver", "forward", "send"]
    assert statuses(engine, people, out.flow_id) == {"王芳": "sent", "黄勇": "sent"}
    # messages live in the message list, not on the workbench
    assert engine.tab_counts(people["wangfang"]) == {
        "todo": 0, "done": 0, "started": 0, "circulated": 0}  # fmt: skip
    assert engine.worklist(people["liming"], "started").total == 0
    assert "message" not in [key for key, _ in engine.approval_types()]
    assert m.unread_count(engine, people["wangfang"]) == 1
    chain_ok(engine)


def test_receipts_go_sent_delivered_read_with_times(engine, people, clock):
    out = notice(engine, people, "wangfang", "huangyong")
    assert m.mark_delivered(engine, people["wangfang"]) == 1
    assert m.mark_delivered(engine, people["wangfang"]) == 0  # once
    assert statuses(engine, people, out.flow_id) == {"王芳": "delivered", "黄勇": "sent"}
    m.read(engine, people["huangyong"], item(engine, people, "huangyong", out.flow_id))
    got = {r.name: r for r in m.receipts(engine, people["liming"], out.flow_id)}
    assert got["黄勇"].status == "read"
    # opening delivers too: a read message was delivered no later than it was read
    assert got["黄勇"].delivered_at == got["黄勇"].confirmed_at
    assert got["王芳"].delivered_at < got["黄勇"].confirmed_at
    assert m.unread_count(engine, people["huangyong"]) == 0
    rows = m.sent(engine, people["liming"]).rows
    assert [(r.recipients, r.read, r.failed) for r in rows] == [(2, 1, 0)]
    chain_ok(engine)


def test_the_navigations_fetch_delivers_then_counts_the_unread(engine, people):
    """fetch_unread (each page's badge) = mark_delivered then unread_count, in one read when
    nothing is left to deliver."""
    out = notice(engine, people, "wangfang", "huangyong")
    notice(engine, people, "wangfang")
    assert m.fetch_unread(engine, people["wangfang"]) == 2
    assert statuses(engine, people, out.flow_id) == {"王芳": "delivered", "黄勇": "sent"}
    assert m.mark_delivered(engine, people["wangfang"]) == 0  # already delivered
    m.read(engine, people["wangfang"], item(engine, people, "wangfang", out.flow_id))
    assert (
        m.fetch_unread(engine, people["wangfang"])
        == 1
        == m.unread_count(engine, people["wangfang"])
    )
    chain_ok(engine)


def test_units_are_expanded_at_send_time_without_the_sender(engine, people):
    with engine.db.read() as s:
        office = s.scalar(select(Unit.id).where(Unit.name == "办公室"))
        members = set(
            s.scalars(select(User.id).where(User.unit_id == office, User.status == "active"))
        )
    out = m.send(engine, people["liming"], subject="办公室通知", to_units=[office])
    got = {r.user_id for r in m.receipts(engine, people["liming"], out.flow_id)}
    assert got == members - {people["liming"]} and got
    # someone joining the unit afterwards does not receive the message sent before
    with engine.db.write() as s:
        s.execute(update(User).where(User.id == people["huangyong"]).values(unit_id=office))
    assert len(m.receipts(engine, people["liming"], out.flow_id)) == len(got)


@pytest.mark.parametrize(
    ("kwargs", "error", "text"),
    [
        ({"to_users": []}, InvalidAction, "no recipient"),
        ({"to_users": [999999]}, NotFound, "no user with id 999999"),
        ({"to_units": [999999]}, NotFound, "no unit with id 999999"),
        ({"subject": ""}, FormInvalid, "subject"),
        ({"subject": "长" * 201}, FormInvalid, "subject"),
    ],
)
def test_bad_sends_are_refused_and_write_nothing(engine, people, kwargs, error, text):
    args = {"subject": "通知", "to_users": [people["wangfang"]], **kwargs}
    with pytest.raises(error) as exc:
        m.send(engine, people["liming"], **args)
    assert text in str(exc.value)
    with engine.db.read() as s:
        assert s.scalar(select(func.count()).select_from(Flow)) == 0


def test_sending_only_to_oneself_has_no_recipient(engine, people):
    with pytest.raises(InvalidAction, match="no recipient"):
        m.send(engine, people["liming"], subject="x", to_users=[people["liming"]])


def test_reply_and_relay_handle_the_item_and_start_linked_messages(engine, people):
    files = [
        {"sha256": "a" * 64, "name": "议程.pdf", "size": 10, "content_type": "application/pdf"}
    ]
    out = notice(engine, people, "wangfang", "huangyong")
    with engine.db.write() as s:  # a stored file the relay must carry over, as the form holds it
        s.execute(update(Flow).where(Flow.id == out.flow_id).values(
            form={**s.get(Flow, out.flow_id).form, "attachments": files}))  # fmt: skip
    wang = item(engine, people, "wangfang", out.flow_id)
    back = m.reply(engine, people["wangfang"], wang, body="收到，准时参加。")
    view = m.view(engine, people["liming"], back.flow_id)
    assert (view.subject, view.reply_to, view.body) == (
        "回复：周五下午开会",
        out.flow_id,
        "收到，准时参加。",
    )
    assert statuses(engine, people, back.flow_id, viewer="wangfang") == {"李明": "sent"}
    # a second reply is another message; the item keeps its first handling
    m.reply(engine, people["wangfang"], wang, body="另：我带投影仪。")
    huang = item(engine, people, "huangyong", out.flow_id)
    relayed = m.relay(engine, people["huangyong"], huang, to_users=[people["linxiaoyan"]],
                      note="请一起参加")  # fmt: skip
    rv = m.view(engine, people["linxiaoyan"], relayed.flow_id)
    assert rv.subject == "转发：周五下午开会" and rv.relayed_from == out.flow_id
    assert rv.body.startswith("请一起参加") and "发件人：李明" in rv.body
    assert rv.attachments == files
    assert statuses(engine, people, out.flow_id) == {"王芳": "replied", "黄勇": "relayed"}
    with pytest.raises(InvalidAction, match="only a recipient"):
        m.reply(engine, people["liming"], _sender_item(engine, out.flow_id), body="x")
    with pytest.raises(Forbidden):  # not her item
        m.reply(engine, people["linxiaoyan"], wang, body="x")
    chain_ok(engine)


def _sender_item(engine, flow_id):
    with engine.db.read() as s:
        return s.scalar(
            select(WorkItem.id).where(WorkItem.flow_id == flow_id, WorkItem.role == "sender")
            .order_by(WorkItem.id.desc()).limit(1)
        )  # fmt: skip


def test_delete_hides_the_message_for_that_person_only(engine, people):
    out = notice(engine, people, "wangfang", "huangyong")
    wang = item(engine, people, "wangfang", out.flow_id)
    m.delete(engine, people["wangfang"], wang)
    assert m.received(engine, people["wangfang"]).total == 0
    assert m.received(engine, people["huangyong"]).total == 1
    assert statuses(engine, people, out.flow_id) == {"王芳": "deleted", "黄勇": "sent"}
    before = m.view(engine, people["liming"], out.flow_id).version
    m.delete(engine, people["wangfang"], wang)  # twice: nothing more happens
    assert m.view(engine, people["liming"], out.flow_id).version == before
    # the sender deletes it from the sent list: recipients keep it
    m.delete(engine, people["liming"], _sender_item(engine, out.flow_id))
    assert m.sent(engine, people["liming"]).total == 0
    assert m.received(engine, people["huangyong"]).total == 1
    chain_ok(engine)


def test_revoke_within_the_time_then_recipients_see_it_revoked(engine, people, clock):
    out = notice(engine, people, "wangfang", "huangyong")
    m.read(engine, people["wangfang"], item(engine, people, "wangfang", out.flow_id))
    with pytest.raises(Forbidden, match="only the sender"):
        m.revoke(engine, people["wangfang"], out.flow_id)
    until = m.view(engine, people["liming"], out.flow_id).revoke_until
    assert until is not None
    done = m.revoke(engine, people["liming"], out.flow_id)
    assert done.state == "withdrawn"
    seen = m.view(engine, people["huangyong"], out.flow_id)
    assert seen.revoked and seen.body is None and seen.attachments == []
    assert m.view(engine, people["liming"], out.flow_id).body  # the sender still has the text
    [row] = m.received(engine, people["huangyong"]).rows
    assert row.revoked and not row.unread
    assert statuses(engine, people, out.flow_id) == {"王芳": "read", "黄勇": "revoked"}
    with engine.db.read() as s:
        assert s.get(Flow, out.flow_id).outcome == "revoked"
    with pytest.raises(FlowClosed, match="this message was already revoked by 李明"):
        m.revoke(engine, people["liming"], out.flow_id)
    with pytest.raises(FlowClosed):
        m.reply(engine, people["huangyong"], row.item_id, body="?")
    chain_ok(engine)


def test_revoke_is_refused_after_the_allowed_time(engine, people, clock):
    out = notice(engine, people, "wangfang")
    clock.advance(hours=24, seconds=1)
    with pytest.raises(m.RevokeExpired, match="24 hours"):
        m.revoke(engine, people["liming"], out.flow_id)
    assert m.view(engine, people["liming"], out.flow_id).revoke_until is None
    assert m.view(engine, people["wangfang"], out.flow_id).body


def test_ding_goes_to_the_unconfirmed_and_is_confirmed_by_a_click(engine, people):
    out = notice(engine, people, "wangfang", "huangyong", "linxiaoyan")
    m.read(engine, people["wangfang"], item(engine, people, "wangfang", out.flow_id))
    got = m.ding(engine, people["liming"], out.flow_id)
    assert sorted(got.user_ids) == sorted([people["huangyong"], people["linxiaoyan"]])
    assert got.used == 1  # one DING, however many people
    with engine.db.read() as s:
        jobs = s.execute(select(Job.payload).where(Job.key.like("deliver:ding:%"))).scalars().all()
        dings = s.scalars(select(Ding).order_by(Ding.id)).all()
    assert [j["user_id"] for j in jobs] == got.user_ids and {j["kind"] for j in jobs} == {"sms"}
    assert all(j["subject"] == "【DING】周五下午开会" for j in jobs)
    assert [d.status for d in dings] == ["sent", "sent"]
    huang = item(engine, people, "huangyong", out.flow_id)
    assert m.view(engine, people["huangyong"], out.flow_id).ding_pending
    assert m.confirm_ding(engine, people["huangyong"], huang) == 1
    assert m.confirm_ding(engine, people["huangyong"], huang) == 0  # a double click
    assert not m.view(engine, people["huangyong"], out.flow_id).ding_pending
    got = {r.name: r for r in m.receipts(engine, people["liming"], out.flow_id)}
    assert got["黄勇"].status == "read" and got["黄勇"].ding.confirmed_at is not None
    assert got["林晓燕"].ding.confirmed_at is None and got["王芳"].ding is None
    # only林晓燕 is left; naming someone who is not a recipient is refused
    with pytest.raises(InvalidAction, match="not a recipient"):
        m.ding(engine, people["liming"], out.flow_id, user_ids=[people["zhaomin"]])
    with pytest.raises(m.NobodyToDing):
        m.ding(engine, people["liming"], out.flow_id, user_ids=[people["wangfang"]])
    with pytest.raises(Forbidden):
        m.ding(engine, people["wangfang"], out.flow_id)
    with engine.db.read() as s:
        assert s.scalars(select(DingCount.count)).all() == [1]  # refusals took no DING
    chain_ok(engine)


def test_a_direct_ding_and_the_daily_limit(engine, people, monkeypatch):
    monkeypatch.setattr(engine, "settings", Settings.defaults(ding_limit=2))
    meeting = m.send(engine, people["liming"], subject="明早8点安全检查", category="work",
                     to_users=[people["wangfang"]], ding=True, channel="voice")  # fmt: skip
    with engine.db.read() as s:
        assert s.scalars(select(Ding.channel)).all() == ["voice"]
    notice(engine, people, "huangyong", ding=True)
    with pytest.raises(DingQuotaExceeded, match="today's limit of 2 DINGs"):
        notice(engine, people, "linxiaoyan", subject="第三条", ding=True)
    with pytest.raises(DingQuotaExceeded):
        m.ding(engine, people["liming"], meeting.flow_id)
    with engine.db.read() as s:  # the refused send left nothing behind
        assert s.scalar(select(func.count()).select_from(Flow)) == 2
    with pytest.raises(InvalidAction, match="unknown channel"):
        notice(engine, people, "wangfang", ding=True, channel="pigeon")


class Flaky:
    """A channel that fails the first ``fails`` sends."""

    def __init__(self, fails: int) -> None:
        self.fails, self.sent = fails, []

    def send(self, message: Outgoing) -> Receipt:
        if self.fails:
            self.fails -= 1
            raise ChannelError("gateway busy")
        self.sent.append(message)
        return Receipt(ok=True, channel="sms-test", at=message_time(), provider_id=message.key)


def message_time():
    from datetime import UTC, datetime

    return datetime.now(UTC)


def _worker(engine, **channels):
    worker = Worker(engine.db, worker_id="w1", clock=engine.clock)
    worker.handler("deliver")(make_deliver_handler(engine.db, channels, **m.delivery_hooks(engine)))
    return worker


def test_a_delivered_ding_delivers_the_message(engine, people, clock):
    out = notice(engine, people, "wangfang")
    m.ding(engine, people["liming"], out.flow_id)
    sms = RecordingChannel("sms-recorded")
    assert _worker(engine, sms=sms).run_once(now=clock.now + timedelta(seconds=5)).done == 1
    assert [(x.to_name, x.kind) for x in sms.sent] == [("王芳", "sms")]
    [r] = m.receipts(engine, people["liming"], out.flow_id)
    assert r.status == "delivered" and r.delivered_at is not None
    assert (r.ding.status, r.ding.delivered_at is not None) == ("delivered", True)
    chain_ok(engine)


def test_a_failing_ding_is_retried_then_shown_failed_without_delivery(engine, people, clock):
    with engine.db.write() as s:
        s.execute(update(Job.__table__).values(max_attempts=2))
    out = notice(engine, people, "wangfang")
    m.ding(engine, people["liming"], out.flow_id)
    with engine.db.write() as s:
        s.execute(update(Job.__table__).values(max_attempts=2))
    flaky = Flaky(fails=5)
    worker = _worker(engine, sms=flaky)
    when = clock.now + timedelta(seconds=5)
    assert worker.run_once(now=when).failed == 1  # retried later
    [r] = m.receipts(engine, people["liming"], out.flow_id)
    assert r.status == "sent" and r.ding.status == "sent"
    assert worker.run_once(now=when + timedelta(hours=1)).failed == 1  # last attempt: dead
    [r] = m.receipts(engine, people["liming"], out.flow_id)
    assert r.status == "failed" and "gateway busy" in r.failure and r.delivered_at is None
    assert r.ding.status == "failed" and "after 2 attempts" in r.ding.failure
    assert m.sent(engine, people["liming"]).rows[0].failed == 1
    # the person opens Banli later: then it is delivered after all
    m.mark_delivered(engine, people["wangfang"])
    [r] = m.receipts(engine, people["liming"], out.flow_id)
    assert r.status == "delivered" and r.failure is None and r.ding.status == "failed"
    chain_ok(engine)


def test_a_ding_to_someone_without_a_mobile_fails_at_once(engine, people, clock):
    with engine.db.write() as s:
        s.execute(update(User).where(User.id == people["wangfang"]).values(mobile=None))
    out = notice(engine, people, "wangfang")
    m.ding(engine, people["liming"], out.flow_id)
    _worker(engine, sms=RecordingChannel()).run_once(now=clock.now + timedelta(seconds=5))
    [r] = m.receipts(engine, people["liming"], out.flow_id)
    assert r.status == "failed" and "has no mobile" in r.failure


def test_only_the_sender_sees_receipts_and_only_people_in_it_see_the_message(engine, people):
    out = notice(engine, people, "wangfang")
    with pytest.raises(Forbidden):
        m.receipts(engine, people["wangfang"], out.flow_id)
    with pytest.raises(NotFound):
        m.view(engine, people["huangyong"], out.flow_id)
    assert m.receipts(engine, people["zhouwei"], out.flow_id)  # the administrator


@pytest.mark.parametrize("backend", ["db", "pg_db"], ids=["sqlite", "postgres"])
def test_concurrent_dings_never_exceed_the_daily_limit(backend, request, monkeypatch):
    """100 DING attempts by one sender from 10 threads (on PostgreSQL: 10 connections at once):
    exactly 60 are sent, 40 refused, and the audit chains still verify."""
    database: Database = request.getfixturevalue(backend)
    engine, people = setup_engine(database, SafeClock())
    engine.settings = Settings.defaults(ding_limit=60)
    # DINGs on 10 messages, so attempts on different flows really run at the same time
    flows = [notice(engine, people, "wangfang", subject=f"通知{i}").flow_id for i in range(10)]

    def attempt(n: int) -> str:
        try:
            m.ding(engine, people["liming"], flows[n % 10])
        except DingQuotaExceeded:
            return "refused"
        return "sent"

    with ThreadPoolExecutor(max_workers=10) as pool:
        results = list(pool.map(attempt, range(100)))
    assert results.count("sent") == 60 and results.count("refused") == 40
    with engine.db.read() as s:
        assert s.scalar(select(func.count()).select_from(Ding)) == 60
        assert s.scalar(select(func.count()).select_from(Job)) == 60
        assert s.scalars(select(DingCount.count)).all() == [60]
        assert verify_all(s)[1] == []


def test_a_ding_whose_worker_died_on_the_last_attempt_is_shown_failed(engine, people, clock):
    out = notice(engine, people, "wangfang")
    m.ding(engine, people["liming"], out.flow_id)
    with engine.db.write() as s:
        s.execute(update(Job.__table__).values(max_attempts=1))
    start = clock.now + timedelta(seconds=5)
    from workflow.jobs import claim

    assert len(claim(engine.db, "dies", start)) == 1  # claimed, then the worker is killed
    worker = _worker(engine, sms=RecordingChannel())
    worker.on_dead["deliver"] = m.delivery_hooks(engine)["on_failed"]
    assert worker.run_once(now=start + timedelta(hours=1)).claimed == 0
    [r] = m.receipts(engine, people["liming"], out.flow_id)
    assert r.status == "failed" and "lease expired" in r.failure
    assert r.ding.status == "failed"


@pytest.mark.parametrize("backend", ["db", "pg_db"], ids=["sqlite", "postgres"])
def test_the_same_form_sent_twice_at_once_makes_one_message(backend, request):
    database: Database = request.getfixturevalue(backend)
    engine, people = setup_engine(database, SafeClock())

    def send(_: int) -> int:
        return notice(engine, people, "wangfang", request_key="form-1").flow_id

    with ThreadPoolExecutor(max_workers=8) as pool:
        ids = set(pool.map(send, range(8)))
    assert len(ids) == 1
    assert m.received(engine, people["wangfang"]).total == 1
    # another form of the same person, and the same key of another person, are new messages
    assert notice(engine, people, "wangfang", request_key="form-2").flow_id not in ids
    other = m.send(engine, people["wangfang"], subject="x", to_users=[people["liming"]],
                   request_key="form-1")  # fmt: skip
    assert other.flow_id not in ids


def test_a_refused_send_leaves_its_key_free(engine, people):
    with pytest.raises(InvalidAction):
        m.send(engine, people["liming"], subject="x", to_users=[], request_key="k")
    assert notice(engine, people, "wangfang", request_key="k").state == "sent"


def test_recipients_acting_do_not_make_the_senders_page_stale(engine, people):
    out = notice(engine, people, "wangfang", "huangyong")
    version = m.view(engine, people["liming"], out.flow_id).version
    m.reply(engine, people["wangfang"], item(engine, people, "wangfang", out.flow_id), body="好")
    m.delete(engine, people["huangyong"], item(engine, people, "huangyong", out.flow_id))
    m.mark_delivered(engine, people["wangfang"])
    assert m.revoke(engine, people["liming"], out.flow_id, version=version).state == "withdrawn"


def test_the_sender_deletes_from_the_sent_list_and_search(engine, people):
    out = notice(engine, people, "wangfang")
    notice(engine, people, "wangfang", subject="月度报表提交提醒")
    assert [r.subject for r in m.sent(engine, people["liming"], query="报表").rows] == [
        "月度报表提交提醒"
    ]
    m.delete_sent(engine, people["liming"], out.flow_id)
    assert [r.subject for r in m.sent(engine, people["liming"]).rows] == ["月度报表提交提醒"]
    with pytest.raises(NotFound):
        m.delete_sent(engine, people["wangfang"], out.flow_id)


def test_a_failed_ding_retried_by_the_administrator_is_delivered(engine, people, clock):
    from workflow.jobs import dead_jobs, retry

    with engine.db.write() as s:
        s.execute(update(User).where(User.id == people["wangfang"]).values(mobile=None))
    out = notice(engine, people, "wangfang")
    m.ding(engine, people["liming"], out.flow_id)
    _worker(engine, sms=RecordingChannel()).run_once(now=clock.now + timedelta(seconds=5))
    assert m.receipts(engine, people["liming"], out.flow_id)[0].status == "failed"
    with engine.db.write() as s:  # the number is mended, the administrator retries
        s.execute(update(User).where(User.id == people["wangfang"]).values(mobile="13900000000"))
    [job] = dead_jobs(engine.db)
    retry(engine.db, job.id, people["zhouwei"], now=clock.now)
    _worker(engine, sms=RecordingChannel()).run_once(now=clock.now + timedelta(seconds=5))
    [r] = m.receipts(engine, people["liming"], out.flow_id)
    assert (r.status, r.failure, r.ding.status, r.ding.failure) == (
        "delivered",
        None,
        "delivered",
        None,
    )
    chain_ok(engine)


def test_a_relay_note_too_long_is_refused_and_changes_nothing(engine, people):
    out = notice(engine, people, "wangfang")
    wang = item(engine, people, "wangfang", out.flow_id)
    with pytest.raises(FormInvalid) as caught:  # a field error: the page shows it at the note
        m.relay(engine, people["wangfang"], wang, to_users=[people["sunli"]], note="长" * 2001)
    assert caught.value.errors == {"note": "is 2001 characters long; at most 2000 are allowed"}
    assert statuses(engine, people, out.flow_id) == {"王芳": "sent"}
    assert m.received(engine, people["sunli"]).total == 0


def test_old_form_keys_are_forgotten(engine, people, clock):
    first = notice(engine, people, "wangfang", request_key="k").flow_id
    assert notice(engine, people, "wangfang", request_key="k").flow_id == first
    clock.advance(days=8)
    assert notice(engine, people, "wangfang", request_key="k").flow_id != first


@pytest.mark.parametrize("backend", ["db", "pg_db"], ids=["sqlite", "postgres"])
def test_the_send_event_names_each_recipients_own_item(backend, request):
    """Recipients are inserted in one executemany: the ids read back must match the people."""
    database: Database = request.getfixturevalue(backend)
    engine, people = setup_engine(database)
    out = m.send(engine, people["liming"], subject="全体通知", to_units=[1])
    with engine.db.read() as s:
        [event] = s.scalars(
            select(AuditEvent).where(AuditEvent.flow_id == out.flow_id, AuditEvent.kind == "send")
        ).all()
        owners = dict(s.execute(select(WorkItem.id, WorkItem.user_id).where(
            WorkItem.flow_id == out.flow_id)).all())  # fmt: skip
    assert len(event.data["items"]) > 20
    assert all(owners[i] == u for i, u, _ in event.data["items"])
    assert [i for i, _, _ in event.data["items"]] == out.delivered
