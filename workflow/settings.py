"""Banli's settings: one object, read from the ``BANLI_*`` environment once at start-up, then passed on.

``banli`` (workflow/cli.py) and the app factory (``web.create_app``) call :func:`load_settings`
once and hand the result down: to ``Engine(db, settings=…)`` (time zone, DING limit, files,
anchors), the worker (job leases), the channels and the web's config. No other module reads the
environment. A bad value stops the start with :class:`SettingsError`, naming the variable.
"""

from __future__ import annotations

from pathlib import Path
from typing import Annotated, Any
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from pydantic import (
    AfterValidator,
    BeforeValidator,
    Field,
    SecretStr,
    ValidationError,
    ValidationInfo,
    field_validator,
    model_validator,
)
from pydantic_settings import BaseSettings, SettingsConfigDict
from sqlalchemy import make_url

from workflow.lease import DEFAULT_BATCH, DEFAULT_LEASE
from workflow.limits import UPLOAD_QUOTA
from workflow.store.db import DEFAULT_URL, LOCK_TIMEOUT, WEB_LOCK_TIMEOUT, WEB_STATEMENT_TIMEOUT

PREFIX = "BANLI_"


def _seconds(value: Any) -> float:
    """A duration in seconds, ``0`` = no limit: a number ≥ 0, never NaN or infinite."""
    try:
        seconds = float(value)
    except (TypeError, ValueError):
        raise ValueError("must be a number of seconds") from None
    if not 0 <= seconds < float("inf"):  # also false for NaN
        raise ValueError("must be a number of seconds ≥ 0")
    return seconds


def _time_zone(name: str) -> str:
    try:
        ZoneInfo(name)
    except (ZoneInfoNotFoundError, ValueError):
        raise ValueError("must be a time zone such as Asia/Shanghai") from None
    return name


Seconds = Annotated[float, BeforeValidator(_seconds)]
TimeZone = Annotated[str, AfterValidator(_time_zone)]


