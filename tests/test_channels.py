"""Delivery channels (recorded, SMTP against a local aiosmtpd server) and the ``deliver`` job."""

from __future__ import annotations

import email
import json
import os
import socket
import subprocess
import sys
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from email import policy
from email.message import EmailMessage
from pathlib import Path
from typing import Any

import pytest
from aiosmtpd.controller import Controller
from click.testing import CliRunner
from sqlalchemy import select, update

from tests.conftest import ROOT, setup_engine
from workflow.channels import (
    Channel,
    ChannelError,
    Outgoing,
    PermanentFailure,
    RecordingChannel,
    SmtpChannel,
    channels_from_settings,
    message_id,
)
from workflow.cli import main
from workflow.delivery import enqueue_delivery, make_deliver_handler
from workflow.jobs import JOBS, JobRecord, Worker, backoff
from workflow.settings import load_settings
from workflow.store.db import Database
from workflow.store.models import User

NOW = datetime(2026, 3, 2, 1, 0, tzinfo=UTC)
SUBJECT = "请审批：关于2026年春季办公用品采购的请示"
BODY = "王芳同志：\n\n您有一件待办事项「采购申请」，请于三日内办理。\n\n——办理系统"
KEY = "ding:42:王芳"


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


class Collect:
    """An aiosmtpd handler keeping accepted envelopes; ``rcpt_reply`` / ``data_reply`` refuse."""

    def __init__(self) -> None:
        self.envelopes: list = []
        self.rcpt_reply: str | None = None
        self.data_reply: str | None = None

    async def handle_RCPT(self, server, session, envelope, address, rcpt_options) -> str:
        if self.rcpt_reply:
            return self.rcpt_reply
        envelope.rcpt_tos.append(address)
        return "250 OK"

    async def handle_DATA(self, server, session, envelope) -> str:
        if self.data_reply:
            return self.data_reply
        self.envelopes.append(envelope)
        return "250 Message accepted for delivery"

    def messages(self) -> list[EmailMessage]:
        return [email.message_from_bytes(e.content, policy=policy.default) for e in self.envelopes]


@pytest.fixture
def smtp() -> Iterator[tuple[Collect, int]]:
    handler = Collect()
    port = _free_port()
    controller = Controller(handler, hostname="127.0.0.1", port=port)
    controller.start()
    yield handler, port
    controller.stop()


def _channel(port: int) -> SmtpChannel:
    return SmtpChannel("127.0.0.1", port, "banli@hdjs.example.com", timeout=5)


def _message(
    kind: str = "email", address: str = "wangfang@hdjs.example.com", key: str = KEY
) -> Outgoing:
    return Outgoing(7, "王芳", address, SUBJECT, BODY, kind, key)  # type: ignore[arg-type]


def test_recording_channel_keeps_messages_in_memory_and_appends_jsonl(tmp_path: Path) -> None:
    path = tmp_path / "instance" / "outbox.jsonl"
    channel = RecordingChannel(path=path, clock=lambda: NOW)
    assert isinstance(channel, Channel)
    receipt = channel.send(_message("sms", "13901720002"))
    channel.send(_message("voice", "13901720002", key=KEY + ":voice"))
    assert channel.send(_message("sms", "13901720002")).ok  # a repeat: acknowledged, dropped
    assert receipt.ok and receipt.channel == "recorded" and receipt.at == NOW
    assert [m.kind for m in channel.sent] == ["sms", "voice"]
    lines = [json.loads(line) for line in path.read_text(encoding="utf-8").splitlines()]
    assert len(lines) == 2
    assert lines[0] == {
        "at": NOW.isoformat(), "channel": "recorded", "to_user_id": 7, "to_name": "王芳",
        "address": "13901720002", "subject": SUBJECT, "body": BODY, "kind": "sms", "key": KEY,
    }  # fmt: skip
    assert lines[1]["key"] == KEY + ":voice"
    assert "王芳" in path.read_text(encoding="utf-8")  # readable, not \\u escapes
    with pytest.raises(PermanentFailure, match="no sms address"):
        channel.send(_message("sms", " "))
    assert len(channel.sent) == 2
    assert RecordingChannel().send(_message()).ok  # memory only: no file needed


