"""One place that turns engine refusals and HTTP errors into pages, in the person's language.

The engine refuses in English sentences (workflow/errors.py). A person reading English sees those
sentences as they are; anyone else sees a translated sentence, chosen by the exception's class and
details and, where the details do not carry the specifics, by the shape of the engine's sentence.
A refusal nothing here recognises gets its class's general sentence, with the engine's own words
as a secondary line (``detail``). ``field_message`` does the same for a form field's message.
"""

from __future__ import annotations

import re
import sqlite3
from typing import Any

from flask import Flask, render_template, request
from flask_babel import get_locale, lazy_gettext
from flask_babel import gettext as _
from flask_wtf.csrf import CSRFError
from sqlalchemy.exc import DBAPIError
from werkzeug.exceptions import HTTPException

from web.inputs import NulInRequest
from workflow.busy import busy_reason
from workflow.errors import (
    AlreadyHandled,
    BanliError,
    Busy,
    Conflict,
    FlowClosed,
    Forbidden,
    FormInvalid,
    Hidden,
    InvalidAction,
    NotFound,
    NotHost,
    NotYourItem,
    PeopleInvalid,
    StaleVersion,
    WaitingRuleUnmet,
)
from workflow.messages import NobodyToDing, RevokeExpired
from workflow.urge import DingQuotaExceeded

STATUS = {"invalid": 400, "forbidden": 403, "not_found": 404, "conflict": 409}
TITLES = {
    400: lazy_gettext("This cannot be done"),
    403: lazy_gettext("Not allowed"),
    404: lazy_gettext("Not found"),
    409: lazy_gettext("Already handled"),
    413: lazy_gettext("File too large"),
    500: lazy_gettext("Something went wrong"),
    503: lazy_gettext("The system is busy"),
}

