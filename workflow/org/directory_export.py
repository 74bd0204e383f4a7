"""The directory as a CSV file, for administrators only (Art. 5, 21: no bulk export for anyone
else).

An administrator holding ``people`` exports the active people of the units it covers (the main
administrator: everyone) — the people whose numbers they already see on every card, so the file
holds nothing the pages would not show them. Each export is one ``directory_export`` event on
the admin chain (how many people, of which scope), since a file, once out, cannot be called back.
"""

from __future__ import annotations

import csv
import io
from datetime import datetime

from sqlalchemy import select

from workflow.access import require_capability
from workflow.org import adminlog
from workflow.store.db import Database
from workflow.store.models import Unit, User

USERS = User.__table__
UNITS = Unit.__table__
#: the file's columns, in order (the first row names them)
HEADER = ("name", "login", "unit", "post", "mobile", "email")


def export_csv(db: Database, actor_id: int, at: datetime, header: tuple[str, ...] = HEADER) -> str:
    """The people in ``actor_id``'s ``people`` scope as CSV text (pinyin order), recorded.

    ``header`` names the columns in the reader's language (the web passes its own words).

    Raises:
        Forbidden: ``actor_id`` holds ``people`` nowhere.
    """
    with db.write() as s:
        tx = s.connection()
        scope = require_capability(tx, actor_id, "people")
        covered = scope.units_for("people")
        units = {r.id: r for r in tx.execute(select(UNITS.c.id, UNITS.c.name, UNITS.c.parent_id))}
        stmt = select(USERS.c.name, USERS.c.login, USERS.c.unit_id, USERS.c.post, USERS.c.mobile,
                      USERS.c.email).where(USERS.c.status == "active")  # fmt: skip
        if covered is not None:
            stmt = stmt.where(USERS.c.unit_id.in_(sorted(covered)))
        rows = tx.execute(stmt.order_by(USERS.c.pinyin, USERS.c.id)).all()
        out = io.StringIO()
        writer = csv.writer(out)
        writer.writerow(header)
        for r in rows:
            writer.writerow([_safe(r.name), r.login, _safe(_path(units, r.unit_id)),
                             _safe(r.post or ""), r.mobile or "", r.email or ""])  # fmt: skip
        adminlog.record(s, scope, "directory_export", at=at, target={"people": len(rows)})
        return out.getvalue()


def _path(units: dict[int, object], unit_id: int) -> str:
    names: list[str] = []
    unit = units.get(unit_id)
    while unit is not None and len(names) < 50:
        names.append(unit.name)  # type: ignore[attr-defined]
        unit = units.get(unit.parent_id)  # type: ignore[attr-defined]
    return " / ".join(reversed(names))


def _safe(text: str) -> str:
    """A cell a spreadsheet will not run as a formula (=, +, -, @ first: CSV injection)."""
    return "'" + text if text[:1] in ("=", "+", "-", "@") else text
