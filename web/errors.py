"""One place that turns engine refusals and HTTP errors into pages, in the person's language.

A refusal (``workflow/errors.py``) carries a ``code`` and its ``params``; its sentence is the
catalogue's (``workflow/refusals.py``), looked up in the page's language like any other string
and filled in with the params as the person reads them (times in the organisation's time zone,
names in the language's list style). Nothing here reads the engine's English. The class decides
only the HTTP status and page (``STATUS``); ``say`` is the one way a refusal becomes words on a
page, ``say_field`` the one way a form field's message does.
"""

from __future__ import annotations

import sqlite3
from datetime import datetime
from typing import Any

from flask import Flask, current_app, render_template, request
from flask_babel import get_locale, lazy_gettext
from flask_babel import gettext as _
from flask_wtf.csrf import CSRFError
from sqlalchemy.exc import DBAPIError
from werkzeug.exceptions import HTTPException

from web.inputs import NulInRequest
from workflow.busy import busy_reason
from workflow.errors import BanliError, Busy, Hidden, NotYourItem
from workflow.refusals import render

STATUS = {
    "invalid": 400,
    "forbidden": 403,
    "not_found": 404,
    "conflict": 409,
    "busy": 503,
    "too_many": 429,
}
TITLES = {
    400: lazy_gettext("This cannot be done"),
    403: lazy_gettext("Not allowed"),
    404: lazy_gettext("Not found"),
    409: lazy_gettext("Already handled"),
    413: lazy_gettext("File too large"),
    429: lazy_gettext("Too many requests"),
    500: lazy_gettext("Something went wrong"),
    503: lazy_gettext("The system is busy"),
}
# What a stranger is told about a flow, work item, message or attachment, and what anyone is told
# about an address that names nothing: one sentence, so the 404 page never says which it was.
NOT_FOUND = lazy_gettext("It does not exist, or you have no part in it.")
# Someone else's work item: whose it is stays unsaid (the engine's sentence names the owner).
NOT_YOURS = lazy_gettext("This work item is someone else's: only they may open it or act on it.")


def say(exc: BanliError) -> str:
    """The refusal as a sentence of the page, in the person's language, with its specifics."""
    if isinstance(exc, Hidden):
        return str(NOT_FOUND)  # never the id, nor whether it exists (see web/visibility.py)
    if isinstance(exc, NotYourItem):
        return str(NOT_YOURS)
    return _sentence(render(exc.code, exc.params, gettext=_, local=_local))


def say_field(message: Any) -> str:
    """A form field's message (a ``FieldError``, said after the field's label) in the person's
    language; a message the web made itself is already in it."""
    code = getattr(message, "code", None)
    if code is None:
        return str(message)
    return render(code, message.params, gettext=_, local=_local)


def say_fields(errors: dict[str, Any]) -> dict[str, str]:
    """Every field's message of a form, each in the person's language."""
    return {key: say_field(message) for key, message in errors.items()}


def refusal_page(exc: BanliError) -> tuple[str, int]:
    """The error page (or JSON) of a refusal: its kind's status and title, its sentence."""
    return _page(STATUS.get(exc.kind, 400), say(exc))


def _sentence(text: str) -> str:
    """The catalogue's sentences are clauses (the CLI prints them after "error:"); a page shows a
    sentence: a capital first letter and a full stop in the page's language."""
    if not text:
        return text
    text = text[0].upper() + text[1:]
    if text[-1] in ".。!?！？":
        return text
    return text + ("." if str(get_locale() or "").startswith("en") else "。")


def _local(at: datetime) -> str:
    return current_app.extensions["banli"].local(at)


def init_app(app: Flask) -> None:
    @app.errorhandler(BanliError)
    def banli_error(exc: BanliError) -> Any:
        return refusal_page(exc)

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


def _page(status: int, message: str) -> Any:
    if request.accept_mimetypes.best == "application/json":
        return {"error": message, "status": status}, status
    title = TITLES.get(status, TITLES[400])
    return render_template("error.html", title=title, message=message, status=status), status