# --- refusals: (class, the engine's sentence, its translation) — first match wins ---------------
# Named groups become the placeholders of the translation. The msgids keep the engine's wording
# so that a translator sees what is being said; English readers get the engine's text itself.
REFUSALS: list[tuple[type[BanliError], re.Pattern[str], Any]] = [
    (NotHost, re.compile(r"^only (?P<who>.+?) of this step may do this; you are (?P<you>.+)$"),
     lazy_gettext("only %(who)s of this step may do this; you are %(you)s")),
    (PeopleInvalid, re.compile(r"^choose the host of step '[^']*' among: (?P<names>.+)$"),
     lazy_gettext("choose the host of the next step among: %(names)s")),
    (PeopleInvalid, re.compile(r"^nobody can host step '[^']*'"),
     lazy_gettext("nobody can host the next step: no active person matches its rule")),
    (PeopleInvalid, re.compile(r"^(?P<names>.+) may not host step '[^']*';"),
     lazy_gettext("%(names)s may not host the next step")),
    (PeopleInvalid, re.compile(r"^(?P<names>.+) may not be (?P<what>handlers|co-signers) of step "),
     lazy_gettext("%(names)s may not be %(what)s of the next step")),
    (PeopleInvalid, re.compile(r"^the (?P<what>handlers|co-signers) of step '[^']*' are set by "
                               r"the definition"),
     lazy_gettext("the %(what)s of the next step are set by the definition; they cannot be "
                  "chosen")),
    (PeopleInvalid, re.compile(r"^step '[^']*' needs (?P<what>handlers|co-signers) but no active "
                               r"person matches"),
     lazy_gettext("the next step needs %(what)s but no active person matches its rule")),
    (PeopleInvalid, re.compile(r"^choose at least (?P<min>\d+) and at most (?P<max>\d+) "
                               r"(?P<what>handlers|co-signers) for step '[^']*' \((?P<n>\d+) chosen\)"),
     lazy_gettext("choose %(min)s to %(max)s %(what)s for the next step (%(n)s chosen)")),
    (PeopleInvalid, re.compile(r"^choose at least (?P<min>\d+) (?P<what>handlers|co-signers) for "
                               r"step '[^']*' \((?P<n>\d+) chosen\)"),
     lazy_gettext("choose at least %(min)s %(what)s for the next step (%(n)s chosen)")),
    (InvalidAction, re.compile(r"^the flow can no longer be withdrawn: (?P<name>.+) opened it at "
                               r"(?P<at>.+)$"),
     lazy_gettext("the flow can no longer be withdrawn: %(name)s opened it at %(at)s")),
    (InvalidAction, re.compile(r"^this is the first step: there is nothing to return to$"),
     lazy_gettext("this is the first step: there is nothing to return to")),
    (InvalidAction, re.compile(r"^the flow can only be returned to an earlier step it visited"),
     lazy_gettext("the flow can only be returned to an earlier step it visited")),
    (InvalidAction, re.compile(r"^step '(?P<step>[^']*)' \([^)]*\) cannot end the flow; only a "
                               r"vetoed countersign"),
     lazy_gettext("step '%(step)s' cannot end the flow; only a vetoed countersign may be ended "
                  "here, as rejected")),
    (InvalidAction, re.compile(r"^step '(?P<step>[^']*)' \([^)]*\) cannot end the flow$"),
     lazy_gettext("step '%(step)s' cannot end the flow")),
    (InvalidAction, re.compile(r"^step '[^']*' has no next step for this form"),
     lazy_gettext("this step has no next step for this form; it can only end the flow")),
    (InvalidAction, re.compile(r"^choose the next step: "),
     lazy_gettext("choose the next step")),
    (InvalidAction, re.compile(r"^'[^']*' is not a next step of "),
     lazy_gettext("the chosen step is not a next step of this one")),
    (InvalidAction, re.compile(r"^the flow cannot go to '[^']*': its condition"),
     lazy_gettext("the flow cannot go to the chosen step: its condition does not hold for this "
                  "form")),
    (Forbidden, re.compile(r"^only the initiator may withdraw a flow$"),
     lazy_gettext("only the initiator may withdraw a flow")),
    (Forbidden, re.compile(r"^you may not start '(?P<zh>[^']*)' \((?P<en>.*)\)$"),
     lazy_gettext("you may not start '%(zh)s'")),
    (Forbidden, re.compile(r"^only the host of this step or the flow's initiator may urge it$"),
     lazy_gettext("only the host of this step or the flow's initiator may urge it")),
    (InvalidAction, re.compile(r"^you cannot urge yourself: this work item is your own$"),
     lazy_gettext("you cannot urge yourself: this work item is your own")),
    (InvalidAction, re.compile(r"^unknown channel (?P<value>.+?); expected one of "
                               r"(?P<allowed>.+)$"),
     lazy_gettext("unknown channel %(value)s; expected one of %(allowed)s")),
    (InvalidAction, re.compile(r"^a day searched must lie between (?P<first>\S+) and "
                               r"(?P<last>\S+), not (?P<day>\S+)$"),
     lazy_gettext("a day searched must lie between %(first)s and %(last)s, not %(day)s")),
    (NotFound, re.compile(r"^flow (?P<id>\d+) does not exist or you have no part in it$"),
     lazy_gettext("flow %(id)s does not exist or you have no part in it")),
    (NotFound, re.compile(r"^flow (?P<id>\d+) does not exist$"),
     lazy_gettext("flow %(id)s does not exist")),
    (NotFound, re.compile(r"^flow (?P<id>\d+) has no attachment "),
     lazy_gettext("flow %(id)s has no such attachment")),
    (NotFound, re.compile(r"^work item (?P<id>\d+) does not exist$"),
     lazy_gettext("work item %(id)s does not exist")),
    (NotFound, re.compile(r"^there is no approval type '(?P<key>[^']*)'$"),
     lazy_gettext("there is no approval type '%(key)s'")),
    # messages (workflow/messages.py)
    (InvalidAction, re.compile(r"^the message has no recipient"),
     lazy_gettext("the message has no recipient: choose people, or units with active members, "
                  "other than yourself")),
    (InvalidAction, re.compile(r"^a message may reach at most (?P<max>\d+) people; this one would "
                               r"reach (?P<n>\d+)$"),
     lazy_gettext("a message may reach at most %(max)s people; this one would reach %(n)s")),
    (InvalidAction, re.compile(r"^user (?P<id>\d+) is not active and cannot receive messages$"),
     lazy_gettext("person %(id)s is not active and cannot receive messages")),
    (InvalidAction, re.compile(r"^user (?P<id>\d+) is not a recipient of this message$"),
     lazy_gettext("person %(id)s is not a recipient of this message")),
    (InvalidAction, re.compile(r"^only a recipient of the message may reply to it or relay it$"),
     lazy_gettext("only a recipient of the message may reply to it or relay it")),
    (InvalidAction, re.compile(r"^a reply needs a text or a file$"),
     lazy_gettext("a reply needs a text or a file")),
    (InvalidAction, re.compile(r"^the note may be at most (?P<n>\d+) characters, not (?P<got>\d+)$"),
     lazy_gettext("the note may be at most %(n)s characters, not %(got)s")),
    (InvalidAction, re.compile(r"^flow (?P<id>\d+) is not a message$"),
     lazy_gettext("flow %(id)s is not a message")),
    (RevokeExpired, re.compile(r"^the message can no longer be revoked: .* until (?P<until>.+)$"),
     lazy_gettext("the message can no longer be revoked: the time for it ended at %(until)s")),
    (RevokeExpired, re.compile(r"^the message can no longer be revoked"),
     lazy_gettext("the message can no longer be revoked")),
    (NobodyToDing, re.compile(r"^everyone has already confirmed this message"),
     lazy_gettext("everyone chosen has already confirmed this message: nobody to DING")),
    (Forbidden, re.compile(r"^only the sender may revoke a message$"),
     lazy_gettext("only the sender may revoke a message")),
    (Forbidden, re.compile(r"^only the sender may DING a message$"),
     lazy_gettext("only the sender may DING a message")),
    (Forbidden, re.compile(r"^only the initiator and administrators can print the flow sheet$"),
     lazy_gettext("Only the initiator and administrators can print the flow sheet.")),
    (Forbidden, re.compile(r"^the flow sheet can be printed once the flow has ended$"),
     lazy_gettext("The flow sheet can be printed once the flow has ended.")),
    (Forbidden, re.compile(r"^only the sender sees who received and read a message$"),
     lazy_gettext("only the sender sees who received and read a message")),
    (NotFound, re.compile(r"^message (?P<id>\d+) does not exist or was not sent to you$"),
     lazy_gettext("message %(id)s does not exist or was not sent to you")),
    (NotFound, re.compile(r"^message (?P<id>\d+) does not exist$"),
     lazy_gettext("message %(id)s does not exist")),
    (NotFound, re.compile(r"^message (?P<id>\d+) has no attachment "),
     lazy_gettext("message %(id)s has no such attachment")),
    # the jobs queue (workflow/jobs.py, web/admin.py)
    (NotFound, re.compile(r"^job (?P<id>\d+) does not exist$"),
     lazy_gettext("job %(id)s does not exist")),
    (NotFound, re.compile(r"^no user with id (?P<id>\d+)$"),
     lazy_gettext("there is no person with id %(id)s")),
    (NotFound, re.compile(r"^no unit with id (?P<id>\d+)$"),
     lazy_gettext("there is no unit with id %(id)s")),
]  # fmt: skip

