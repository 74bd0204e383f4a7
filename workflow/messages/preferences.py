"""The person's own message settings: the channel their DINGs come by."""

from __future__ import annotations

from typing import TYPE_CHECKING

from sqlalchemy import select, update

from workflow.channels import KINDS
from workflow.engine.sql import USERS
from workflow.errors import InvalidAction, NotFound
from workflow.refusals import quoted

if TYPE_CHECKING:
    from workflow.engine.core import Engine


def ding_channel(engine: Engine, user_id: int) -> str:
    """How DINGs reach the person when the sender leaves the channel to them (sms, voice, email)."""
    with engine.db.read() as s:
        found = s.execute(select(USERS.c.ding_channel).where(USERS.c.id == user_id)).scalar()
    if found is None:
        raise NotFound("user_not_found", user=user_id)
    return found if found in KINDS else "sms"


def set_ding_channel(engine: Engine, user_id: int, channel: str) -> str:
    """Choose how DINGs reach the person (``sms``, ``voice`` or ``email``); returns it.

    Raises InvalidAction (unknown channel), NotFound (no such person).
    """
    if channel not in KINDS:
        raise InvalidAction("channel_unknown", value=quoted(channel), allowed=list(KINDS))
    with engine.db.transaction() as conn:
        changed = conn.execute(
            update(USERS).where(USERS.c.id == user_id).values(ding_channel=channel)
        ).rowcount
    if not changed:
        raise NotFound("user_not_found", user=user_id)
    return channel
