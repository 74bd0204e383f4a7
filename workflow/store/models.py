"""The tables: organisation, definitions with versions, flows, step visits, work items, audit events.

Long because: this is the schema, and it reads best whole. Every table, its indexes and the
foreign keys between them sit on one page, in the order the Alembic migrations added them
(tests/store/test_migrations.py compares the two); a module per table group would scatter the
one picture a newcomer needs and send each schema change to a different file. It holds only
column declarations — no queries, no behaviour — so its length is the schema's, not a mix of
concepts.
"""

from __future__ import annotations

from datetime import UTC, date, datetime
from typing import Annotated, Any

from sqlalchemy import (
    JSON,
    BigInteger,
    Date,
    DateTime,
    ForeignKey,
    Index,
    Integer,
    String,
    Text,
    TypeDecorator,
    UniqueConstraint,
    text,
)
from sqlalchemy.orm import DeclarativeBase, Mapped, mapped_column


class UtcDateTime(TypeDecorator[datetime]):
    """Aware UTC datetimes in, aware UTC datetimes out, on SQLite (naive storage) and PostgreSQL."""

    impl = DateTime(timezone=True)
    cache_ok = True

    def process_bind_param(self, value: datetime | None, dialect: Any) -> datetime | None:
        if value is None:
            return None
        if value.tzinfo is None:
            raise ValueError(f"naive datetime {value!r}: Banli stores aware UTC times only")
        value = value.astimezone(UTC)
        return value.replace(tzinfo=None) if dialect.name == "sqlite" else value

    def process_result_value(self, value: datetime | None, dialect: Any) -> datetime | None:
        if value is None:
            return None
        return value.replace(tzinfo=UTC) if value.tzinfo is None else value.astimezone(UTC)


# BIGINT on PostgreSQL, INTEGER (so the rowid alias) on SQLite.
BigId = BigInteger().with_variant(Integer(), "sqlite")
pk = Annotated[int, mapped_column(BigId, primary_key=True)]
UtcTime = Annotated[datetime, mapped_column(UtcDateTime())]


class Base(DeclarativeBase):
    type_annotation_map = {dict[str, Any]: JSON, list[Any]: JSON}


class Unit(Base):
    """A department, project team, branch or subsidiary: one node of the organisation tree."""

    __tablename__ = "units"
    id: Mapped[pk]
    code: Mapped[str] = mapped_column(String(64), unique=True)
    name: Mapped[str] = mapped_column(String(200))
    kind: Mapped[str] = mapped_column(String(20), default="department")
    parent_id: Mapped[int | None] = mapped_column(ForeignKey("units.id"))
    #: when an administrator closed it (nobody left in it): kept for history, takes nobody new
    closed_at: Mapped[datetime | None] = mapped_column(UtcDateTime())


