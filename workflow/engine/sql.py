"""The hot path's statements, built once: building a statement costs more than running it on SQLite.

Their parameters are named ``b_…`` (``b_item``, ``b_at``: *bound* values, passed at execution):
SQLAlchemy refuses a ``bindparam`` named like a column in an INSERT or UPDATE ("reserved for
automatic usage in the VALUES or SET clause"), so the prefix keeps every name clear of every column.
"""

from __future__ import annotations

from sqlalchemy import (
    Connection,
    bindparam,
    func,
    insert,
    literal_column,
    or_,
    select,
    text,
    update,
)
from sqlalchemy.exc import DBAPIError
from sqlalchemy.orm import aliased

from workflow.store.models import (
    NOT_MESSAGE,
    AuditEvent,
    Flow,
    RoleMembership,
    Unit,
    User,
    UtcDateTime,
    Visit,
    WorkItem,
)

FLOWS, ITEMS, VISITS, USERS = (
    Flow.__table__,
    WorkItem.__table__,
    Visit.__table__,
    User.__table__,
)
EVENTS, UNITS, ROLES = AuditEvent.__table__, Unit.__table__, RoleMembership.__table__
AT = bindparam("b_at", type_=UtcDateTime())  # one typed parameter, also inside coalesce()
OPEN = literal_column("'open'")  # a literal, so SQLite can use the partial index on open items
#: Work, not messages: the very predicate of the workbench's partial indexes, so they are used.
WORK_ONLY = text(f"work_items.{NOT_MESSAGE}")
RECIPIENT = literal_column("'recipient'")  # a message recipient's role, a literal likewise
APPROVAL = literal_column("'approval'")  # flows.kind of approvals, a literal for the same reason

FLOW_COLS = (
    FLOWS.c.id,
    FLOWS.c.definition_id,
    FLOWS.c.state,
    FLOWS.c.version,
    FLOWS.c.form,
    FLOWS.c.initiator_id,
    FLOWS.c.current_visit_id,
    FLOWS.c.audit_seq,
    FLOWS.c.audit_head,
    FLOWS.c.title,
)
ITEM_KEYS = ("user_id", "role", "status", "delivered_at", "confirmed_at", "handled_at",
             "closed_at", "closed_by", "visit_id", "user_name")  # fmt: skip
VISIT_KEYS = ("step", "seq", "rejected", "left_at", "left_by")

LOCK_FLOW_OF_ITEM = (
    select(FLOWS.c.id)
    .where(FLOWS.c.id == select(ITEMS.c.flow_id).where(ITEMS.c.id == bindparam("b_item"))
           .scalar_subquery())
    .with_for_update()
)  # fmt: skip
LOCK_FLOW = select(FLOWS.c.id).where(FLOWS.c.id == bindparam("b_flow")).with_for_update()

LOAD_ITEM = (
    select(
        *FLOW_COLS,
        ITEMS.c.id.label("item_id"),
        *(ITEMS.c[k] for k in ITEM_KEYS if k != "user_name"),
        USERS.c.name.label("user_name"),
        USERS.c.status.label("user_status"),
        *(VISITS.c[k] for k in VISIT_KEYS),
    )
    .select_from(
        ITEMS.join(FLOWS, FLOWS.c.id == ITEMS.c.flow_id)
        .join(USERS, USERS.c.id == ITEMS.c.user_id)
        .join(VISITS, VISITS.c.id == ITEMS.c.visit_id)
    )
    .where(ITEMS.c.id == bindparam("b_item"))
)
LOAD_FLOW = select(*FLOW_COLS).where(FLOWS.c.id == bindparam("b_flow"))
LOAD_VISIT = select(VISITS.c.id, *(VISITS.c[k] for k in VISIT_KEYS)).where(
    VISITS.c.id == bindparam("b_visit")
)
#: PostgreSQL: the actor's row share-locked, so an action and a removal of its actor (which
#: updates that row first) are serial: the action sees "removed", or the removal waits for it.
LOCK_ACTOR = (
    select(USERS.c.status).where(USERS.c.id == bindparam("b_user")).with_for_update(read=True)
)
LOAD_USER = select(USERS.c.name, USERS.c.status, USERS.c.unit_id).where(
    USERS.c.id == bindparam("b_user")
)

