"""Messages (消息) in the browser: the received and sent lists, composing, one message with its
receipts, DINGs (钉), and the person's own DING channel (我的设置).

Thin over ``workflow.messages``: each view parses the request, calls one function there, and
renders. Lists and receipts stay live by polling small JSON endpoints that carry the same
server-rendered rows as the page (``web/static/messages.js``; no inline script under the CSP).
Every page and poll that fetches the person's messages or their unread count records the
delivery effect (``mark_delivered``).

The blueprint's views live in three modules: this one (the lists, one message and what one does
with it, my settings), ``web/messages_compose.py`` (composing) and ``web/messages_live.py`` (the
JSON endpoints the pages poll); ``web.create_app`` imports all three before registering ``bp``.
"""

from __future__ import annotations

from itertools import groupby
from typing import Any

from flask import (
    Blueprint,
    current_app,
    flash,
    redirect,
    render_template,
    request,
)
from flask import url_for as url
from flask_babel import gettext as _
from flask_babel import lazy_gettext as _l
from flask_login import current_user

from web import engine
from web.errors import refusal_page, say_fields
from web.inputs import as_ids, page_number, version_number
from web.uploads import attachment_response, file_store, posted_files
from web.workbench import page_numbers
from workflow import messages
from workflow.channels import KINDS
from workflow.engine import catalog
from workflow.errors import FormInvalid, InvalidAction, NotFound
from workflow.urge import dings_used_today

bp = Blueprint("messages", __name__)
PER_PAGE = 20
BOXES = {"received": _l("Received"), "sent": _l("Sent")}
CATEGORIES = {
    "notice": _l("Notice"),
    "work": _l("Work arrangement"),
    "meeting": _l("Meeting"),
    "schedule": _l("Schedule"),
}
CHANNELS = {"sms": _l("SMS"), "voice": _l("Phone call"), "email": _l("E-mail")}
#: a recipient's state as the sender's receipts table names it
STATUSES = {
    "sent": _l("Sent"),
    "failed": _l("Sending failed"),
    "delivered": _l("Delivered (unread)"),
    "read": _l("Read"),
    "replied": _l("Replied"),
    "relayed": _l("Relayed"),
    "deleted": _l("Deleted"),
    "revoked": _l("Revoked"),
}
DING_STATUSES = {
    "sent": _l("Sent"),
    "delivered": _l("Delivered by the channel"),
    "failed": _l("Sending failed"),
}
LABELS = {"boxes": BOXES, "categories": CATEGORIES, "channels": CHANNELS, "statuses": STATUSES,
          "ding_statuses": DING_STATUSES}  # fmt: skip


@bp.before_request
def _signed_in() -> Any:
    if not current_user.is_authenticated:
        return current_app.login_manager.unauthorized()  # type: ignore[attr-defined]
    return None


@bp.app_context_processor
def _nav() -> dict[str, Any]:
    """``message_unread()`` for the navigation badge (asked only where the page shows it)."""
    return {"message_unread": _unread}


def _unread() -> int:
    """The person's unread messages; fetching them is their delivery (Art. 6)."""
    if not current_user.is_authenticated:
        return 0
    return messages.fetch_unread(engine(), current_user.id)


# --- the lists ---------------------------------------------------------------------------------


@bp.get("/messages", defaults={"box": "received"})
@bp.get("/messages/<any(received, sent):box>")
def index(box: str) -> Any:
    """收到的 / 已发送, newest first; the received ones searched by subject and unread only."""
    search = _search(box)
    listing = _listing(box, search)
    if not listing.rows and search["page"] > listing.pages:
        return redirect(_link(box, {**search, "page": listing.pages}))
    return render_template(
        "messages/index.html",
        box=box,
        listing=listing,
        search=search,
        searching=bool(search["query"] or search["unread"]),
        unread=messages.unread_count(engine(), current_user.id),
        labels=LABELS,
        link=lambda page=None, box=box: _link(box, {**search, "page": page}),
        live_url=url("messages.live", box=box, **_query(search)),
        page_numbers=page_numbers(listing.page, listing.pages),
    )


