"""Who may see and do what: the one place every door (web, CLI, API) and the engine ask.

Seeing. A flow is seen by its initiator, by anyone with a work item in it (any role, any
status: host, handler, co-signer, reader, a message's recipient) and by administrators. A work
item, a message and an attachment are seen by whoever may see their flow. To anyone else a flow
they may not see and a flow that does not exist are the same thing: ``Hidden`` (404), with the
same sentence either way, so an id tells a stranger nothing — not whether it exists, nor whose
it is. What a person who may see a flow may *do* in it is a separate question each action
answers (``Forbidden`` with its reason, 403).

Administering (Art. 29-31). There is exactly one *main administrator* (the ``main_admin`` row,
transferable) and any number of *sub-administrators*, each holding capabilities over unit
subtrees (``admin_grants``): ``people`` (people, units, sessions, sign-in security), ``types``
(approval types), ``messages`` (messages and DING), ``stats`` (statistics), ``jobs`` (system
jobs). The main administrator holds every capability over the whole tree. Only an *active*
person administers. :func:`admin_scope` answers what someone administers; every admin page and
command asks :func:`require_capability` (with the unit the act concerns) and shows only what
:meth:`AdminScope.units_for` covers. ``is_admin`` — the powers over every flow: seeing it,
printing its sheet at any time, seeing a message's receipts — is the main administrator's.

Printing. A flow sheet is printed by an administrator at any time, and by the initiator once
the flow is closed (``CLOSED_STATES``: its record no longer changes, so the printed chain head
stays valid). Everyone else who may see the flow is refused (403).

This module depends on the stored tables only, so that the engine, the jobs queue, sign-in
checks and messages can all ask it without importing one another.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any, Literal

from sqlalchemy import select

from workflow.errors import Forbidden, Hidden, NotFound
from workflow.refusals import Term
from workflow.spec.model import CLOSED_STATES
from workflow.store.db import ConnectionOrSession
from workflow.store.models import AdminGrant, Flow, MainAdmin, Unit, User, WorkItem

if TYPE_CHECKING:
    from workflow.engine.records import FlowRecord

FLOWS = Flow.__table__
ITEMS = WorkItem.__table__
USERS = User.__table__
UNITS = Unit.__table__
GRANTS = AdminGrant.__table__
MAIN = MainAdmin.__table__

#: what a sub-administrator may be granted, each over unit subtrees (Art. 31)
CAPABILITIES = ("people", "types", "messages", "stats", "jobs")
Capability = Literal["people", "types", "messages", "stats", "jobs"]

# The refusals of printing a flow sheet: catalogue codes (workflow/refusals.py).
NOT_PRINTER = "sheet_not_yours"
NOT_CLOSED = "sheet_not_ended"


@dataclass(frozen=True)
class AdminScope:
    """What one person administers: every capability everywhere (the main administrator), some
    capabilities over some unit subtrees (a sub-administrator), or nothing."""

    user_id: int
    main: bool = False
    #: capability → the ids of every unit it covers (the granted subtrees, expanded)
    units: Mapping[str, frozenset[int]] = field(default_factory=dict)
    #: capability → the roots granted (what the admin pages show as the scope)
    roots: Mapping[str, frozenset[int]] = field(default_factory=dict)
    #: the capabilities held over the whole company (the root unit's subtree): what is not
    #: about one unit — refused sign-ins from unknown logins, address locks — needs these
    company: frozenset[str] = frozenset()

    @property
    def capabilities(self) -> frozenset[str]:
        """The capabilities held anywhere."""
        return frozenset(CAPABILITIES) if self.main else frozenset(self.units)

    def company_wide(self, capability: str) -> bool:
        """Whether ``capability`` is held over the whole company."""
        return self.main or capability in self.company

    def covers(self, capability: str, unit_id: int | None = None) -> bool:
        """Whether this person holds ``capability`` over ``unit_id`` (None: anywhere)."""
        if self.main:
            return True
        units = self.units.get(capability)
        if not units:
            return False
        return unit_id is None or unit_id in units

    def units_for(self, capability: str) -> frozenset[int] | None:
        """The units ``capability`` covers; None means every unit (the main administrator)."""
        if self.main:
            return None
        return self.units.get(capability, frozenset())

    def described(self) -> dict[str, Any]:
        """The scope as the admin chain records it: ``{"main": true}`` or capability → roots."""
        if self.main:
            return {"main": True}
        return {cap: sorted(ids) for cap, ids in sorted(self.roots.items())}


def main_admin_id(tx: ConnectionOrSession) -> int | None:
    """The main administrator's user id (active or not), or None before one is named."""
    return tx.execute(select(MAIN.c.user_id).where(MAIN.c.id == 1)).scalar()


