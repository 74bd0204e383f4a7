"""The workbench (工作台): a person's work — to do, done, started by me."""

from __future__ import annotations

from typing import Any

from flask import Blueprint, render_template
from flask_login import current_user, login_required

from web import engine

bp = Blueprint("workbench", __name__)


@bp.get("/")
@login_required
def index() -> Any:
    """The to-do tab: open work items, newest first."""
    rows = engine().inbox(current_user.id, limit=20)
    return render_template("workbench/index.html", rows=rows)