def _search(box: str) -> dict[str, Any]:
    received = box == "received"
    return {
        "query": (request.args.get("q") or "").strip()[:200] or None,
        "unread": received and request.args.get("unread") == "1",
        "page": page_number(request.args.get("page")),
    }


def _listing(box: str, search: dict[str, Any]) -> messages.MessageList:
    eng, uid = engine(), current_user.id
    messages.mark_delivered(eng, uid)
    if box == "sent":
        return messages.sent(eng, uid, page=search["page"], per_page=PER_PAGE,
                             query=search["query"])  # fmt: skip
    return messages.received(eng, uid, page=search["page"], per_page=PER_PAGE,
                             query=search["query"], unread=search["unread"])  # fmt: skip


def _query(search: dict[str, Any]) -> dict[str, Any]:
    page = search.get("page") or 1
    args = {"q": search["query"], "unread": "1" if search["unread"] else None,
            "page": page if page > 1 else None}  # fmt: skip
    return {k: v for k, v in args.items() if v}


def _link(box: str, search: dict[str, Any]) -> str:
    return url("messages.index", box=box, **_query(search))


def _ids(name: str, form: Any = None) -> tuple[list[int], bool]:
    """The ids a multi-select posted, and whether any of them was no id."""
    return as_ids((form or request.form).getlist(name))


def _choices() -> dict[str, Any]:
    """People grouped by unit, and units, for the recipient choosers."""
    eng = engine()
    everyone = [p for p in catalog.people(eng).values() if p.id != current_user.id]
    return {
        "groups": [(unit, list(ps)) for unit, ps in groupby(everyone, key=lambda p: p.unit)],
        "units": catalog.units(eng),
    }


# --- one message -------------------------------------------------------------------------------


@bp.get("/messages/<id:flow_id>")
def message(flow_id: int) -> Any:
    """A message: a recipient's opening is their confirmation (已读); the sender (and an
    administrator) sees per recipient what became of it, live."""
    return _message_page(flow_id)


def _message_page(flow_id: int, refused: dict[str, Any] | None = None) -> str:
    """The message's page; ``refused``: the reply or relay form sent back, with its field errors."""
    eng, uid = engine(), current_user.id
    view = messages.view(eng, uid, flow_id)
    if view.item_id and not view.revoked and view.confirmed_at is None:
        messages.read(eng, uid, view.item_id)
        view = messages.view(eng, uid, flow_id)
    sender_page = view.is_sender or eng.may_see_receipts(uid, view.sender_id)
    receipts = messages.receipts(eng, uid, flow_id) if sender_page else []
    return render_template(
        "messages/message.html",
        view=view,
        receipts=receipts,
        sender_page=sender_page,
        used=_dings_used() if view.is_sender else 0,
        limit=engine().settings.ding_limit,
        labels=LABELS,
        refused=refused,
        **(_choices() if view.item_id and not view.revoked else {}),
    )


@bp.errorhandler(FormInvalid)
def _form_refused(exc: FormInvalid) -> Any:
    """A reply's text or a relay's note the engine refused (too long): the message page again,
    the form open, what was typed kept, the message next to the field."""
    form = {"messages.reply": "reply", "messages.relay": "relay"}.get(request.endpoint or "")
    flow_id = (request.view_args or {}).get("flow_id")
    if form is None or flow_id is None:  # the compose form handles its own
        return refusal_page(exc)
    refused = {
        "form": form,
        "errors": say_fields(exc.errors),
        "text": request.form.get("body" if form == "reply" else "note", ""),
    }
    return _message_page(flow_id, refused), 400


def _dings_used() -> int:
    return dings_used_today(engine(), current_user.id)


def _my_item(flow_id: int) -> int:
    """The signed-in person's own item as a recipient of the message."""
    view = messages.view(engine(), current_user.id, flow_id)
    if view.item_id is None:
        raise InvalidAction("reply_not_recipient")
    return view.item_id


def _back(flow_id: int) -> Any:
    return redirect(url("messages.message", flow_id=flow_id))


@bp.post("/messages/<id:flow_id>/confirm")
def confirm(flow_id: int) -> Any:
    """确认收到: the recipient confirms a DING."""
    messages.confirm_ding(engine(), current_user.id, _my_item(flow_id))
    flash(_("Receipt confirmed."))
    return _back(flow_id)


