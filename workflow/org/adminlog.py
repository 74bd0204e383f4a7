"""Every administrative act as one event on the ``admin`` audit chain (Art. 29-31): who did it,
under which scope, to what, and the values before and after.

Each act's own transaction calls :func:`record`, so the change and its event land together or
not at all. ``banli audit verify`` checks the chain like every other.
"""

from __future__ import annotations

from datetime import datetime
from typing import Any

from sqlalchemy import select
from sqlalchemy.orm import Session

from workflow.access import AdminScope
from workflow.audit import append_admin
from workflow.store.models import User


def record(
    session: Session,
    scope: AdminScope,
    kind: str,
    *,
    at: datetime,
    target: dict[str, Any],
    before: Any = None,
    after: Any = None,
) -> None:
    """Append ``kind`` (``person_enrol``, ``person_remove``, ``unit_rename`` …) by the person of
    ``scope``, about ``target`` (``{"user": id, "name": …}``, ``{"unit": id}`` …), with
    ``before``/``after`` (JSON values: the fields that changed, or None for a creation)."""
    name = session.execute(select(User.name).where(User.id == scope.user_id)).scalar()
    if "user" in target and "unit" not in target:
        # the unit an act about a person concerns: the admin log shows it to the sub-administrators
        # of that unit (workflow/org/adminlog_view.py); after a move, the unit they are in now
        unit = session.execute(select(User.unit_id).where(User.id == target["user"])).scalar()
        target = {**target, "unit": unit}
    data = {"scope": scope.described(), "target": target, "before": before, "after": after}
    append_admin(session, scope.user_id, name, kind, data, at)