WRITER = """
import sys
from workflow.channels import Outgoing, RecordingChannel
channel = RecordingChannel(path=sys.argv[1])
for i in range(150):
    channel.send(Outgoing(7, "王芳", "13901720002", "通知", "正文", "sms", f"k:{i}"))
"""


def test_the_outbox_records_each_key_once_across_processes(tmp_path: Path) -> None:
    path = tmp_path / "outbox.jsonl"
    writers = [
        subprocess.Popen([sys.executable, "-c", WRITER, str(path)], cwd=ROOT) for _ in range(3)
    ]
    assert [w.wait(timeout=60) for w in writers] == [0, 0, 0]
    keys = [json.loads(line)["key"] for line in path.read_text(encoding="utf-8").splitlines()]
    assert sorted(keys) == sorted(f"k:{i}" for i in range(150))  # 3 × 150 sends, 150 lines


def test_the_outbox_mends_what_a_killed_writer_left(tmp_path: Path) -> None:
    path = tmp_path / "outbox.jsonl"
    RecordingChannel(path=path).send(_message("sms", "13901720002", key="a"))
    with path.open("a", encoding="utf-8") as out:
        out.write(json.dumps({"key": "b", "body": "recorded, not yet indexed"}) + "\n")
        out.write('{"key": "c", "body": "cut sh')  # killed in the middle of the line
    fresh = RecordingChannel(path=path)
    fresh.send(_message("sms", "13901720002", key="b"))  # sent before: dropped
    fresh.send(_message("sms", "13901720002", key="c"))  # never whole: recorded now
    assert [m.key for m in fresh.sent] == ["c"]
    lines = [json.loads(line) for line in path.read_text(encoding="utf-8").splitlines()]
    assert [line["key"] for line in lines] == ["a", "b", "c"]
    index = path.with_name("outbox.jsonl.keys").read_text(encoding="utf-8").splitlines()
    assert [json.loads(line.split("\t", 1)[1]) for line in index] == ["a", "b", "c"]


def channels_from_env(env: dict[str, str]) -> dict[str, Any]:
    """The channels of settings read from an environment of just ``env``."""
    with pytest.MonkeyPatch.context() as mp:
        for name in [n for n in os.environ if n.startswith("BANLI_")]:
            mp.delenv(name)
        for name, value in env.items():
            mp.setenv(name, value)
        return channels_from_settings(load_settings())


def test_channels_from_the_settings(tmp_path: Path) -> None:
    outbox = tmp_path / "out.jsonl"
    plain = channels_from_env({"BANLI_OUTBOX": str(outbox)})
    assert set(plain) == {"sms", "voice", "email"}
    assert all(isinstance(c, RecordingChannel) and c.path == outbox for c in plain.values())
    assert plain["sms"].delay == 0
    assert channels_from_env({"BANLI_OUTBOX_DELAY": "0.5"})["sms"].delay == 0.5
    env = {
        "BANLI_SMTP_HOST": "mail.example.com", "BANLI_SMTP_FROM": "oa@example.com",
        "BANLI_SMTP_USER": "oa", "BANLI_SMTP_PASSWORD": "s3cret", "BANLI_SMTP_STARTTLS": "yes",
    }  # fmt: skip
    chans = channels_from_env(env)
    mail = chans["email"]
    assert isinstance(mail, SmtpChannel)
    assert (mail.host, mail.port, mail.sender, mail.starttls) == (
        "mail.example.com", 587, "oa@example.com", True,
    )  # fmt: skip
    assert (mail.username, mail.password) == ("oa", "s3cret")
    assert isinstance(chans["sms"], RecordingChannel)
    assert str(chans["sms"].path) == "instance/outbox.jsonl"
    assert (
        channels_from_env({"BANLI_SMTP_HOST": "h", "BANLI_SMTP_PORT": "2525"})["email"].port == 2525
    )


