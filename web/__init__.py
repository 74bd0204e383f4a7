"""Banli's web door: a Flask app factory, thin over the engine (pages parse, call, render)."""

from __future__ import annotations

import re
import secrets
from datetime import timedelta
from pathlib import Path
from typing import Any
from urllib.parse import unquote, urlsplit

from flask import Flask, request, session
from flask.globals import _cv_request
from flask_babel import Babel, get_locale, get_translations
from flask_wtf.csrf import CSRFProtect
from werkzeug.middleware.proxy_fix import ProxyFix

from workflow import limits
from workflow.engine import Engine
from workflow.heap import settle
from workflow.settings import Settings, load_settings
from workflow.store.db import Database

LANGUAGES = ("zh", "en")
#: what makes a redirect target unsafe anywhere in it: control characters, and the backslash
_UNSAFE = re.compile(r"[\x00-\x1f\x7f\\]")
csrf = CSRFProtect()
babel = Babel()


def select_locale() -> str:
    """The language the person chose (session), else the browser's, else Chinese."""
    chosen = session.get("lang")
    if chosen in LANGUAGES:
        return chosen
    return request.accept_languages.best_match(LANGUAGES) or "zh"


def create_app(
    settings: Settings | None = None, test_config: dict[str, Any] | None = None
) -> Flask:
    """Build the app on ``settings`` (else read from the ``BANLI_*`` environment, once, now).

    A bad setting refuses the start (``SettingsError`` naming the variable). ``test_config``
    overrides the Flask config built from the settings (tests pass ENGINE, DATABASE_URL…).
    """
    settings = load_settings() if settings is None else settings
    app = Flask(__name__, instance_path=str(Path("instance").resolve()))
    secret = settings.secret_key
    app.config.from_mapping(
        SETTINGS=settings,
        SECRET_KEY=secret.get_secret_value() if secret else _instance_secret(app),
        DATABASE_URL=settings.database_url,
        FILES_DIR=str(settings.files_dir.resolve()),
        MAX_CONTENT_LENGTH=settings.max_upload,
        UPLOAD_QUOTA=settings.upload_quota,
        IDLE_TIMEOUT=timedelta(minutes=settings.idle_minutes),
        SESSION_COOKIE_HTTPONLY=True,
        SESSION_COOKIE_SAMESITE="Lax",
        REMEMBER_COOKIE_HTTPONLY=True,
        REMEMBER_COOKIE_SAMESITE="Lax",
        # None: Secure unless this is development (banli serve, make run, debug mode)
        COOKIE_SECURE=settings.cookie_secure,
        PROXIES=settings.proxies,
        BABEL_DEFAULT_LOCALE="zh",
        BABEL_DEFAULT_TIMEZONE=settings.timezone,
        WTF_CSRF_TIME_LIMIT=None,
        # the site's address printed in the flow sheet's QR code; unset: the request's own
        BASE_URL=settings.base_url,
        # a request waits this long for a locked database, then answers 503 (docs/engine.md)
        DB_LOCK_TIMEOUT=settings.web_lock_timeout,
        DB_STATEMENT_TIMEOUT=settings.web_statement_timeout,
    )
    if test_config:
        app.config.update(test_config)
    _cookies(app)
    if app.config["PROXIES"]:
        # Behind N reverse proxies: the client's address (sign-in throttling per address, the
        # sessions list) and scheme come from their X-Forwarded-For / -Proto headers.
        n = app.config["PROXIES"]
        app.wsgi_app = ProxyFix(app.wsgi_app, x_for=n, x_proto=n)  # type: ignore[method-assign]
    engine = app.config.get("ENGINE") or Engine(
        Database(
            app.config["DATABASE_URL"],
            lock_timeout=app.config["DB_LOCK_TIMEOUT"],
            statement_timeout=app.config["DB_STATEMENT_TIMEOUT"],
        ),
        settings=settings,
    )
    app.extensions["banli"] = engine

    csrf.init_app(app)
    babel.init_app(
        app,
        locale_selector=select_locale,
        default_translation_directories=str(Path(__file__).with_name("translations")),
    )
    _fast_gettext(app)
    from web import (
        admin,
        admins,
        assets,
        auth,
        devices,
        directory,
        errors,
        flows,
        inputs,
        invite,
        leavers,
        messages,
        messages_compose,  # noqa: F401  (views on messages.bp: imported before it is registered)
        messages_live,  # noqa: F401  (the same)
        mobile,
        org,
        org_import,  # noqa: F401  (views on org.bp: imported before it is registered)
        presence,
        sheet,
        units,
        verify,
        visibility,
        workbench,
    )

    assets.init_app(app)  # hashed static URLs, their cache headers
    inputs.init_app(app)  # the ``id`` converter first: the blueprints' rules use it
    auth.init_app(app)
    errors.init_app(app)
    visibility.init_app(app)
    for module in (
        auth,
        workbench,
        flows,
        sheet,
        verify,
        messages,
        admin,
        admins,
        directory,
        devices,
        presence,
        leavers,
        units,
        mobile,
        org,
        invite,
    ):
        app.register_blueprint(module.bp)
    app.after_request(_security_headers)
    app.jinja_env.filters["localtime"] = lambda at: engine.local(at) if at else "—"
    app.jinja_env.filters["stamp"] = lambda at: engine.stamp(at) if at else "—"
    app.jinja_env.globals["has_endpoint"] = lambda name: name in app.view_functions
    app.jinja_env.globals["get_locale"] = get_locale
    app.jinja_env.globals["limits"] = limits  # the pages' maxlength repeats the engine's limits
    if not test_config:
        settle()  # the heap loaded so far is kept: no full collection walks it again
    return app