class User(Base):
    """One employee's account: real name, mobile for reminders, one home unit."""

    __tablename__ = "users"
    __table_args__ = (
        # one account per mobile number among the people not removed (Art. 8)
        Index(
            "ix_users_mobile",
            "mobile",
            unique=True,
            sqlite_where=text("status <> 'removed' AND mobile IS NOT NULL"),
            postgresql_where=text("status <> 'removed' AND mobile IS NOT NULL"),
        ),
        Index("ix_users_unit", "unit_id"),
        Index("ix_users_pinyin", "pinyin"),
        Index("ix_users_initials", "initials"),
    )
    id: Mapped[pk]
    login: Mapped[str] = mapped_column(String(64), unique=True)
    name: Mapped[str] = mapped_column(String(100))
    mobile: Mapped[str | None] = mapped_column(String(32))
    email: Mapped[str | None] = mapped_column(String(200))
    unit_id: Mapped[int] = mapped_column(ForeignKey("units.id"))
    post: Mapped[str | None] = mapped_column(String(100))
    #: active | invited | removed (Art. 10, 12): a removed account keeps its name on history
    status: Mapped[str] = mapped_column(String(16), default="active")
    password_hash: Mapped[str | None] = mapped_column(String(255))
    #: how DINGs reach this person (Art. 20): sms | voice | email
    ding_channel: Mapped[str] = mapped_column(String(8), default="sms", server_default="sms")
    #: the name in toneless pinyin ("wangfang") and its initials ("wf"): the directory's search
    pinyin: Mapped[str] = mapped_column(String(400), default="", server_default="")
    initials: Mapped[str] = mapped_column(String(100), default="", server_default="")
    #: the mobile is shown only to people of the units in ``mobile_viewers`` (and administrators)
    mobile_hidden: Mapped[bool] = mapped_column(default=False, server_default=text("false"))
    #: enrolled (invited) at; None for accounts older than enrolment
    created_at: Mapped[datetime | None] = mapped_column(UtcDateTime())
    #: removed (a leaver, Art. 12) at, and by which administrator
    removed_at: Mapped[datetime | None] = mapped_column(UtcDateTime())
    removed_by: Mapped[int | None] = mapped_column(ForeignKey("users.id"))
    #: the last request of any of their sessions (online = seen in the last few minutes, Art. 16)
    last_seen_at: Mapped[datetime | None] = mapped_column(UtcDateTime())


class RoleMembership(Base):
    """A role held by a user, in a unit (unit head, clerk, legal …) or company-wide (unit_id NULL)."""

    __tablename__ = "role_memberships"
    __table_args__ = (
        UniqueConstraint("user_id", "role", "unit_id"),
        Index("ix_role_memberships_role_unit", "role", "unit_id"),
    )
    id: Mapped[pk]
    user_id: Mapped[int] = mapped_column(ForeignKey("users.id"))
    role: Mapped[str] = mapped_column(String(64))
    unit_id: Mapped[int | None] = mapped_column(ForeignKey("units.id"))


class DefinitionVersion(Base):
    """One version of an approval type, with its YAML source: running flows stay on theirs."""

    __tablename__ = "definition_versions"
    __table_args__ = (UniqueConstraint("key", "version"),)
    id: Mapped[pk]
    key: Mapped[str] = mapped_column(String(64))
    version: Mapped[int] = mapped_column(Integer)
    name_zh: Mapped[str] = mapped_column(String(200))
    name_en: Mapped[str] = mapped_column(String(200))
    source: Mapped[str] = mapped_column(Text)
    filename: Mapped[str] = mapped_column(String(255))
    digest: Mapped[str] = mapped_column(String(64))
    loaded_at: Mapped[UtcTime]
    #: False once an administrator retires the type: no new flows, running ones go on
    active: Mapped[bool] = mapped_column(default=True)


class Flow(Base):
    """One running (or finished) instance of a definition version."""

    __tablename__ = "flows"
    __table_args__ = (
        # "Started by me" and "sent messages" each walk their own kind in this index.
        Index("ix_flows_initiator", "initiator_id", "kind", "id"),
        Index("ix_flows_state", "state", "id"),
    )
    id: Mapped[pk]
    definition_id: Mapped[int] = mapped_column(ForeignKey("definition_versions.id"))
    title: Mapped[str] = mapped_column(String(500))
    #: the definition's kind, copied at start: approval | message
    kind: Mapped[str] = mapped_column(String(16), default="approval", server_default="approval")
    form: Mapped[dict[str, Any]] = mapped_column(JSON)
    initiator_id: Mapped[int] = mapped_column(ForeignKey("users.id"))
    #: a step id, or ended / withdrawn
    state: Mapped[str] = mapped_column(String(64))
    #: approved | rejected once ended; revoked for a message its sender took back
    outcome: Mapped[str | None] = mapped_column(String(16))
    current_visit_id: Mapped[int | None] = mapped_column(BigId)
    started_at: Mapped[UtcTime]
    ended_at: Mapped[datetime | None] = mapped_column(UtcDateTime())
    #: optimistic lock: every action bumps it; a stale page's action is refused
    version: Mapped[int] = mapped_column(Integer, default=1)
    #: head of this flow's audit hash chain, kept here so an append never re-reads the chain
    audit_seq: Mapped[int] = mapped_column(Integer, default=0)
    audit_head: Mapped[str] = mapped_column(String(64), default="")

    __mapper_args__ = {"version_id_col": version}