def test_message_id_carries_the_key() -> None:
    assert message_id("deliver:42", "a@b.example") == "<deliver=3A42@b.example>"
    assert message_id("ding.42.7", "nobody") == "<ding.42.7@localhost>"
    assert message_id("王", "a@b") == "<=E7=8E=8B@b>"
    assert message_id("k", "办理 <oa@hdjs.example.com>") == "<k@hdjs.example.com>"


def test_smtp_sends_utf8_subject_and_body_with_message_id_from_key(smtp) -> None:
    handler, port = smtp
    receipt = _channel(port).send(_message())
    assert receipt.ok and receipt.channel == "smtp"
    [envelope] = handler.envelopes
    assert envelope.mail_from == "banli@hdjs.example.com"
    assert envelope.rcpt_tos == ["wangfang@hdjs.example.com"]
    [mail] = handler.messages()
    assert mail["Subject"] == SUBJECT
    assert mail["To"].addresses[0].display_name == "王芳"
    assert mail.get_content().replace("\r\n", "\n").rstrip("\n") == BODY
    assert mail["Message-ID"] == message_id(KEY, "banli@hdjs.example.com") == receipt.provider_id
    assert mail["Message-ID"].startswith("<ding=3A42=3A=E7=8E=8B=E8=8A=B3@")
    assert mail["X-Banli-Key"] == KEY
    assert envelope.content.isascii()  # encoded on the wire, decoded above


@pytest.mark.parametrize("where", ["rcpt", "data"])
def test_smtp_451_is_transient(smtp, where: str) -> None:
    handler, port = smtp
    setattr(handler, f"{where}_reply", "451 4.3.0 Try again later")
    with pytest.raises(ChannelError, match="451"):
        _channel(port).send(_message())
    assert handler.envelopes == []


def test_smtp_550_recipient_is_permanent(smtp) -> None:
    handler, port = smtp
    handler.rcpt_reply = "550 5.1.1 No such user"
    with pytest.raises(PermanentFailure, match="550"):
        _channel(port).send(_message())


def test_smtp_connection_refused_is_transient() -> None:
    with pytest.raises(ChannelError, match=r"127\.0\.0\.1"):
        _channel(_free_port()).send(_message())


def test_smtp_bad_address_is_permanent() -> None:
    with pytest.raises(PermanentFailure):
        _channel(_free_port()).send(_message(address="not an address <"))


# --- the deliver job, end to end -------------------------------------------------------------


def _job(db: Database, key: str) -> JobRecord:
    with db.read() as s:
        return JobRecord.of(s.execute(select(JOBS).where(JOBS.c.key == key)).one())


def _setup(db: Database, **channels: Channel) -> tuple[Worker, dict[str, int]]:
    _, people = setup_engine(db)
    worker = Worker(db, worker_id="w1")
    worker.handler("deliver")(make_deliver_handler(db, channels))
    return worker, people


def _enqueue(db: Database, user_id: int, kind: str = "email", max_attempts: int = 5) -> None:
    with db.write() as s:
        assert enqueue_delivery(s, user_id, kind, SUBJECT, BODY, KEY, NOW, max_attempts, NOW)
        assert not enqueue_delivery(s, user_id, kind, SUBJECT, BODY, KEY, NOW, max_attempts, NOW)


def test_deliver_job_sends_email_to_wang_fang(db: Database, smtp) -> None:
    handler, port = smtp
    worker, people = _setup(db, email=_channel(port))
    _enqueue(db, people["wangfang"])
    stats = worker.run_once(now=NOW)
    assert (stats.claimed, stats.done, stats.failed) == (1, 1, 0)
    [mail] = handler.messages()
    assert handler.envelopes[0].rcpt_tos == ["wangfang@hdjs.example.com"]
    assert mail["Subject"] == SUBJECT and mail["X-Banli-Key"] == KEY
    assert _job(db, f"deliver:{KEY}").status == "done"
    assert worker.run_once(now=NOW + timedelta(hours=1)).claimed == 0
    assert len(handler.envelopes) == 1