CONFIRM = (
    update(ITEMS)
    .where(ITEMS.c.id == bindparam("b_item"))
    .values(confirmed_at=AT, delivered_at=func.coalesce(ITEMS.c.delivered_at, AT))
)
_HANDLE_VALUES = {
    "status": "done",
    "handled_at": AT,
    "closed_at": AT,
    "closed_by": bindparam("b_actor"),
    "action": bindparam("b_action"),
    "opinion": bindparam("b_opinion"),
    "confirmed_at": func.coalesce(ITEMS.c.confirmed_at, AT),
    "delivered_at": func.coalesce(ITEMS.c.delivered_at, AT),  # a message handled unopened
}
HANDLE = update(ITEMS).where(ITEMS.c.id == bindparam("b_item")).values(**_HANDLE_VALUES)
HANDLE_DECIDED = (
    update(ITEMS)
    .where(ITEMS.c.id == bindparam("b_item"))
    .values(**_HANDLE_VALUES, decision=bindparam("b_decision"))
)
CANCEL_OPEN = (
    update(ITEMS)
    .where(ITEMS.c.visit_id == bindparam("b_visit"), ITEMS.c.status == OPEN)
    .values(status="cancelled", closed_at=AT, closed_by=bindparam("b_actor"))
    .returning(ITEMS.c.id)
)
CANCEL_OTHERS = (
    update(ITEMS)
    .where(ITEMS.c.visit_id == bindparam("b_visit"), ITEMS.c.status == OPEN,
           ITEMS.c.role != "host")
    .values(status="cancelled", closed_at=AT, closed_by=bindparam("b_actor"))
    .returning(ITEMS.c.id)
)  # fmt: skip
LEAVE_VISIT = (
    update(VISITS)
    .where(VISITS.c.id == bindparam("b_visit"))
    .values(left_at=AT, left_by=bindparam("b_actor"))
)
VETO_VISIT = update(VISITS).where(VISITS.c.id == bindparam("b_visit")).values(rejected=True)
INSERT_VISIT = insert(VISITS).returning(VISITS.c.id)
INSERT_ITEM = insert(ITEMS).returning(ITEMS.c.id)
#: Several items in one multi-row INSERT (SQLAlchemy's "insertmanyvalues") returning their ids:
#: no reading them back. (Not ``sort_by_parameter_order``: SQLite would get one INSERT a row.)
INSERT_ITEMS = insert(ITEMS).returning(ITEMS.c.id)
INSERT_EVENTS = insert(EVENTS)
INSERT_FLOW = insert(FLOWS).returning(FLOWS.c.id)

_FLOW_VALUES = {
    "state": bindparam("b_state"),
    "version": bindparam("b_new_version"),
    "current_visit_id": bindparam("b_visit"),
    "audit_seq": bindparam("b_seq"),
    "audit_head": bindparam("b_head"),
}
_FLOW_WHERE = (FLOWS.c.id == bindparam("b_flow"), FLOWS.c.version == bindparam("b_version"))
UPDATE_FLOW = update(FLOWS).where(*_FLOW_WHERE).values(**_FLOW_VALUES)
CLOSE_FLOW = (
    update(FLOWS)
    .where(*_FLOW_WHERE)
    .values(**_FLOW_VALUES, ended_at=bindparam("b_ended"), outcome=bindparam("b_outcome"))
)

