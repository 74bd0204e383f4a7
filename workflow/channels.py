"""Delivery channels: one small interface for SMS, voice, e-mail and a recording channel.

A channel takes an :class:`Outgoing` message and returns a :class:`Receipt`, or raises
:class:`ChannelError` (transient: the job is retried with back-off) or :class:`PermanentFailure`
(retrying cannot help: no address, address refused). SMS and voice gateways are external
(PRODUCT.md, "Out of scope"): a deployment plugs its own adapter in for ``"sms"`` / ``"voice"``;
until then :class:`RecordingChannel` records what would have been sent.

:func:`channels_from_settings` builds the channels by kind (``sms``, ``voice``, ``email``) from
these settings (workflow.settings):

``BANLI_SMTP_HOST``
    SMTP server for e-mail; unset → e-mail is recorded like SMS and voice.
``BANLI_SMTP_PORT``
    its port (default 25, or 587 with STARTTLS).
``BANLI_SMTP_FROM``
    the sender address (default ``banli@localhost``).
``BANLI_SMTP_USER`` / ``BANLI_SMTP_PASSWORD``
    log in with these when both are set.
``BANLI_SMTP_STARTTLS``
    ``1`` / ``true`` / ``yes`` / ``on``: upgrade the connection with STARTTLS before sending.
``BANLI_OUTBOX``
    the JSONL file the recording channel appends to (default ``instance/outbox.jsonl``);
    one JSON object per line, with the time it was recorded. Its key index lies beside it
    (``outbox.jsonl.keys``): delete both or neither.
``BANLI_OUTBOX_DELAY``
    seconds the recording channel waits after recording a message before it acknowledges it,
    as a slow gateway would (tests and demonstrations of a worker killed mid-send; default 0).

**Idempotency.** ``Outgoing.key`` is the delivery's idempotency key: the same delivery always
carries the same key, and a channel may be handed it more than once (a worker killed after the
send but before it marked the job done, a lease that ran out). A channel must not deliver a key
twice: the recording channel drops a repeat (across processes, see :mod:`workflow.outbox`);
SMTP sends the key as the Message-ID, by which mail servers and clients recognise a repeat; an
SMS or voice gateway adapter must pass it as the gateway's client message id (most accept one
and refuse or ignore a repeat) or keep its own record of keys sent, and answer a repeat with a
:class:`Receipt` as if it had sent it.
"""

from __future__ import annotations

import logging
import smtplib
import threading
import time
from collections.abc import Callable
from dataclasses import asdict, dataclass
from datetime import UTC, datetime
from email.headerregistry import Address
from email.message import EmailMessage
from email.utils import format_datetime, parseaddr
from pathlib import Path
from typing import TYPE_CHECKING, Literal, Protocol, runtime_checkable

from workflow.outbox import Outbox

if TYPE_CHECKING:
    from workflow.settings import Settings

log = logging.getLogger(__name__)
Kind = Literal["sms", "voice", "email"]
KINDS: tuple[Kind, ...] = ("sms", "voice", "email")


class ChannelError(Exception):
    """A transient failure (server busy, connection lost): try again later."""


class PermanentFailure(Exception):
    """Retrying cannot help: no address, address refused, no channel for this kind."""


@dataclass(frozen=True)
class Outgoing:
    """One message to one person over one kind of channel; ``key`` makes a resend recognisable."""

    #: None for an address that is no user's (the auditors' mailbox, BANLI_AUDIT_EMAIL)
    to_user_id: int | None
    to_name: str
    #: a mobile number for sms / voice, an e-mail address for email
    address: str
    subject: str
    body: str
    kind: Kind
    #: idempotency key: the same message sent twice carries the same key, and a channel
    #: delivers a key once (a repeat is acknowledged, not sent again)
    key: str


@dataclass(frozen=True)
class Receipt:
    """What a channel says about a send it accepted."""

    ok: bool
    channel: str
    at: datetime
    provider_id: str | None = None
    error: str | None = None


@runtime_checkable
class Channel(Protocol):
    """Anything with a ``name`` and ``send`` is a channel (an SMS gateway adapter, say).

    ``send`` may see the same ``message.key`` again; it must not deliver it twice (module doc).
    """

    name: str

    def send(self, message: Outgoing) -> Receipt: ...


def _utcnow() -> datetime:
    return datetime.now(UTC)


def _require_address(message: Outgoing) -> None:
    if not message.address or not message.address.strip():
        raise PermanentFailure(f"no {message.kind} address for user {message.to_user_id}")


class RecordingChannel:
    """Records what would be sent: in memory (``sent``, for tests) and, given a path, as JSONL.

    The file is append-only, one JSON object per line: the message, the channel and ``at``.
    Each key is recorded once: a repeat (same ``key``) is acknowledged and dropped, also when
    another process recorded the first one (see :mod:`workflow.outbox`). ``delay`` seconds pass
    between recording and acknowledging, as with a slow gateway.
    """

    def __init__(
        self,
        name: str = "recorded",
        path: str | Path | None = None,
        clock: Callable[[], datetime] = _utcnow,
        delay: float = 0.0,
    ) -> None:
        self.name = name
        self.path = Path(path) if path is not None else None
        self.clock = clock
        self.delay = delay
        self.sent: list[Outgoing] = []
        self._outbox = Outbox(self.path) if self.path is not None else None
        self._keys: set[str] = set()
        self._lock = threading.Lock()

    def send(self, message: Outgoing) -> Receipt:
        _require_address(message)
        at = self.clock()
        with self._lock:
            if self._outbox is not None:
                line = {"at": at.isoformat(), "channel": self.name, **asdict(message)}
                new = self._outbox.append(message.key, line)
            else:
                new = message.key not in self._keys
            if new:
                self._keys.add(message.key)
                self.sent.append(message)
        if not new:
            log.info("%s: %s was recorded before; the repeat is dropped", self.name, message.key)
        elif self.delay:
            time.sleep(self.delay)
        return Receipt(ok=True, channel=self.name, at=at, provider_id=message.key)


