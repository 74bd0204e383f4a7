"""One place that turns engine refusals and HTTP errors into pages, in the person's language."""

from __future__ import annotations

from typing import Any

from flask import Flask, render_template, request
from flask_babel import gettext as _
from flask_babel import lazy_gettext
from flask_wtf.csrf import CSRFError
from werkzeug.exceptions import HTTPException

from workflow.errors import AlreadyHandled, BanliError, FlowClosed, StaleVersion

STATUS = {"invalid": 400, "forbidden": 403, "not_found": 404, "conflict": 409}
TITLES = {
    400: lazy_gettext("This cannot be done"),
    403: lazy_gettext("Not allowed"),
    404: lazy_gettext("Not found"),
    409: lazy_gettext("Already handled"),
    413: lazy_gettext("File too large"),
    500: lazy_gettext("Something went wrong"),
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
    return exc.message


def _local(at: Any) -> str:
    from flask import current_app

    return current_app.extensions["banli"].local(at)


def init_app(app: Flask) -> None:
    @app.errorhandler(BanliError)
    def banli_error(exc: BanliError) -> Any:
        status = STATUS.get(exc.kind, 400)
        return _page(status, explain(exc))

    @app.errorhandler(CSRFError)
    def csrf_error(exc: CSRFError) -> Any:
        return _page(400, _("The form expired or did not come from this site. Reload the page "
                            "and try again."))  # fmt: skip

    @app.errorhandler(HTTPException)
    def http_error(exc: HTTPException) -> Any:
        code = exc.code or 500
        if code == 413:
            limit = app.config["MAX_CONTENT_LENGTH"] // (1024 * 1024)
            return _page(413, _("The upload is larger than the limit of %(mb)s MB.", mb=limit))
        return _page(code, str(TITLES.get(code, exc.name)))


def _page(status: int, message: str) -> Any:
    if request.accept_mimetypes.best == "application/json":
        return {"error": message, "status": status}, status
    title = TITLES.get(status, TITLES[400])
    return render_template("error.html", title=title, message=message, status=status), status
