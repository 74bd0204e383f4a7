"""A person's whole workbench as CSV (``GET /workbench/export.csv``, ``banli items export``).

The rows come from ``Engine.export_rows`` (every tab, read by keyset through each tab's index);
this module only writes them, in pieces of a few hundred rows, so a page can stream them.
"""

from __future__ import annotations

import csv
import io
from collections.abc import Iterable, Iterator
from datetime import datetime
from zoneinfo import ZoneInfo

from workflow.engine.workrows import WorkbenchRow

COLUMNS = (
    "tab", "flow_id", "item_id", "title", "doc_number", "type", "type_name", "initiator", "at",
    "role", "item_status", "item_step", "flow_state", "outcome", "step", "host", "waiting_for",
    "due_at", "overdue", "rejected",
)  # fmt: skip
PIECE = 500  # rows a piece


def csv_pieces(
    rows: Iterable[tuple[str, WorkbenchRow]], tz: ZoneInfo, lang: str = "zh"
) -> Iterator[str]:
    """The CSV text (header first), ``PIECE`` rows at a time; names in ``lang`` (zh or en)."""
    out = io.StringIO()
    writer = csv.writer(out, lineterminator="\n")
    writer.writerow(COLUMNS)

    def local(at: datetime | None) -> str:
        return at.astimezone(tz).isoformat(timespec="seconds") if at else ""

    def name(names: object) -> str:
        return "" if names is None else str(getattr(names, lang, "") or getattr(names, "zh", ""))

    for n, (tab, r) in enumerate(rows, 1):
        writer.writerow(
            (
                tab, r.flow_id, r.item_id or "", _safe(r.title), _safe(r.doc_number or ""),
                r.definition, _safe(name(r.definition_name)), _safe(r.initiator), local(r.at),
                r.role or "", r.item_status or "", _safe(name(r.item_step_name)), r.flow_state,
                r.outcome or "", _safe(name(r.step_name)), _safe(r.host or ""),
                _safe(" ".join(r.waiting_for)), local(r.due_at),
                int(r.overdue), int(r.rejected),
            )
        )  # fmt: skip
        if n % PIECE == 0:
            yield out.getvalue()
            out.seek(0)
            out.truncate()
    yield out.getvalue()


def _safe(text: str) -> str:
    """A cell a spreadsheet will not run as a formula (=, +, -, @ first: CSV injection)."""
    return "'" + text if text[:1] in ("=", "+", "-", "@") else text