CANNOT_NOW = lazy_gettext("This cannot be done at this step now.")
# What a stranger is told about a flow, work item, message or attachment, and what anyone is told
# about an address that names nothing: one sentence, so the 404 page never says which it was.
NOT_FOUND = lazy_gettext("It does not exist, or you have no part in it.")
NOT_YOURS = lazy_gettext("This work item is someone else's: only they may open it or act on it.")
# What is said when no sentence above matched: the class's general sentence, most specific first.
GENERAL: list[tuple[type[BanliError], Any]] = [
    (NotHost, lazy_gettext("Your part in this step does not allow this.")),
    (PeopleInvalid, lazy_gettext("The people chosen for the next step are not allowed by the "
                                 "approval type.")),
    (FormInvalid, lazy_gettext("Some fields of the form need your attention.")),
    (InvalidAction, CANNOT_NOW),
    (Forbidden, lazy_gettext("You are not allowed to do this.")),
    (NotFound, NOT_FOUND),
    (Conflict, lazy_gettext("The flow changed since this page was loaded. Reload it and try "
                            "again.")),
]  # fmt: skip

# The engine's words for the roles of a step, as the roles are named on the pages.
ROLES = {
    "the host": lazy_gettext("Host"),
    "a handler": lazy_gettext("Handler"),
    "a co-signer": lazy_gettext("Co-signer"),
    "handlers": lazy_gettext("Handlers"),
    "co-signers": lazy_gettext("Co-signers"),
}