class Settings(BaseSettings):
    """Every setting, typed, with its default; each field is read from ``BANLI_<NAME>``."""

    model_config = SettingsConfigDict(env_prefix=PREFIX, frozen=True, extra="forbid")

    # --- the database, the organisation -------------------------------------------------------
    database_url: str = Field(
        DEFAULT_URL, description="the database (SQLAlchemy URL; `banli --db` overrides it)"
    )
    timezone: TimeZone = Field(
        "Asia/Shanghai",
        description="the organisation's time zone: how times are shown, when local days begin "
        "(stored in UTC)",
    )
    definitions: Path = Field(
        Path("definitions"), description="where `banli init` finds the definitions"
    )
    lock_timeout: Seconds = Field(
        LOCK_TIMEOUT,
        description="seconds `banli worker` and the other commands wait for a database lock "
        "(0: no limit)",
    )
    # --- the web ------------------------------------------------------------------------------
    secret_key: SecretStr | None = Field(
        None, description="signs session cookies; unset: made once in `instance/secret_key`"
    )
    idle_minutes: int = Field(120, ge=1, description="sign-in sessions end after this long idle")
    cookie_secure: bool | None = Field(
        None,
        description="the session cookie is sent over HTTPS only; unset: on, except `banli "
        "serve` / `make run`; `0` for a deployment reached over plain http",
    )
    proxies: int = Field(
        0,
        ge=0,
        description="reverse proxies in front of gunicorn whose `X-Forwarded-For` / `-Proto` to "
        "trust (the client's address counts failed sign-ins)",
    )
    base_url: str | None = Field(
        None,
        description="the site's address in the flow sheet's QR code and verify link; unset: "
        "the request's address (CLI: `http://127.0.0.1:5000`)",
    )
    web_lock_timeout: Seconds = Field(
        WEB_LOCK_TIMEOUT,
        description="seconds a web request waits for a database lock (SQLite `busy_timeout`, "
        "PostgreSQL `lock_timeout`) before 503",
    )
    web_statement_timeout: Seconds = Field(
        WEB_STATEMENT_TIMEOUT,
        description="seconds a web request's PostgreSQL statement may run before 503",
    )
    directory_rate: int = Field(
        120,
        ge=0,
        description="directory pages and searches one person may open per 10 minutes (a guard "
        "against scraping the company's phone list); 0: no limit",
    )
    invite_hours: int = Field(
        72,
        ge=1,
        le=24 * 30,
        description="hours an invitation link (enrolment, Art. 10) stays valid; it is used once",
    )
    # --- files --------------------------------------------------------------------------------
    files_dir: Path = Field(
        Path("instance/files"), description="where attachments are stored (by SHA-256)"
    )
    max_upload: int = Field(1024**3, ge=1, description="largest upload, in bytes (1 GiB)")
    upload_quota: int = Field(
        UPLOAD_QUOTA,
        ge=0,
        description="the most one person may have stored, in bytes (1 GiB, Art. 22); files "
        "nothing refers to are swept a day after upload",
    )
    # --- messages, DING and channels ----------------------------------------------------------
    ding_limit: int = Field(60, ge=0, description="DINGs one sender may send per local day")
    smtp_host: str | None = Field(
        None, description="SMTP server for e-mail; unset: e-mails are recorded like SMS and voice"
    )
    smtp_port: int | None = Field(
        None, ge=1, le=65535, description="its port; unset: 25, or 587 with STARTTLS"
    )
    smtp_from: str = Field("banli@localhost", description="the sender address of e-mails")
    smtp_user: str | None = Field(None, description="SMTP login (with `BANLI_SMTP_PASSWORD`)")
    smtp_password: SecretStr | None = Field(None, description="SMTP password")
    smtp_starttls: bool = Field(False, description="upgrade the SMTP connection with STARTTLS")
    outbox: Path = Field(
        Path("instance/outbox.jsonl"),
        description="where the recording channel writes what would have been sent",
    )
    outbox_delay: Seconds = Field(
        0.0,
        description="seconds the recording channel waits before acknowledging each message, "
        "like a slow gateway (tests, demonstrations)",
    )
    # --- audit anchors ------------------------------------------------------------------------
    audit_anchor_file: Path = Field(
        Path("instance/audit-anchors.jsonl"),
        description="the append-only file each audit anchor's line goes to (keep it out of "
        "the database administrators' reach)",
    )
    audit_email: str = Field(
        "",
        description="the auditors' address(es), comma-separated: each anchor's line is "
        "e-mailed there",
    )
    # --- the worker ---------------------------------------------------------------------------
    job_batch: int = Field(DEFAULT_BATCH, ge=1, description="jobs a worker leases at a time")
    job_lease: Seconds = Field(
        DEFAULT_LEASE.total_seconds(),
        description="seconds a job's lease lasts unless renewed; a killed worker's jobs are "
        "taken over within about lease + `--poll`",
    )
    job_heartbeat: Seconds | None = Field(
        None,
        description="seconds between a worker's lease renewals; unset: a third of the lease, "
        "at most 10",
    )

    @field_validator("*", mode="before")
    @classmethod
    def _empty_is_unset(cls, value: Any, info: ValidationInfo) -> Any:
        # an empty value means unset (`BANLI_X=` in a unit file), as it always has
        if isinstance(value, str) and not value.strip():
            return cls.model_fields[info.field_name].default  # type: ignore[index]
        return value

    @model_validator(mode="after")
    def _heartbeat_within_lease(self) -> Settings:
        beat, lease = self.heartbeat, self.job_lease
        if not 0 < beat < lease:
            raise ValueError(
                f"{PREFIX}JOB_HEARTBEAT ({beat:g} s) must be more than 0 and less than "
                f"{PREFIX}JOB_LEASE ({lease:g} s)"
            )
        return self

    @classmethod
    def defaults(cls, **changes: Any) -> Settings:
        """The built-in defaults with ``changes``, whatever the environment says (tests, scripts)."""
        try:
            given = _Given(**changes)
        except ValidationError as exc:
            raise SettingsError(exc) from None
        # validated above; a plain Settings again, so it compares equal to one read at start-up
        return cls.model_construct(_fields_set=given.model_fields_set, **dict(given))

    # --- derived values -------------------------------------------------------------------------

    @property
    def tz(self) -> ZoneInfo:
        """The organisation's time zone."""
        return ZoneInfo(self.timezone)

    @property
    def heartbeat(self) -> float:
        """Seconds between lease renewals: the setting, else a third of the lease, at most 10."""
        if self.job_heartbeat is not None:
            return self.job_heartbeat
        return min(self.job_lease / 3, 10.0)

    @property
    def audit_emails(self) -> tuple[str, ...]:
        """The auditors' addresses, one per comma-separated entry."""
        return tuple(a.strip() for a in self.audit_email.split(",") if a.strip())