# RFC 5322 atext without "=" (our escape character): what may stand in a Message-ID unescaped
_ATEXT = frozenset(
    "abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789!#$%&'*+-/?^_`{|}~."
)


def message_id(key: str, sender: str) -> str:
    """``<key@domain>`` with characters a Message-ID may not hold escaped as ``=XX`` (UTF-8)."""
    left = "".join(
        ch if ch in _ATEXT else "".join(f"={b:02X}" for b in ch.encode("utf-8")) for ch in key
    )
    left = left.strip(".").replace("..", ".=2E") or "banli"
    addr = parseaddr(sender)[1]
    domain = addr.rpartition("@")[2] if "@" in addr else "localhost"
    return f"<{left}@{domain}>"


class SmtpChannel:
    """E-mail over SMTP (standard library): UTF-8 subject and body, Message-ID from the key.

    4xx replies and connection trouble raise :class:`ChannelError`; a 5xx refusal of the
    recipient or the message raises :class:`PermanentFailure`.
    """

    def __init__(
        self,
        host: str,
        port: int,
        sender: str,
        username: str | None = None,
        password: str | None = None,
        starttls: bool = False,
        timeout: float = 10,
        name: str = "smtp",
        clock: Callable[[], datetime] = _utcnow,
    ) -> None:
        self.host = host
        self.port = port
        self.sender = sender
        self.username = username
        self.password = password
        self.starttls = starttls
        self.timeout = timeout
        self.name = name
        self.clock = clock

    def build(self, message: Outgoing, at: datetime) -> EmailMessage:
        """The e-mail for ``message``: headers encoded as RFC 2047 words, body in UTF-8."""
        mail = EmailMessage()
        mail["Subject"] = message.subject
        mail["From"] = self.sender
        mail["To"] = Address(display_name=message.to_name, addr_spec=message.address.strip())
        mail["Date"] = format_datetime(at)
        mail["Message-ID"] = message_id(message.key, self.sender)
        mail["X-Banli-Key"] = message.key
        mail.set_content(message.body, charset="utf-8", cte="base64")  # 7-bit safe for any relay
        return mail

    def send(self, message: Outgoing) -> Receipt:
        _require_address(message)
        at = self.clock()
        try:
            mail = self.build(message, at)
        except (ValueError, IndexError) as exc:  # a malformed address: it will not get better
            raise PermanentFailure(f"bad e-mail address {message.address!r}: {exc}") from exc
        try:
            with smtplib.SMTP(self.host, self.port, timeout=self.timeout) as smtp:
                if self.starttls:
                    smtp.starttls()
                if self.username and self.password:
                    smtp.login(self.username, self.password)
                smtp.send_message(mail)
        except smtplib.SMTPRecipientsRefused as exc:
            code, reply = next(iter(exc.recipients.values()))
            raise _by_code(
                code, f"recipient {message.address} refused: {code} {_text(reply)}"
            ) from exc
        except (smtplib.SMTPDataError, smtplib.SMTPSenderRefused) as exc:
            raise _by_code(
                exc.smtp_code, f"message refused: {exc.smtp_code} {_text(exc.smtp_error)}"
            ) from exc
        except smtplib.SMTPResponseException as exc:
            raise ChannelError(f"SMTP error {exc.smtp_code} {_text(exc.smtp_error)}") from exc
        except (smtplib.SMTPException, OSError) as exc:  # OSError: refused, reset, timed out
            raise ChannelError(f"SMTP {self.host}:{self.port}: {exc!r}") from exc
        return Receipt(ok=True, channel=self.name, at=at, provider_id=mail["Message-ID"])


def _text(reply: bytes | str) -> str:
    return reply.decode("utf-8", "replace") if isinstance(reply, bytes) else str(reply)


def _by_code(code: int, error: str) -> Exception:
    """5xx: refused for good; anything else (4xx): try again later."""
    return PermanentFailure(error) if 500 <= code < 600 else ChannelError(error)


def channels_from_settings(settings: Settings) -> dict[str, Channel]:
    """The channels by kind (``sms``, ``voice``, ``email``) as the settings configure them.

    SMS and voice are recorded into ``BANLI_OUTBOX``; e-mail goes over SMTP when
    ``BANLI_SMTP_HOST`` is set, else it is recorded too. A deployment with an SMS or voice
    gateway replaces ``channels["sms"]`` / ``channels["voice"]`` with its adapter.
    """
    outbox = RecordingChannel("recorded", settings.outbox, delay=settings.outbox_delay)
    channels: dict[str, Channel] = {kind: outbox for kind in KINDS}
    host = (settings.smtp_host or "").strip()
    if host:
        starttls = settings.smtp_starttls
        password = settings.smtp_password
        channels["email"] = SmtpChannel(
            host,
            settings.smtp_port or (587 if starttls else 25),
            settings.smtp_from,
            username=settings.smtp_user or None,
            password=password.get_secret_value() if password else None,
            starttls=starttls,
        )
    return channels