def explain(exc: BanliError) -> str:
    """The refusal in the person's language where the engine gave us the parts, else as is."""
    by, at = exc.details.get("by"), exc.details.get("at")
    when = _local(at) if at is not None else ""
    if isinstance(exc, AlreadyHandled) and by:
        return _("This was already handled by %(by)s at %(at)s. Nothing was changed.",
                 by=by, at=when)  # fmt: skip
    if isinstance(exc, FlowClosed) and by:
        return _("This flow was already closed by %(by)s at %(at)s. Nothing was changed.",
                 by=by, at=when)  # fmt: skip
    if isinstance(exc, StaleVersion):
        return _("The flow changed since this page was loaded. Reload it and try again.")
    if isinstance(exc, DingQuotaExceeded):
        return _("You have reached today's limit of %(limit)s DINGs.",
                 limit=exc.details.get("limit", "?"))  # fmt: skip
    if isinstance(exc, Hidden):
        return str(NOT_FOUND)  # never the id, nor whether it exists (see web/visibility.py)
    if isinstance(exc, NotYourItem):
        # Only people who may see the flow get this far; whose item it is stays unsaid anyway.
        return str(NOT_YOURS)
    if _english() or not _is_engine_text(exc.message):
        return exc.message  # the engine's English, or words the web layer already translated
    if isinstance(exc, WaitingRuleUnmet):
        return _waiting(exc)
    for cls, pattern, text in REFUSALS:
        found = pattern.search(exc.message) if isinstance(exc, cls) else None
        if found:
            return _fill(text, found.groupdict())
    return next((str(text) for cls, text in GENERAL if isinstance(exc, cls)), exc.message)


def detail(exc: BanliError) -> str | None:
    """The engine's own sentence, shown under ``explain(exc)`` where that lost its specifics.

    None where ``explain`` already says everything (or is the engine's sentence itself), and
    always for someone else's work item, whose refusal names the owner.
    """
    if isinstance(exc, NotYourItem | Hidden):
        return None
    shown = explain(exc)
    general = {str(text) for _cls, text in GENERAL}
    return exc.message if shown != exc.message and shown in general else None


def _waiting(exc: WaitingRuleUnmet) -> str:
    """``step '会签' waits for 2 of 2 handlers and co-signers (0 done); still waiting for: …``"""
    if exc.details.get("vetoed"):
        return _("A co-signer vetoed this step: end the flow as rejected or return it.")
    need, done = exc.details.get("need"), exc.details.get("done")
    if need is None or done is None:
        return str(CANNOT_NOW)
    late = re.search(r"still waiting for: (.+)$", exc.message)
    if late:
        return _("This step waits for %(need)s handlers and co-signers to finish (%(done)s "
                 "done); still waiting for: %(names)s.",
                 need=need, done=done, names=_names(late.group(1)))  # fmt: skip
    return _("This step waits for %(need)s handlers and co-signers to finish (%(done)s done).",
             need=need, done=done)  # fmt: skip


