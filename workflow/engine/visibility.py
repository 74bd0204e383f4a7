"""Who may see a flow: the one rule every page asks before it says anything about a flow.

The initiator, anyone with a work item in the flow (any role, any status) and administrators
may see it. To anyone else a flow they may not see and a flow that does not exist are the same
thing: ``Hidden``, with the same sentence either way, so an id tells a stranger nothing (not
whether it exists, nor whose it is). What a person who may see a flow may *do* in it is a
separate question each action answers (``Forbidden`` with its reason, 403).
"""

from __future__ import annotations

from sqlalchemy import Connection, select

from workflow.engine.sql import FLOWS, ITEMS
from workflow.errors import Hidden
from workflow.store.models import RoleMembership

ROLES = RoleMembership.__table__


def may_see(conn: Connection, user_id: int, flow_id: int) -> bool:
    """Whether ``user_id`` may see flow ``flow_id``: its initiator, a participant, an admin."""
    if conn.scalar(
        select(FLOWS.c.id).where(FLOWS.c.id == flow_id, FLOWS.c.initiator_id == user_id)
    ):
        return True
    if conn.scalar(
        select(ITEMS.c.id).where(ITEMS.c.flow_id == flow_id, ITEMS.c.user_id == user_id).limit(1)
    ):
        return True
    return (
        is_admin(conn, user_id)
        and conn.scalar(select(FLOWS.c.id).where(FLOWS.c.id == flow_id)) is not None
    )


def is_admin(conn: Connection, user_id: int) -> bool:
    """Administrators see every flow."""
    found = conn.scalar(
        select(ROLES.c.id).where(ROLES.c.user_id == user_id, ROLES.c.role == "admin").limit(1)
    )
    return found is not None


def visible_flow(
    conn: Connection, user_id: int, *, flow_id: int | None = None, item_id: int | None = None
) -> int:
    """The id of the flow ``user_id`` asks about (the flow, or the flow of work item ``item_id``)
    if they may see it; else ``Hidden``, the same whether the flow or item exists or not."""
    if item_id is not None:
        flow_id = conn.scalar(select(ITEMS.c.flow_id).where(ITEMS.c.id == item_id))
    if flow_id is None or not may_see(conn, user_id, flow_id):
        if item_id is not None:
            raise Hidden("item_hidden", item=item_id)
        raise Hidden("flow_hidden", flow=flow_id)
    return flow_id