@bp.post("/messages/<id:flow_id>/reply")
def reply(flow_id: int) -> Any:
    """Reply to the sender with a text and files."""
    item = _my_item(flow_id)
    files, problem = posted_files("reply_files")
    if problem:  # the upload's own message, said as the refusal of the reply
        raise InvalidAction(problem.code, **problem.params)
    out = messages.reply(engine(), current_user.id, item, body=request.form.get("body", ""),
                         attachments=files)  # fmt: skip
    flash(_("Your reply was sent."))
    return redirect(url("messages.message", flow_id=out.flow_id))


@bp.post("/messages/<id:flow_id>/relay")
def relay(flow_id: int) -> Any:
    """转发: send the message on to people and units, after a note."""
    item = _my_item(flow_id)
    users, bad_users = _ids("to_users")
    units, bad_units = _ids("to_units")
    if bad_users or bad_units:
        raise InvalidAction("recipients_choice_invalid")
    out = messages.relay(engine(), current_user.id, item, to_users=users, to_units=units,
                         note=request.form.get("note", ""))  # fmt: skip
    flash(_("The message was relayed."))
    return redirect(url("messages.message", flow_id=out.flow_id))


@bp.post("/messages/<id:flow_id>/delete")
def delete(flow_id: int) -> Any:
    """Delete the message from one's own list (the others keep theirs): a recipient's from
    their received list, the sender's from their sent list."""
    view = messages.view(engine(), current_user.id, flow_id)
    if view.item_id is None and view.is_sender:
        messages.delete_sent(engine(), current_user.id, flow_id)
        flash(_("The message was deleted from your list."))
        return redirect(url("messages.index", box="sent"))
    messages.delete(engine(), current_user.id, _my_item(flow_id))
    flash(_("The message was deleted from your list."))
    return redirect(url("messages.index"))


@bp.post("/messages/<id:flow_id>/revoke")
def revoke(flow_id: int) -> Any:
    """撤回: the sender takes the message back, posting the version the page showed."""
    version = version_number(request.form.get("version"))
    if version is None:
        raise InvalidAction("page_outdated")
    messages.revoke(engine(), current_user.id, flow_id, version=version)
    flash(_("The message was revoked."))
    return _back(flow_id)


@bp.post("/messages/<id:flow_id>/ding")
def ding(flow_id: int) -> Any:
    """转为钉消息: DING the chosen recipients who have not confirmed, by a channel."""
    users, bad = _ids("user_ids")
    if bad or not users:
        raise InvalidAction("ding_choose_people")
    channel = request.form.get("channel") or None
    if channel is not None and channel not in KINDS:
        raise InvalidAction("ding_choose_channel")
    out = messages.ding(engine(), current_user.id, flow_id, user_ids=users, channel=channel)
    flash(_("DING sent to %(n)s people. %(used)s of %(limit)s DING messages used today.",
            n=len(out.user_ids), used=out.used, limit=engine().settings.ding_limit))  # fmt: skip
    return _back(flow_id)


@bp.get("/messages/<id:flow_id>/files/<sha256>")
def download(flow_id: int, sha256: str) -> Any:
    """A file of a message one may see; the recipient's download confirms it (已读)."""
    eng, uid = engine(), current_user.id
    view = messages.view(eng, uid, flow_id)
    found = next((f for f in view.attachments if f.get("sha256") == sha256), None)
    if found is None or not file_store().exists(sha256):
        raise NotFound("message_attachment_not_found", message=flow_id, sha256=sha256)
    if view.item_id and not view.revoked and request.method == "GET":  # a HEAD is no download
        messages.read(eng, uid, view.item_id)
    return attachment_response(sha256, found)


# --- my settings -------------------------------------------------------------------------------


@bp.route("/settings", methods=["GET", "POST"])
def settings() -> Any:
    """我的设置: how DINGs reach the signed-in person."""
    if request.method == "POST":
        messages.set_ding_channel(engine(), current_user.id, request.form.get("ding_channel", ""))
        flash(_("Your settings were saved."))
        return redirect(url("messages.settings"))
    return render_template("messages/settings.html", labels=LABELS,
                           current=messages.ding_channel(engine(), current_user.id))  # fmt: skip