#: a reassigned item (its holder left or moved) is not waited for: its successor's item is
REASSIGNED = literal_column("'reassign'")
NOT_REASSIGNED = or_(ITEMS.c.action.is_(None), ITEMS.c.action != REASSIGNED)
WAITING = select(ITEMS.c.status, ITEMS.c.user_id).where(
    ITEMS.c.visit_id == bindparam("b_visit"), ITEMS.c.role != "host", NOT_REASSIGNED
)
NAMES = select(USERS.c.id, USERS.c.name).where(USERS.c.id.in_(bindparam("b_ids", expanding=True)))
USER_NAME = select(USERS.c.name).where(USERS.c.id == bindparam("b_user"))
#: each person's unit (id and name) now: a new work item keeps it (Art. 11), one query per step
USER_UNITS = (
    select(USERS.c.id, USERS.c.unit_id, UNITS.c.name)
    .select_from(USERS.outerjoin(UNITS, UNITS.c.id == USERS.c.unit_id))
    .where(USERS.c.id.in_(bindparam("b_ids", expanding=True)))
)

# The units from a user's own up to the root, with their distance: for "head of my unit".
_start = (
    select(UNITS.c.id, UNITS.c.parent_id, literal_column("0").label("depth"))
    .join(USERS, USERS.c.unit_id == UNITS.c.id)
    .where(USERS.c.id == bindparam("b_user"))
    .cte("chain", recursive=True)
)
_up = aliased(UNITS)
CHAIN = _start.union_all(
    select(_up.c.id, _up.c.parent_id, (_start.c.depth + 1).label("depth")).join(
        _start, _up.c.id == _start.c.parent_id
    )
)
_holder = aliased(USERS)
ROLE_IN_CHAIN = (
    select(ROLES.c.user_id, CHAIN.c.depth)
    .join(CHAIN, CHAIN.c.id == ROLES.c.unit_id)
    .join(_holder, _holder.c.id == ROLES.c.user_id)
    .where(ROLES.c.role == bindparam("b_role"), _holder.c.status == "active")
    .order_by(CHAIN.c.depth, ROLES.c.user_id)
)
ROLE_ANYWHERE = (
    select(ROLES.c.user_id)
    .join(USERS, USERS.c.id == ROLES.c.user_id)
    .where(ROLES.c.role == bindparam("b_role"), USERS.c.status == "active")
)
ROLES_ANYWHERE = (
    select(ROLES.c.user_id)
    .join(USERS, USERS.c.id == ROLES.c.user_id)
    .where(ROLES.c.role.in_(bindparam("b_roles", expanding=True)), USERS.c.status == "active")
)


# --- PostgreSQL: the two locks of an item action in one round trip ------------------------------

_PG_LOCK_ACTOR = "SELECT status FROM users WHERE id = %s FOR SHARE"
_PG_LOCK_FLOW_OF_ITEM = (
    "SELECT id FROM flows WHERE id = (SELECT flow_id FROM work_items WHERE id = %s) FOR UPDATE"
)


def lock_actor_and_flow_of_item(conn: Connection, actor_id: int | None, item_id: int) -> str | None:
    """PostgreSQL: share-lock the actor's row, then lock the item's flow (that order: see
    ``LOCK_ACTOR``); the actor's status. With psycopg 3 both go in one pipeline: sent together,
    run one after the other by the server, one round trip instead of two."""
    raw = conn.connection.driver_connection
    if not hasattr(raw, "pipeline"):  # another driver: one statement each
        status = None
        if actor_id is not None:
            status = conn.execute(LOCK_ACTOR, {"b_user": actor_id}).scalar()
        conn.execute(LOCK_FLOW_OF_ITEM, {"b_item": item_id})
        return status
    import psycopg

    try:
        with raw.pipeline():
            actor = raw.execute(_PG_LOCK_ACTOR, (actor_id,)) if actor_id is not None else None
            raw.execute(_PG_LOCK_FLOW_OF_ITEM, (item_id,))
        row = actor.fetchone() if actor is not None else None
    except psycopg.Error as exc:  # as SQLAlchemy would raise it: Busy, retries see the SQLSTATE
        raise DBAPIError.instance(_PG_LOCK_FLOW_OF_ITEM, (item_id,), exc, psycopg.Error) from exc
    return row[0] if row else None
