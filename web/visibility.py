"""Strangers learn nothing: a page about a flow or work item one may not see is the 404 page.

Before any view whose address names a flow (``flow_id``: flows, sheets, messages, their files)
or a work item (``item_id``), the engine's one visibility rule (``Engine.visible``) is asked.
Someone with no part in the flow gets ``Hidden``, rendered by web/errors.py as the same 404 page
as an id that does not exist, byte for byte but for the address itself; the view runs only for
people who may see the flow, and refuses an action they may not do with 403 and its reason.
"""

from __future__ import annotations

from flask import Flask, request
from flask_login import current_user

from web import engine


def hide_from_strangers() -> None:
    """Raise ``Hidden`` (404) if the signed-in person may not see what the address names."""
    args = request.view_args or {}
    if not {"item_id", "flow_id"} & set(args) or not current_user.is_authenticated:
        return  # nothing named; or signed out: the blueprint sends them to sign in first
    if "item_id" in args:
        engine().visible(current_user.id, item_id=args["item_id"])
    elif "flow_id" in args:
        engine().visible(current_user.id, flow_id=args["flow_id"])


def init_app(app: Flask) -> None:
    app.before_request(hide_from_strangers)
