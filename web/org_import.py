"""导入人员: upload HR's sheet, read the dry run, confirm it (views on the ``org`` blueprint).

The uploaded file is kept beside the attachments (``imports/<sha256>``) between the dry run and
the confirmation, so the confirmation names the very bytes the dry run read, and the plan's
digest says it is still the plan shown. A repeated confirmation (double click) is recognised by
the engine and applied once; a plan gone stale meanwhile shows the new dry run instead.
"""

from __future__ import annotations

import re
import time
from pathlib import Path
from typing import Any

from flask import current_app, flash, render_template, request
from flask_babel import gettext as _
from flask_babel import lazy_gettext as _l
from flask_login import current_user

from web import base_url, engine
from web.errors import say, say_field
from web.org import bp
from workflow.errors import Conflict, InvalidAction
from workflow.org import importing
from workflow.org.sheets import MAX_BYTES, MAX_ROWS

ACTION_LABELS = {
    "create": _l("Create"),
    "change": _l("Change"),
    "unchanged": _l("Unchanged"),
    "refused": _l("Refused"),
}
SHA = re.compile(r"[0-9a-f]{64}")
KEEP_SECONDS = 24 * 3600  # an upload nobody confirmed within a day is deleted


def _kept_dir() -> Path:
    return Path(current_app.config["FILES_DIR"]).parent / "imports"


def _keep(data: bytes, sheet: str) -> None:
    folder = _kept_dir()
    folder.mkdir(parents=True, exist_ok=True)
    now = time.time()
    for old in folder.glob("*.sheet"):  # the unconfirmed uploads of yesterday go
        if now - old.stat().st_mtime > KEEP_SECONDS:
            old.unlink(missing_ok=True)
    (folder / f"{sheet}.sheet").write_bytes(data)


def _kept(sheet: str) -> bytes | None:
    if not SHA.fullmatch(sheet):
        return None
    path = _kept_dir() / f"{sheet}.sheet"
    return path.read_bytes() if path.is_file() else None


@bp.route("/admin/people/import", methods=["GET", "POST"])
def import_sheet() -> Any:
    """Upload → dry run (row, action, changes, reasons) → confirm → what was done."""
    if request.method != "POST":
        return _upload_page()
    if request.form.get("step") == "confirm":
        return _confirm()
    upload = request.files.get("sheet")
    if upload is None or not upload.filename:
        return _upload_page(_("Choose the sheet to import (XLSX or CSV)."))
    data = upload.stream.read(MAX_BYTES + 1)
    name = Path(upload.filename).name[:200]
    try:
        plan = importing.plan_import(engine().db, current_user.id, data, name)
    except InvalidAction as exc:
        return _upload_page(say(exc))
    _keep(data, plan.sheet)
    return _plan_page(plan)


def _confirm() -> Any:
    sheet, name = request.form.get("sheet", ""), request.form.get("filename", "")[:200]
    data = _kept(sheet)
    if data is None:
        return _upload_page(_("The uploaded sheet is no longer here: upload it again."))
    try:
        done = importing.apply_import(
            engine().db, current_user.id, data, name, request.form.get("digest", ""),
            engine().clock(), base_url=base_url(), hours=engine().settings.invite_hours,
        )  # fmt: skip
    except Conflict as exc:  # the data changed since the dry run: show the new one
        plan = importing.plan_import(engine().db, current_user.id, data, name)
        return _plan_page(plan, say(exc), 409)
    except InvalidAction as exc:
        return _upload_page(say(exc))
    if done.already:
        flash(_("This import was already done; nothing was done again."))
    return render_template("org/imported.html", done=done, counts=done.plan.counts,
                           labels=ACTION_LABELS)  # fmt: skip


def _upload_page(problem: str | None = None) -> Any:
    page = render_template("org/import.html", problem=problem, max_mb=MAX_BYTES // 1024 // 1024,
                           max_rows=MAX_ROWS)  # fmt: skip
    return page, 400 if problem else 200


def _plan_page(plan: importing.Plan, problem: str | None = None, status: int = 200) -> Any:
    reasons = {r.number: [(c, say_field(p)) for c, p in r.reasons] for r in plan.rows}
    page = render_template("org/import_plan.html", plan=plan, counts=plan.counts,
                           reasons=reasons, labels=ACTION_LABELS, problem=problem)  # fmt: skip
    return page, status