class Visit(Base):
    """One activation of a step in a flow; a step returned to is visited again."""

    __tablename__ = "visits"
    __table_args__ = (Index("ix_visits_flow_step", "flow_id", "step"),)
    id: Mapped[pk]
    flow_id: Mapped[int] = mapped_column(ForeignKey("flows.id"))
    seq: Mapped[int] = mapped_column(Integer)
    step: Mapped[str] = mapped_column(String(64))
    entered_at: Mapped[UtcTime]
    left_at: Mapped[datetime | None] = mapped_column(UtcDateTime())
    #: who moved the flow on from here (host, or the initiator withdrawing)
    left_by: Mapped[int | None] = mapped_column(ForeignKey("users.id"))
    #: start | forward | return
    via: Mapped[str] = mapped_column(String(16))
    #: the host who sent the flow here, or the initiator
    entered_by: Mapped[int | None] = mapped_column(ForeignKey("users.id"))
    #: a co-signer's veto marks the step rejected until the host acts
    rejected: Mapped[bool] = mapped_column(default=False)


#: Roles of message items (sender, recipient): they live in the message list, not on the workbench.
MESSAGE_ROLES = ("sender", "recipient")
#: The SQL term that keeps message items off the workbench. Queries use this very text, so that
#: SQLite sees the partial indexes' predicate in their WHERE clause and uses the indexes.
NOT_MESSAGE = "role NOT IN ('sender', 'recipient')"
OPEN_WORK = f"status = 'open' AND {NOT_MESSAGE}"
DONE_WORK = f"handled_at IS NOT NULL AND {NOT_MESSAGE}"
READER_WORK = "role = 'reader'"