def subtree(tx: ConnectionOrSession, roots: Iterable[int]) -> frozenset[int]:
    """The units ``roots`` and every unit below them (closed ones too)."""
    children: dict[int | None, list[int]] = {}
    for unit_id, parent_id in tx.execute(select(UNITS.c.id, UNITS.c.parent_id)):
        children.setdefault(parent_id, []).append(unit_id)
    found: set[int] = set()
    todo = list(roots)
    while todo:
        unit_id = todo.pop()
        if unit_id not in found:
            found.add(unit_id)
            todo.extend(children.get(unit_id, ()))
    return frozenset(found)


def admin_scope(tx: ConnectionOrSession, user_id: int) -> AdminScope:
    """What ``user_id`` administers (nothing unless they are active)."""
    status = tx.execute(select(USERS.c.status).where(USERS.c.id == user_id)).scalar()
    if status != "active":
        return AdminScope(user_id)
    if main_admin_id(tx) == user_id:
        return AdminScope(user_id, main=True)
    roots: dict[str, set[int]] = {}
    for cap, unit_id in tx.execute(
        select(GRANTS.c.capability, GRANTS.c.unit_id).where(GRANTS.c.user_id == user_id)
    ):
        roots.setdefault(cap, set()).add(unit_id)
    if not roots:
        return AdminScope(user_id)
    units = {cap: subtree(tx, ids) for cap, ids in roots.items()}
    tops = set(tx.execute(select(UNITS.c.id).where(UNITS.c.parent_id.is_(None))).scalars())
    company = frozenset(cap for cap, ids in units.items() if tops and tops <= ids)
    return AdminScope(user_id, False, units, {c: frozenset(r) for c, r in roots.items()}, company)


def require_capability(
    tx: ConnectionOrSession, actor_id: int, capability: str, unit_id: int | None = None
) -> AdminScope:
    """The scope of ``actor_id`` if it covers ``capability`` over ``unit_id`` (None: anywhere);
    else ``Forbidden``, naming the person, the capability and (if asked) the unit."""
    scope = admin_scope(tx, actor_id)
    if scope.covers(capability, unit_id):
        return scope
    name = tx.execute(select(USERS.c.name).where(USERS.c.id == actor_id)).scalar()
    if name is None:
        raise NotFound("user_not_found", user=actor_id)
    if unit_id is None:
        raise Forbidden("admin_capability_missing", name=name, capability=Term(capability))
    unit = tx.execute(select(UNITS.c.name).where(UNITS.c.id == unit_id)).scalar()
    raise Forbidden(
        "admin_unit_out_of_scope", name=name, capability=Term(capability), unit=unit or unit_id
    )


def is_admin(tx: ConnectionOrSession, user_id: int) -> bool:
    """Whether ``user_id`` is the main administrator, and active: the powers over every flow."""
    found = tx.execute(
        select(MAIN.c.user_id)
        .join(USERS, USERS.c.id == MAIN.c.user_id)
        .where(MAIN.c.id == 1, MAIN.c.user_id == user_id, USERS.c.status == "active")
    ).first()
    return found is not None


def require_admin(tx: ConnectionOrSession, actor_id: int, to: Literal["retry", "unlock"]) -> str:
    """The name of ``actor_id`` if they may ``retry`` a dead job (capability ``jobs``) or
    ``unlock`` a sign-in lock (``people`` over the whole company: a lock is on a login as typed
    or on an address, neither of which belongs to one unit); else ``Forbidden``, saying which."""
    user = tx.execute(select(User.name, User.status).where(User.id == actor_id)).first()
    if user is None:
        raise NotFound("user_not_found", user=actor_id)
    scope = admin_scope(tx, actor_id)
    if not (scope.covers("jobs") if to == "retry" else scope.company_wide("people")):
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
    #: the main administrator (powers over every flow)
    admin: bool
    #: what they administer (main or sub-administrator)
    scope: AdminScope


class Access:
    """The engine's access questions for the doors; each opens its own read transaction."""

    db: Any

    def is_admin(self, user_id: int) -> bool:
        """Whether ``user_id`` is the (active) main administrator."""
        with self.db.read() as s:
            return is_admin(s.connection(), user_id)

    def admin_scope(self, user_id: int) -> AdminScope:
        """What ``user_id`` administers (see :func:`admin_scope`)."""
        with self.db.read() as s:
            return admin_scope(s.connection(), user_id)

    def person(self, login: str) -> Person | None:
        """The person with this login (the command line names people so), or None."""
        with self.db.read() as s:
            c = s.connection()
            row = c.execute(select(USERS.c.id, USERS.c.name).where(USERS.c.login == login)).first()
            if row is None:
                return None
            return Person(row.id, row.name, is_admin(c, row.id), admin_scope(c, row.id))

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