class _Given(Settings):
    """Settings of the values given and the defaults only: the environment is not read."""

    @classmethod
    def settings_customise_sources(
        cls,
        settings_cls: Any,
        init_settings: Any,
        env_settings: Any,
        dotenv_settings: Any,
        file_secret_settings: Any,
    ) -> tuple[Any, ...]:
        return (init_settings,)


def env_name(field: str) -> str:
    """The environment variable of a field: ``ding_limit`` → ``BANLI_DING_LIMIT``."""
    return PREFIX + field.upper()


def describe(settings: Settings) -> list[tuple[str, str, bool]]:
    """Each setting as ``banli settings`` prints it: (variable, value, is the default).

    Secrets are masked, and so is a password in the database URL.
    """
    rows = []
    for field, info in Settings.model_fields.items():
        value = getattr(settings, field)
        if isinstance(value, SecretStr):
            shown = "********"
        elif field == "database_url":
            shown = make_url(value).render_as_string(hide_password=True)
        else:
            shown = "(unset)" if value is None else str(value)
        rows.append((env_name(field), shown, value == info.default))
    return rows


def markdown_table() -> str:
    """README's settings table, made from the fields: variable, default, meaning."""
    lines = ["| variable | default | meaning |", "|---|---|---|"]
    for field, info in Settings.model_fields.items():
        default = info.default
        if default is None or default == "":
            shown = "unset"
        elif isinstance(default, bool):
            shown = "`1`" if default else "`0`"
        elif isinstance(default, float):
            shown = f"`{default:g}`"
        else:
            shown = f"`{default}`"
        lines.append(f"| `{env_name(field)}` | {shown} | {info.description} |")
    return "\n".join(lines) + "\n"


class SettingsError(ValueError):
    """A setting's value is unusable; the message names each variable and what it must be."""

    def __init__(self, error: ValidationError) -> None:
        super().__init__("; ".join(_problem(e) for e in error.errors()))


#: pydantic's error types, in words a person setting a variable reads
_EXPECTED = {
    "int_parsing": "must be a whole number",
    "int_from_float": "must be a whole number",
    "float_parsing": "must be a number",
    "bool_parsing": "must be 1/true/yes/on or 0/false/no/off",
    "bool_type": "must be 1/true/yes/on or 0/false/no/off",
}


def _problem(error: Any) -> str:
    loc = [part for part in error["loc"] if isinstance(part, str)]
    message = str(error["msg"]).removeprefix("Value error, ")
    if not loc:  # a check across settings (the heartbeat and the lease): its message says all
        return message
    kind, ctx = error["type"], error.get("ctx") or {}
    if kind == "greater_than_equal":
        expected = f"must be a whole number ≥ {ctx['ge']}"
    elif kind == "less_than_equal":
        expected = f"must be a whole number ≤ {ctx['le']}"
    elif kind == "extra_forbidden":
        expected = "is no setting"
    else:
        expected = _EXPECTED.get(kind, message)
    return f"{env_name(loc[0])} {expected}, not {error['input']!r}"


def load_settings(**overrides: Any) -> Settings:
    """The settings from the ``BANLI_*`` environment, ``overrides`` (e.g. ``banli --db``) first.

    Raises SettingsError naming every unusable variable.
    """
    try:
        return Settings(**overrides)
    except ValidationError as exc:
        raise SettingsError(exc) from None