class WorkItem(Base):
    """One person's part in one step visit, with the three legal effects (Art. 6)."""

    __tablename__ = "work_items"
    __table_args__ = (
        # The workbench: open items of a user, newest first. Partial so it stays small.
        # status and role ride along (the predicate's columns): SQLite counts from the index
        # alone only then ("COVERING INDEX").
        Index(
            "ix_work_items_open",
            "user_id",
            "id",
            "status",
            "role",
            sqlite_where=text(OPEN_WORK),
            postgresql_where=text(OPEN_WORK),
        ),
        # Done items of a user, latest handled first (the id breaks ties).
        Index(
            "ix_work_items_done",
            "user_id",
            "handled_at",
            "id",
            "role",
            sqlite_where=text(DONE_WORK),
            postgresql_where=text(DONE_WORK),
        ),
        # Copies circulated to a user to read (传阅), newest first.
        Index(
            "ix_work_items_reader",
            "user_id",
            "id",
            "role",
            sqlite_where=text(READER_WORK),
            postgresql_where=text(READER_WORK),
        ),
        # The message list: a person's received messages not deleted by them, newest first
        # (hidden in the key, so counting them reads the index alone).
        Index(
            "ix_work_items_received",
            "user_id",
            "hidden",
            "id",
            sqlite_where=text("role = 'recipient'"),
            postgresql_where=text("role = 'recipient'"),
        ),
        # Messages not yet delivered / not yet read: small, read at every live-update poll.
        Index(
            "ix_work_items_undelivered",
            "user_id",
            sqlite_where=text("delivered_at IS NULL"),
            postgresql_where=text("delivered_at IS NULL"),
        ),
        Index(
            "ix_work_items_unread",
            "user_id",
            sqlite_where=text("role = 'recipient' AND confirmed_at IS NULL"),
            postgresql_where=text("role = 'recipient' AND confirmed_at IS NULL"),
        ),
        Index("ix_work_items_visit", "visit_id"),
        Index("ix_work_items_flow", "flow_id"),
    )
    id: Mapped[pk]
    flow_id: Mapped[int] = mapped_column(ForeignKey("flows.id"))
    visit_id: Mapped[int] = mapped_column(ForeignKey("visits.id"))
    user_id: Mapped[int] = mapped_column(ForeignKey("users.id"))
    #: the person's unit when the item was made: the record keeps it when they move (Art. 11)
    unit_id: Mapped[int | None] = mapped_column(ForeignKey("units.id"))
    #: host | handler | co_signer | reader; on messages sender | recipient
    role: Mapped[str] = mapped_column(String(16))
    #: open | done (the person acted) | cancelled (the step moved on without them)
    status: Mapped[str] = mapped_column(String(16), default="open")
    #: delivery effect: set when the step delivers the item; a message's recipient item is sent
    #: without it and is delivered when the person's device fetches it or a channel accepts it
    delivered_at: Mapped[datetime | None] = mapped_column(UtcDateTime())
    confirmed_at: Mapped[datetime | None] = mapped_column(UtcDateTime())
    handled_at: Mapped[datetime | None] = mapped_column(UtcDateTime())
    #: why delivery failed (a dead channel delivery); never a delivery effect
    failure: Mapped[str | None] = mapped_column(Text)
    #: the person deleted it from their message list (for them only)
    hidden: Mapped[bool] = mapped_column(default=False, server_default=text("false"))
    closed_at: Mapped[datetime | None] = mapped_column(UtcDateTime())
    #: who closed it: the person themself, or whoever moved the step on without them
    closed_by: Mapped[int | None] = mapped_column(ForeignKey("users.id"))
    #: forward | end | finish | sign | return | withdraw; on messages reply | relay | delete
    action: Mapped[str | None] = mapped_column(String(16))
    #: a co-signer's decision: approve | reject
    decision: Mapped[str | None] = mapped_column(String(16))
    opinion: Mapped[str | None] = mapped_column(Text)


class AuditEvent(Base):
    """Append-only; each flow's events form a SHA-256 hash chain (``chain`` = 'flow:ID' or 'admin')."""

    __tablename__ = "audit_events"
    __table_args__ = (UniqueConstraint("chain", "seq"),)
    id: Mapped[pk]
    chain: Mapped[str] = mapped_column(String(40))
    seq: Mapped[int] = mapped_column(Integer)
    flow_id: Mapped[int | None] = mapped_column(BigId)
    at: Mapped[UtcTime]
    actor_id: Mapped[int | None] = mapped_column(BigId)
    #: the actor's name as it was: people are renamed, history is not
    actor_name: Mapped[str | None] = mapped_column(String(100))
    kind: Mapped[str] = mapped_column(String(32))
    data: Mapped[dict[str, Any]] = mapped_column(JSON)
    prev_hash: Mapped[str] = mapped_column(String(64))
    hash: Mapped[str] = mapped_column(String(64))


class AuditHead(Base):
    """Head of a chain that has no flow row to carry it (administrative acts)."""

    __tablename__ = "audit_heads"
    chain: Mapped[str] = mapped_column(String(40), primary_key=True)
    seq: Mapped[int] = mapped_column(Integer, default=0)
    head: Mapped[str] = mapped_column(String(64), default="")


class AuditAnchor(Base):
    """One anchor: a root hash over the chain heads that moved since the last anchor, linked to
    the anchor before it, and copied outside the database (a file, an e-mail): see workflow/anchors.py."""

    __tablename__ = "audit_anchors"
    seq: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=False)
    at: Mapped[UtcTime]
    #: the organisation's local date at ``at``
    day: Mapped[date] = mapped_column(Date)
    #: how many chains this anchor records (those whose head moved since they were last anchored)
    chains: Mapped[int] = mapped_column(Integer)
    root: Mapped[str] = mapped_column(String(64))
    prev: Mapped[str] = mapped_column(String(64))
    #: the daily job that made it (``anchor:<date>``), so a job run twice anchors once; NULL by hand
    job_key: Mapped[str | None] = mapped_column(String(200), unique=True)


