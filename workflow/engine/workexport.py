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

from workflow.engine.worklist import ExportRow

COLUMNS = (
    "tab", "flow_id", "item_id", "title", "doc_number", "type", "type_name", "initiator", "at",
    "role", "item_status", "item_step", "flow_state", "outcome", "step", "due_at",
)  # fmt: skip
PIECE = 1000  # rows a piece


def csv_pieces(rows: Iterable[ExportRow], tz: ZoneInfo, lang: str = "zh") -> Iterator[str]:
    """The CSV text (header first), ``PIECE`` rows at a time; names in ``lang`` (zh or en)."""
    out = io.StringIO()
    writer = csv.writer(out, lineterminator="\n")
    writer.writerow(COLUMNS)
    local_of: dict[datetime, str] = {}
    names: dict[tuple[int, str], str] = {}

    def local(at: datetime | None) -> str:
        if at is None:
            return ""
        if at not in local_of:
            local_of[at] = at.astimezone(tz).isoformat(timespec="seconds")
        return local_of[at]

    def step_name(spec: object, step: str | None) -> str:
        if not step:
            return ""
        key = (id(spec), step)
        if key not in names:
            n = spec.steps[step].name  # type: ignore[attr-defined]
            names[key] = _safe(getattr(n, lang, None) or n.zh)
        return names[key]

    for n, e in enumerate(rows, 1):
        r, spec = e.r, e.spec
        type_name = getattr(spec.name, lang, None) or spec.name.zh
        part = ("", "", "") if e.tab == "started" else (
            r.role, r.status, step_name(spec, r.item_step))  # fmt: skip
        writer.writerow(
            (
                e.tab, r.flow_id, r.item_id or "", _safe(r.title), _safe(r.doc_number or ""),
                spec.id, _safe(type_name), _safe(r.initiator), local(r.at), *part, r.state,
                r.outcome or "", step_name(spec, e.step), local(e.due_at),
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