# --- form fields ---------------------------------------------------------------------------------
# workflow/engine/forms.py's messages, each said after the field's label ("金额: …").
REQUIRED = lazy_gettext("This field is required.")
FIELDS: list[tuple[re.Pattern[str], Any]] = [
    (re.compile(r"^is required$"), REQUIRED),
    (re.compile(r"^is not a field of this form$"), lazy_gettext("is not a field of this form")),
    (re.compile(r"^must be text, not "), lazy_gettext("must be text")),
    (re.compile(r"^must not contain NUL characters$"),
     lazy_gettext("must not contain NUL characters")),
    (re.compile(r"^is (?P<n>\d+) characters long; at most (?P<most>\d+) are allowed$"),
     lazy_gettext("is %(n)s characters long; at most %(most)s are allowed")),
    (re.compile(r"^must be at least (?P<min>\S+)$"), lazy_gettext("must be at least %(min)s")),
    (re.compile(r"^must be at most (?P<max>\S+)$"), lazy_gettext("must be at most %(max)s")),
    (re.compile(r"^must be a whole number, not (?P<value>.*)$"),
     lazy_gettext("must be a whole number, not %(value)s")),
    (re.compile(r"^must be an amount such as (?P<example>\S+), not (?P<value>.*)$"),
     lazy_gettext("must be an amount such as %(example)s, not %(value)s")),
    (re.compile(r"^must be an amount with at most two decimals, not (?P<value>.*)$"),
     lazy_gettext("must be an amount with at most two decimals, not %(value)s")),
    (re.compile(r"^must not be negative$"), lazy_gettext("must not be negative")),
    (re.compile(r"^is too large$"), lazy_gettext("is too large")),
    (re.compile(r"^must be a date such as (?P<example>\S+), not (?P<value>.*)$"),
     lazy_gettext("must be a date such as %(example)s, not %(value)s")),
    (re.compile(r"^must be one of (?P<allowed>.*), not (?P<value>.*)$"),
     lazy_gettext("must be one of the choices, not %(value)s")),
    (re.compile(r"^names no active person: (?P<value>.*)$"),
     lazy_gettext("names no active person: %(value)s")),
    (re.compile(r"^must be a list of people$"), lazy_gettext("must be a list of people")),
    (re.compile(r"^names no unit: (?P<value>.*)$"), lazy_gettext("names no unit: %(value)s")),
    (re.compile(r"^must be a list of attachments$"),
     lazy_gettext("must be a list of attachments")),
    (re.compile(r"^attachment (?P<n>\d+) must give name, size and sha256$"),
     lazy_gettext("attachment %(n)s must give name, size and sha256")),
    (re.compile(r"^attachment (?P<n>\d+) has no valid file name$"),
     lazy_gettext("attachment %(n)s has no valid file name")),
    (re.compile(r"^attachment (?P<n>\d+) \((?P<name>.*)\) has no valid size$"),
     lazy_gettext("attachment %(n)s (%(name)s) has no valid size")),
    (re.compile(r"^attachment (?P<n>\d+) \((?P<name>.*)\) has no valid sha256$"),
     lazy_gettext("attachment %(n)s (%(name)s) has no valid sha256")),
]  # fmt: skip


def field_message(text: str) -> str:
    """A form field's message (``FormInvalid.errors`` value) in the person's language.

    "is required" reads "This field is required." in every language; the engine's other messages
    stay as they are in English and are translated by their shape otherwise. A message the web
    layer made itself (already translated) or one not recognised is returned unchanged.
    """
    for pattern, msgid in FIELDS:
        found = pattern.search(text)
        if found and (msgid is REQUIRED or not _english()):
            return _fill(msgid, found.groupdict())
    return text


# --- helpers -------------------------------------------------------------------------------------


def _fill(msgid: Any, groups: dict[str, str | None]) -> str:
    """The translation of ``msgid`` (lazy) with the engine's parts, each as the person reads it."""
    values = {k: _part(k, v or "") for k, v in groups.items()}
    return str(msgid) % values if values else str(msgid)