class AuditAnchorHead(Base):
    """A chain's (seq, head) as one anchor recorded it."""

    __tablename__ = "audit_anchor_heads"
    # "the last anchored head of every chain" walks this index
    __table_args__ = (Index("ix_audit_anchor_heads_chain", "chain", "anchor_seq"),)
    anchor_seq: Mapped[int] = mapped_column(ForeignKey("audit_anchors.seq"), primary_key=True)
    chain: Mapped[str] = mapped_column(String(40), primary_key=True)
    seq: Mapped[int] = mapped_column(Integer)
    head: Mapped[str] = mapped_column(String(64))


class SignInSession(Base):
    """One signed-in browser or phone (Art. 14-15): a fresh id at every sign-in, idle expiry."""

    __tablename__ = "sign_in_sessions"
    __table_args__ = (Index("ix_sign_in_sessions_user", "user_id", "ended_at"),)
    id: Mapped[str] = mapped_column(String(64), primary_key=True)
    user_id: Mapped[int] = mapped_column(ForeignKey("users.id"))
    created_at: Mapped[UtcTime]
    last_seen_at: Mapped[UtcTime]
    ended_at: Mapped[datetime | None] = mapped_column(UtcDateTime())
    user_agent: Mapped[str | None] = mapped_column(String(300))
    address: Mapped[str | None] = mapped_column(String(64))


class SignInAttempt(Base):
    """One refused sign-in, for administrators: the login as typed, whom it matched, from where."""

    __tablename__ = "sign_in_attempts"
    __table_args__ = (Index("ix_sign_in_attempts_at", "at"),)
    id: Mapped[pk]
    at: Mapped[UtcTime]
    #: as typed (cut to 200 characters, NUL shown as U+FFFD)
    login: Mapped[str] = mapped_column(String(200))
    user_id: Mapped[int | None] = mapped_column(ForeignKey("users.id"))
    address: Mapped[str | None] = mapped_column(String(64))
    user_agent: Mapped[str | None] = mapped_column(String(300))
    #: unknown_login | wrong_password | inactive | too_soon | locked
    reason: Mapped[str] = mapped_column(String(16))


class SignInThrottle(Base):
    """Failed sign-ins counted for one account (login) or one network address: the delay before
    the next attempt and the temporary lock are derived from the count and the latest failure."""

    __tablename__ = "sign_in_throttles"
    #: account | address
    scope: Mapped[str] = mapped_column(String(8), primary_key=True)
    #: the login (stripped, case-folded) or the address (an IPv6 address's /64)
    key: Mapped[str] = mapped_column(String(200), primary_key=True)
    failures: Mapped[int] = mapped_column(Integer, default=0)
    #: the first failure of the counting window
    first_at: Mapped[UtcTime]
    #: the latest failure: the delay and the lock run from it
    last_at: Mapped[UtcTime]


class Job(Base):
    """Due work (deadlines, reminders): claimed by ``banli worker`` under a lease, retried, dead-lettered."""

    __tablename__ = "jobs"
    __table_args__ = (
        Index("ix_jobs_due", "status", "due_at"),
        Index("ix_jobs_lease", "status", "lease_until"),
    )
    id: Mapped[pk]
    kind: Mapped[str] = mapped_column(String(64))
    #: the idempotency (outbox) key: enqueueing the same key twice is a no-op
    key: Mapped[str] = mapped_column(String(200), unique=True)
    payload: Mapped[dict[str, Any]] = mapped_column(JSON)
    due_at: Mapped[UtcTime]
    #: pending | running | done | dead
    status: Mapped[str] = mapped_column(String(16), default="pending")
    #: claims so far (a claim counts even if its worker dies before finishing)
    attempts: Mapped[int] = mapped_column(Integer, default=0)
    max_attempts: Mapped[int] = mapped_column(Integer, default=5)
    leased_by: Mapped[str | None] = mapped_column(String(100))
    lease_until: Mapped[datetime | None] = mapped_column(UtcDateTime())
    last_error: Mapped[str | None] = mapped_column(Text)
    created_at: Mapped[UtcTime]
    done_at: Mapped[datetime | None] = mapped_column(UtcDateTime())