def _translations() -> Any:
    """This request's translations, looked up once per request: Flask-Babel's own look-up
    (the locale's string form, the domain, the cache key) ran for each of the ~250 strings a
    page translates. The locale is fixed for a request once chosen (``select_locale``)."""
    ctx = _cv_request.get(None)
    if ctx is None:
        return get_translations()
    found = getattr(ctx, "banli_translations", None)
    if found is None:
        found = ctx.banli_translations = get_translations()
    return found


def _fast_gettext(app: Flask) -> None:
    """The templates' ``_()`` and friends through ``_translations`` (same strings, same
    newstyle autoescaping and %-formatting as Flask-Babel installs)."""
    app.jinja_env.install_gettext_callables(
        gettext=lambda s: _translations().ugettext(s),
        ngettext=lambda s, p, n: _translations().ungettext(s, p, n),
        newstyle=True,
        pgettext=lambda c, s: _translations().upgettext(c, s),
        npgettext=lambda c, s, p, n: _translations().unpgettext(c, s, p, n),
    )


def _cookies(app: Flask) -> None:
    """Session (and remember-me) cookies: HttpOnly, SameSite=Lax, and Secure outside development.

    Development is ``banli serve`` / ``make run`` (plain http on 127.0.0.1, ``DEVELOPMENT``) or
    Flask's debug mode; ``BANLI_COOKIE_SECURE`` decides explicitly either way.
    """
    secure = app.config["COOKIE_SECURE"]
    if secure is None:
        secure = not (app.config.get("DEVELOPMENT") or app.debug)
    app.config["SESSION_COOKIE_SECURE"] = secure
    app.config["REMEMBER_COOKIE_SECURE"] = secure


def _instance_secret(app: Flask) -> str:
    """A secret kept in instance/secret_key, made on first start, so sessions survive restarts."""
    path = Path(app.instance_path) / "secret_key"
    if not path.exists():
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(secrets.token_urlsafe(48))
        path.chmod(0o600)
    return path.read_text().strip()


def _security_headers(response: Any) -> Any:
    # No inline script anywhere; Mermaid's SVG carries inline styles, so styles allow them.
    response.headers.setdefault(
        "Content-Security-Policy",
        "default-src 'self'; script-src 'self'; style-src 'self' 'unsafe-inline'; "
        "img-src 'self' data:; object-src 'none'; base-uri 'self'; form-action 'self'; "
        "frame-ancestors 'none'",
    )
    response.headers.setdefault("X-Content-Type-Options", "nosniff")
    response.headers.setdefault("X-Frame-Options", "DENY")
    response.headers.setdefault("Referrer-Policy", "same-origin")
    return response


def base_url() -> str:
    """The site's address for links that leave the browser (a printed QR code): BANLI_BASE_URL,
    else the address this request came to."""
    from flask import current_app

    return (current_app.config.get("BASE_URL") or request.url_root).rstrip("/")


def engine() -> Engine:
    """The app's engine (one per process; its registry caches compiled definitions)."""
    from flask import current_app

    return current_app.extensions["banli"]


def local_path(target: str | None) -> str | None:
    r"""``target`` if it is a path on this site, else None: redirects never leave the site.

    Read the way a browser reads a Location header: it drops tab, CR and LF anywhere, strips
    leading spaces and control characters, and takes a backslash for a slash, so "/<TAB>/evil",
    "/\evil" and " //evil" all mean "//evil", another host. Only a path starting with exactly
    one "/" followed by something other than "/" passes, with no control character and no
    backslash anywhere (CR/LF would also split the header); its percent-decoded form must pass
    too, so a proxy that decodes once more cannot turn it into another host.
    """
    if not target:
        return None
    for form in (target, unquote(target)):
        if _UNSAFE.search(form) or not form.startswith("/") or form[1:2] == "/":
            return None
        parts = urlsplit(form)
        if parts.scheme or parts.netloc:
            return None
    return target