def _part(key: str, value: str) -> str:
    if key in ("who", "you", "what"):  # role words: "the host or a handler", "co-signers"
        words = [str(ROLES.get(w, w)) for w in value.split(" or ")]
        out = words[0]
        for word in words[1:]:
            out = _("%(a)s or %(b)s", a=out, b=word)
        return out
    if key == "names":
        return _names(value)
    if key == "value":
        return _unquote(value)
    return value


def _names(joined: str) -> str:
    """People the engine lists as "a, b" in the list style of the page's language."""
    return joined if _english() else "、".join(joined.split(", "))  # Chinese: the 顿号


def _unquote(shown: str) -> str:
    """A value the engine shows as Python's repr ('abc'), without the quotes."""
    if len(shown) >= 2 and shown[0] == shown[-1] and shown[0] in "'\"":
        return shown[1:-1]
    return shown


def _english() -> bool:
    return str(get_locale() or "").startswith("en")


_ENGLISH = re.compile(r"[a-z]+ [a-z]+ [a-z]+")


def _is_engine_text(message: str) -> bool:
    """Whether a refusal is still in the engine's English (not already translated by the web)."""
    return bool(_ENGLISH.search(message))


def _local(at: Any) -> str:
    from flask import current_app

    return current_app.extensions["banli"].local(at)


def init_app(app: Flask) -> None:
    @app.errorhandler(BanliError)
    def banli_error(exc: BanliError) -> Any:
        status = STATUS.get(exc.kind, 400)
        return _page(status, explain(exc), detail(exc))

    @app.errorhandler(CSRFError)
    def csrf_error(exc: CSRFError) -> Any:
        return _page(400, _("The form expired or did not come from this site. Reload the page "
                            "and try again."))  # fmt: skip

    @app.errorhandler(Busy)
    def busy(exc: Busy) -> Any:
        return _busy(app, exc)

    @app.errorhandler(DBAPIError)
    @app.errorhandler(sqlite3.OperationalError)
    def database_error(exc: Exception) -> Any:
        # a statement run outside the engine's units of work (which raise Busy themselves)
        if busy_reason(exc) is None:
            raise exc
        return _busy(app, exc)

    @app.errorhandler(HTTPException)
    def http_error(exc: HTTPException) -> Any:
        code = exc.code or 500
        if code == 404:  # the same page as a flow one may not see (web/visibility.py)
            return _page(404, str(NOT_FOUND))
        if isinstance(exc, NulInRequest):
            return _page(400, _("The request contains a NUL character, which no form field may "
                                "hold. Remove it and try again."))  # fmt: skip
        if code == 413:
            limit = app.config["MAX_CONTENT_LENGTH"] // (1024 * 1024)
            return _page(413, _("The upload is larger than the limit of %(mb)s MB.", mb=limit))
        return _page(code, str(TITLES.get(code, exc.name)))


def _busy(app: Flask, exc: Exception) -> Any:
    """503 with Retry-After: the database is locked or read-only and nothing was changed."""
    app.logger.warning("database busy on %s %s: %s", request.method, request.path, exc)
    message = _("The system is busy, please try again shortly.")
    headers = {"Retry-After": str(max(1, round(app.config.get("DB_LOCK_TIMEOUT") or 5)))}
    if request.path.endswith(".json"):  # the pages' pollers read JSON whatever they accept
        return {"error": message, "status": 503}, 503, headers
    page, status = _page(503, message)
    return page, status, headers


def _page(status: int, message: str, detail: str | None = None) -> Any:
    if request.accept_mimetypes.best == "application/json":
        body = {"error": message, "status": status}
        return ({**body, "detail": detail} if detail else body), status
    title = TITLES.get(status, TITLES[400])
    page = render_template("error.html", title=title, message=message, detail=detail,
                           status=status)  # fmt: skip
    return page, status