class DingCount(Base):
    """DINGs a sender sent on one local day (Art. 20: at most 60 a day), counted atomically."""

    __tablename__ = "ding_counts"
    sender_id: Mapped[int] = mapped_column(ForeignKey("users.id"), primary_key=True)
    #: the sender's local date in the organisation's time zone
    day: Mapped[date] = mapped_column(Date, primary_key=True)
    count: Mapped[int] = mapped_column(Integer, default=0)


class Ding(Base):
    """One DING (钉) to one person about one work item: by which channel, delivered or failed,
    and when the person clicked to confirm it (Art. 20)."""

    __tablename__ = "dings"
    __table_args__ = (
        Index("ix_dings_item", "item_id"),
        Index("ix_dings_flow", "flow_id"),
    )
    id: Mapped[pk]
    flow_id: Mapped[int] = mapped_column(ForeignKey("flows.id"))
    item_id: Mapped[int] = mapped_column(ForeignKey("work_items.id"))
    sender_id: Mapped[int] = mapped_column(ForeignKey("users.id"))
    user_id: Mapped[int] = mapped_column(ForeignKey("users.id"))
    #: sms | voice | email
    channel: Mapped[str] = mapped_column(String(8))
    sent_at: Mapped[UtcTime]
    #: sent (queued to the channel) | delivered (the channel accepted it) | failed
    status: Mapped[str] = mapped_column(String(16), default="sent")
    delivered_at: Mapped[datetime | None] = mapped_column(UtcDateTime())
    failure: Mapped[str | None] = mapped_column(Text)
    confirmed_at: Mapped[datetime | None] = mapped_column(UtcDateTime())


class RequestKey(Base):
    """A form's one-time key, so that the same form sent twice (a double click, a resend after a
    lost answer, two tabs) makes one message: the second send finds the first one's flow."""

    __tablename__ = "request_keys"
    user_id: Mapped[int] = mapped_column(ForeignKey("users.id"), primary_key=True)
    key: Mapped[str] = mapped_column(String(64), primary_key=True)
    flow_id: Mapped[int | None] = mapped_column(ForeignKey("flows.id"))
    created_at: Mapped[UtcTime]


class Upload(Base):
    """Who stored which file, and when they last did: their storage quota, and the daily sweep
    that removes files no flow or message refers to (a form refused after its upload)."""

    __tablename__ = "uploads"
    user_id: Mapped[int] = mapped_column(ForeignKey("users.id"), primary_key=True)
    sha256: Mapped[str] = mapped_column(String(64), primary_key=True)
    size: Mapped[int] = mapped_column(BigInteger)
    #: the last time this person stored this content (the same file again refreshes it)
    stored_at: Mapped[UtcTime]
    __table_args__ = (Index("ix_uploads_sha256", "sha256"),)


# --- organisation (Art. 7-17, 21, 29-31): migration 0012 ---------------------------------------


class Invitation(Base):
    """A one-time link that lets an enrolled person set a password and become active (Art. 10).

    Only the token's SHA-256 is kept; a newer invitation for the same person replaces theirs."""

    __tablename__ = "invitations"
    __table_args__ = (Index("ix_invitations_user", "user_id"),)
    token_hash: Mapped[str] = mapped_column(String(64), primary_key=True)
    user_id: Mapped[int] = mapped_column(ForeignKey("users.id"))
    created_by: Mapped[int | None] = mapped_column(ForeignKey("users.id"))
    created_at: Mapped[UtcTime]
    expires_at: Mapped[UtcTime]
    used_at: Mapped[datetime | None] = mapped_column(UtcDateTime())


