"""Composing a message in the browser: the form, its recipients and files, sent once however often it is posted.

A view of the ``messages`` blueprint (endpoint ``messages.compose``), registered on it when
``web.create_app`` imports this module.
"""

from __future__ import annotations

import secrets
from typing import Any

from flask import flash, redirect, render_template, request, session
from flask import url_for as url
from flask_babel import gettext as _
from flask_login import current_user

from web import engine
from web.errors import say, say_fields
from web.messages import LABELS, _choices, _ids, bp
from web.uploads import posted_files, sign_kept
from workflow import messages
from workflow.errors import FormInvalid, InvalidAction, NotFound

ONCE_KEPT = 20  # compose tokens remembered per browser session, against sending twice


@bp.route("/messages/new", methods=["GET", "POST"])
def compose() -> Any:
    """Write a message to people and units, with files; optionally as a DING at once."""
    values: dict[str, Any] = {"once": secrets.token_urlsafe(16)}
    errors: dict[str, str] = {}
    problem = None
    if request.method == "POST":
        values = _compose_values()
        earlier = _sent_with(values["once"])
        if earlier is not None:  # the same form sent again (double click, Back and resend)
            flash(_("This message was already sent; it was not sent again."))
            return redirect(url("messages.message", flow_id=earlier))
        files, upload_problem = posted_files("attachments")
        values["attachments"] = files
        try:
            if upload_problem:
                errors["attachments"] = upload_problem
            elif values["bad_ids"]:
                problem = say(InvalidAction("recipients_choice_invalid"))
            else:
                out = messages.send(
                    engine(), current_user.id, subject=values["subject"], body=values["body"],
                    to_users=values["to_users"], to_units=values["to_units"], attachments=files,
                    category=values["category"], ding=values["ding"], channel=values["channel"],
                    request_key=values["once"],
                )  # fmt: skip
                _remember(values["once"], out.flow_id)
                flash(_("The message was sent.") if not values["ding"] else
                      _("The message was sent as a DING."))  # fmt: skip
                return redirect(url("messages.message", flow_id=out.flow_id))
        except FormInvalid as exc:
            errors = exc.errors
        except (InvalidAction, NotFound) as exc:  # no recipient, too many, unknown, quota
            problem = say(exc)
    page = render_template(
        "messages/compose.html",
        values=values,
        errors=say_fields(errors),
        problem=problem,
        kept=[(sign_kept(f), f) for f in values.get("attachments") or []],
        labels=LABELS,
        limit=engine().settings.ding_limit,
        **_choices(),
    )
    return page, 400 if errors or problem else 200


def _compose_values() -> dict[str, Any]:
    users, bad_users = _ids("to_users")
    units, bad_units = _ids("to_units")
    category = request.form.get("category") or None
    channel = request.form.get("channel") or None
    return {
        "once": (request.form.get("once") or "")[:64] or secrets.token_urlsafe(16),
        "subject": request.form.get("subject", "").strip(),
        "body": request.form.get("body", ""),
        "to_users": users,
        "to_units": units,
        "bad_ids": bad_users or bad_units,
        "category": category,
        "ding": request.form.get("ding") == "1",
        "channel": channel,
    }


def _sent_with(once: str) -> int | None:
    return dict(session.get("messages_once") or []).get(once)


def _remember(once: str, flow_id: int) -> None:
    kept = [pair for pair in session.get("messages_once") or [] if pair[0] != once]
    session["messages_once"] = [*kept, [once, flow_id]][-ONCE_KEPT:]