def test_deliver_job_is_retried_while_smtp_is_down_then_dead(db: Database) -> None:
    worker, people = _setup(db, email=_channel(_free_port()))
    _enqueue(db, people["wangfang"], max_attempts=3)
    assert worker.run_once(now=NOW).failed == 1
    job = _job(db, f"deliver:{KEY}")
    assert (job.status, job.attempts, job.due_at) == ("pending", 1, NOW + backoff(1))
    assert "ChannelError" in (job.last_error or "")
    assert worker.run_once(now=NOW + backoff(1) - timedelta(seconds=1)).claimed == 0
    when = job.due_at
    for attempt in (2, 3):
        assert worker.run_once(now=when).failed == 1
        job = _job(db, f"deliver:{KEY}")
        assert job.attempts == attempt
        when = job.due_at
    assert job.status == "dead" and "ChannelError" in (job.last_error or "")


def test_deliver_job_permanent_failure_is_dead_at_once(db: Database, smtp) -> None:
    handler, port = smtp
    handler.rcpt_reply = "550 5.1.1 No such user"
    worker, people = _setup(db, email=_channel(port))
    _enqueue(db, people["wangfang"])
    stats = worker.run_once(now=NOW)
    assert (stats.claimed, stats.done, stats.failed) == (1, 0, 1)  # failed for good, at once
    job = _job(db, f"deliver:{KEY}")
    assert (job.status, job.attempts, job.done_at) == ("dead", 1, NOW)
    assert job.last_error is not None and "PermanentFailure" in job.last_error
    assert "550" in job.last_error
    assert worker.run_once(now=NOW + timedelta(days=1)).claimed == 0


def test_deliver_job_without_address_is_dead_at_once(db: Database) -> None:
    recorded = RecordingChannel()
    worker, people = _setup(db, email=recorded)
    with db.write() as s:
        s.execute(update(User).where(User.id == people["wangfang"]).values(email=None))
    _enqueue(db, people["wangfang"])
    worker.run_once(now=NOW)
    job = _job(db, f"deliver:{KEY}")
    assert job.status == "dead" and "has no email" in (job.last_error or "")
    assert recorded.sent == []


def test_deliver_job_sms_uses_the_current_mobile(db: Database) -> None:
    recorded = RecordingChannel()
    worker, people = _setup(db, sms=recorded)
    with db.write() as s:
        s.execute(update(User).where(User.id == people["wangfang"]).values(mobile="13800000000"))
    _enqueue(db, people["wangfang"], kind="sms")
    assert worker.run_once(now=NOW).done == 1
    [sent] = recorded.sent
    assert (sent.address, sent.to_name, sent.kind, sent.key) == ("13800000000", "王芳", "sms", KEY)


def test_enqueue_delivery_rejects_unknown_kind(db: Database) -> None:
    db.create_all()
    with pytest.raises(ValueError, match="fax"), db.write() as s:
        enqueue_delivery(s, 1, "fax", "s", "b", "k", NOW)


def test_banli_worker_delivers_through_the_configured_outbox(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    url = f"sqlite:///{tmp_path / 'cli.db'}"
    db = Database(url)
    _, people = setup_engine(db)
    outbox = tmp_path / "outbox.jsonl"
    monkeypatch.delenv("BANLI_SMTP_HOST", raising=False)
    monkeypatch.setenv("BANLI_OUTBOX", str(outbox))
    with db.write() as s:
        now = datetime.now(UTC) - timedelta(minutes=1)
        enqueue_delivery(s, people["wangfang"], "voice", SUBJECT, BODY, KEY, now)
    result = CliRunner().invoke(main, ["--db", url, "worker", "--once"], catch_exceptions=False)
    assert result.exit_code == 0, result.output
    assert "1 done, 0 failed" in result.output
    [line] = outbox.read_text(encoding="utf-8").splitlines()
    assert json.loads(line)["address"] == "13901720002"
    db.dispose()