class MobileChange(Base):
    """A person's request to change their mobile (Art. 8): a code sent to the new number, the
    change made when the code is entered before it expires (a few attempts at most)."""

    __tablename__ = "mobile_changes"
    __table_args__ = (Index("ix_mobile_changes_user", "user_id"),)
    id: Mapped[pk]
    user_id: Mapped[int] = mapped_column(ForeignKey("users.id"))
    new_mobile: Mapped[str] = mapped_column(String(32))
    code_hash: Mapped[str] = mapped_column(String(64))
    created_at: Mapped[UtcTime]
    expires_at: Mapped[UtcTime]
    attempts: Mapped[int] = mapped_column(Integer, default=0)
    done_at: Mapped[datetime | None] = mapped_column(UtcDateTime())


class MainAdmin(Base):
    """The one main administrator (Art. 29-30): a single row, transferred, never two."""

    __tablename__ = "main_admin"
    #: always 1: the primary key makes a second main administrator impossible
    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    user_id: Mapped[int] = mapped_column(ForeignKey("users.id"))
    since: Mapped[UtcTime]


class AdminGrant(Base):
    """One capability of a sub-administrator over one unit's subtree (Art. 31)."""

    __tablename__ = "admin_grants"
    __table_args__ = (
        UniqueConstraint("user_id", "capability", "unit_id"),
        Index("ix_admin_grants_user", "user_id"),
    )
    id: Mapped[pk]
    user_id: Mapped[int] = mapped_column(ForeignKey("users.id"))
    #: people | types | messages | stats | jobs (workflow.access.CAPABILITIES)
    capability: Mapped[str] = mapped_column(String(16))
    #: the root of the subtree the capability covers
    unit_id: Mapped[int] = mapped_column(ForeignKey("units.id"))
    granted_by: Mapped[int | None] = mapped_column(ForeignKey("users.id"))
    granted_at: Mapped[UtcTime]


class MobileViewer(Base):
    """A unit whose people see a hidden mobile (``users.mobile_hidden``), e.g. a leader's office."""

    __tablename__ = "mobile_viewers"
    user_id: Mapped[int] = mapped_column(ForeignKey("users.id"), primary_key=True)
    unit_id: Mapped[int] = mapped_column(ForeignKey("units.id"), primary_key=True)


class PresenceDay(Base):
    """A person was signed in (signed in, or a session of theirs was seen) on a local day:
    the sign-in statistics (Art. 17)."""

    __tablename__ = "presence_days"
    __table_args__ = (Index("ix_presence_days_day", "day", "user_id"),)
    user_id: Mapped[int] = mapped_column(ForeignKey("users.id"), primary_key=True)
    #: the local date in the organisation's time zone
    day: Mapped[date] = mapped_column(Date, primary_key=True)
    first_at: Mapped[UtcTime]


class OrgSetting(Base):
    """An organisation-wide setting an administrator changes in the browser (e.g. the daily
    sign-in reminder's time), as JSON by key; BANLI_* settings are the server's, these the company's."""

    __tablename__ = "org_settings"
    key: Mapped[str] = mapped_column(String(64), primary_key=True)
    value: Mapped[Any] = mapped_column(JSON)
    updated_by: Mapped[int | None] = mapped_column(ForeignKey("users.id"))
    updated_at: Mapped[UtcTime]


class RateCount(Base):
    """Requests counted per person (or address) in a fixed window: the directory's rate limit."""

    __tablename__ = "rate_counts"
    #: what is limited ("directory")
    scope: Mapped[str] = mapped_column(String(32), primary_key=True)
    key: Mapped[str] = mapped_column(String(200), primary_key=True)
    window_start: Mapped[UtcTime]
    count: Mapped[int] = mapped_column(Integer, default=0)
