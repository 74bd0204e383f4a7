"""Who may see and do what: the one place every door (web, CLI, API) and the engine ask.

Seeing. A flow is seen by its initiator, by anyone with a work item in it (any role, any
status: host, handler, co-signer, reader, a message's recipient) and by administrators. A work
item, a message and an attachment are seen by whoever may see their flow. To anyone else a flow
they may not see and a flow that does not exist are the same thing: ``Hidden`` (404), with the
same sentence either way, so an id tells a stranger nothing — not whether it exists, nor whose
it is. What a person who may see a flow may *do* in it is a separate question each action
answers (``Forbidden`` with its reason, 403).

Administering. An administrator is an *active* person with the role ``admin``. Only they see
the system jobs and retry a dead one, see refused sign-ins and lift a lock, always print a flow
sheet and see a message's receipts when they did not send it.

Printing. A flow sheet is printed by an administrator at any time, and by the initiator once
the flow is closed (``CLOSED_STATES``: its record no longer changes, so the printed chain head
stays valid). Everyone else who may see the flow is refused (403).

This module depends on the stored tables only, so that the engine, the jobs queue, sign-in
checks and messages can all ask it without importing one another.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import TYPE_CHECKING, Any, Literal

from sqlalchemy import select

from workflow.errors import Forbidden, Hidden, NotFound
from workflow.spec.model import CLOSED_STATES
from workflow.store.db import ConnectionOrSession
from workflow.store.models import Flow, RoleMembership, User, WorkItem

if TYPE_CHECKING:
    from workflow.engine.records import FlowRecord

FLOWS = Flow.__table__
ITEMS = WorkItem.__table__
ROLES = RoleMembership.__table__
USERS = User.__table__
ADMIN = "admin"

# The refusals of printing a flow sheet: catalogue codes (workflow/refusals.py).
NOT_PRINTER = "sheet_not_yours"
NOT_CLOSED = "sheet_not_ended"


def is_admin(tx: ConnectionOrSession, user_id: int) -> bool:
    """Whether ``user_id`` is an administrator: an active person with the role ``admin``."""
    found = tx.execute(
        select(ROLES.c.id)
        .join(USERS, USERS.c.id == ROLES.c.user_id)
        .where(ROLES.c.user_id == user_id, ROLES.c.role == ADMIN, USERS.c.status == "active")
        .limit(1)
    ).first()
    return found is not None


def require_admin(tx: ConnectionOrSession, actor_id: int, to: Literal["retry", "unlock"]) -> str:
    """The name of ``actor_id`` if they are an administrator; else ``Forbidden``, saying what
    they may not do: ``retry`` a dead job, ``unlock`` a sign-in lock."""
    user = tx.execute(select(User.name, User.status).where(User.id == actor_id)).first()
    if user is None:
        raise NotFound("user_not_found", user=actor_id)
    if not is_admin(tx, actor_id):
        if to == "retry":
            raise Forbidden("retry_not_admin", name=user.name)
        raise Forbidden("unlock_not_admin", name=user.name)
    return user.name


def may_see(tx: ConnectionOrSession, user_id: int, flow_id: int) -> bool:
    """Whether ``user_id`` may see flow ``flow_id``: its initiator, a participant, an admin."""
    if tx.execute(
        select(FLOWS.c.id).where(FLOWS.c.id == flow_id, FLOWS.c.initiator_id == user_id)
    ).first():
        return True
    if tx.execute(
        select(ITEMS.c.id).where(ITEMS.c.flow_id == flow_id, ITEMS.c.user_id == user_id).limit(1)
    ).first():
        return True
    return (
        is_admin(tx, user_id)
        and tx.execute(select(FLOWS.c.id).where(FLOWS.c.id == flow_id)).first() is not None
    )


def visible_flow(
    tx: ConnectionOrSession, user_id: int, *, flow_id: int | None = None, item_id: int | None = None
) -> int:
    """The id of the flow ``user_id`` asks about (the flow, or the flow of work item ``item_id``)
    if they may see it; else ``Hidden``, the same whether the flow or item exists or not."""
    asked = flow_id
    if item_id is not None:
        flow_id = tx.execute(select(ITEMS.c.flow_id).where(ITEMS.c.id == item_id)).scalar()
    if flow_id is None or not may_see(tx, user_id, flow_id):
        if item_id is not None:
            raise Hidden("item_hidden", item=item_id)
        raise Hidden("flow_hidden", flow=asked)
    return flow_id


def may_see_receipts(tx: ConnectionOrSession, user_id: int, sender_id: int) -> bool:
    """Who received and read a message: its sender and administrators."""
    return user_id == sender_id or is_admin(tx, user_id)


def sheet_refusal(admin: bool, user_id: int, initiator_id: int, state: str) -> str | None:
    """Why ``user_id`` may not print this flow's sheet (None: they may); see the module text."""
    if admin:
        return None
    if initiator_id != user_id:
        return NOT_PRINTER
    if state not in CLOSED_STATES:
        return NOT_CLOSED
    return None


@dataclass(frozen=True)
class Person:
    """Someone a command names by login: who they are, and whether they are an administrator."""

    id: int
    name: str
    admin: bool


class Access:
    """The engine's access questions for the doors; each opens its own read transaction."""

    db: Any

    def is_admin(self, user_id: int) -> bool:
        """Whether ``user_id`` is an administrator (active, role ``admin``)."""
        with self.db.read() as s:
            return is_admin(s.connection(), user_id)

    def person(self, login: str) -> Person | None:
        """The person with this login (the command line names people so), or None."""
        with self.db.read() as s:
            c = s.connection()
            row = c.execute(select(USERS.c.id, USERS.c.name).where(USERS.c.login == login)).first()
            return None if row is None else Person(row.id, row.name, is_admin(c, row.id))

    def may_see(self, s: Any, user_id: int, flow_id: int) -> bool:
        """Within the session ``s``: whether ``user_id`` may see flow ``flow_id``."""
        return may_see(s.connection(), user_id, flow_id)

    def visible(
        self, viewer_id: int, *, flow_id: int | None = None, item_id: int | None = None
    ) -> int:
        """The flow (or the flow of the work item) ``viewer_id`` asks about, if they may see it.

        The one check every page that names a flow, work item, message or attachment makes
        first. Raises ``Hidden`` (404) alike for a flow that does not exist and for one the
        viewer has no part in.
        """
        with self.db.read() as s:
            return visible_flow(s.connection(), viewer_id, flow_id=flow_id, item_id=item_id)

    def may_see_receipts(self, viewer_id: int, sender_id: int) -> bool:
        """Whether ``viewer_id`` sees who received and read a message ``sender_id`` sent."""
        with self.db.read() as s:
            return may_see_receipts(s.connection(), viewer_id, sender_id)

    def may_print_sheet(self, viewer_id: int, record: FlowRecord) -> bool:
        """Whether ``viewer_id`` may print the sheet of this flow (whose record they see)."""
        admin = self.is_admin(viewer_id)
        return sheet_refusal(admin, viewer_id, record.initiator_id, record.state) is None

    def printable(self, viewer_id: int, flow_id: int) -> FlowRecord:
        """The record of a flow whose sheet ``viewer_id`` may print.

        Raises:
            Hidden: no such flow, or the viewer has no part in it.
            Forbidden: they see the flow but may not print it (not the initiator; not closed).
        """
        admin = self.is_admin(viewer_id)
        # an administrator sees every flow, and prints its whole record
        record: FlowRecord = self.history(  # type: ignore[attr-defined]
            flow_id, viewer_id=None if admin else viewer_id
        )
        refusal = sheet_refusal(admin, viewer_id, record.initiator_id, record.state)
        if refusal == NOT_PRINTER:
            raise Forbidden("sheet_not_yours")
        if refusal == NOT_CLOSED:
            raise Forbidden("sheet_not_ended")
        return record
