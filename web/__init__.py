"""Banli's web door: a Flask app factory, thin over the engine (pages parse, call, render)."""

from __future__ import annotations

import os
import secrets
from datetime import timedelta
from pathlib import Path
from typing import Any

from flask import Flask, request, session
from flask_babel import Babel, get_locale
from flask_wtf.csrf import CSRFProtect

from workflow import limits
from workflow.engine import Engine
from workflow.store.db import Database

LANGUAGES = ("zh", "en")
csrf = CSRFProtect()
babel = Babel()


def select_locale() -> str:
    """The language the person chose (session), else the browser's, else Chinese."""
    chosen = session.get("lang")
    if chosen in LANGUAGES:
        return chosen
    return request.accept_languages.best_match(LANGUAGES) or "zh"


def create_app(test_config: dict[str, Any] | None = None) -> Flask:
    """Build the app; ``test_config`` overrides settings (tests pass DATABASE_URL, SECRET_KEY)."""
    app = Flask(__name__, instance_path=str(Path("instance").resolve()))
    app.config.from_mapping(
        SECRET_KEY=os.environ.get("BANLI_SECRET_KEY") or _instance_secret(app),
        DATABASE_URL=os.environ.get("BANLI_DATABASE_URL"),
        FILES_DIR=os.environ.get("BANLI_FILES_DIR") or str(Path(app.instance_path) / "files"),
        MAX_CONTENT_LENGTH=int(os.environ.get("BANLI_MAX_UPLOAD", 1024**3)),
        UPLOAD_QUOTA=int(os.environ.get("BANLI_UPLOAD_QUOTA") or limits.UPLOAD_QUOTA),
        IDLE_TIMEOUT=timedelta(minutes=int(os.environ.get("BANLI_IDLE_MINUTES", 120))),
        SESSION_COOKIE_HTTPONLY=True,
        SESSION_COOKIE_SAMESITE="Lax",
        BABEL_DEFAULT_LOCALE="zh",
        BABEL_DEFAULT_TIMEZONE=os.environ.get("BANLI_TIMEZONE", "Asia/Shanghai"),
        WTF_CSRF_TIME_LIMIT=None,
    )
    if test_config:
        app.config.update(test_config)
    engine = app.config.get("ENGINE") or Engine(Database(app.config["DATABASE_URL"]))
    app.extensions["banli"] = engine

    csrf.init_app(app)
    babel.init_app(
        app,
        locale_selector=select_locale,
        default_translation_directories=str(Path(__file__).with_name("translations")),
    )
    from web import admin, auth, errors, flows, messages, sheet, workbench

    auth.init_app(app)
    errors.init_app(app)
    for module in (auth, workbench, flows, sheet, messages, admin):
        app.register_blueprint(module.bp)
    app.after_request(_security_headers)
    app.jinja_env.filters["localtime"] = lambda at: engine.local(at) if at else "—"
    app.jinja_env.filters["stamp"] = lambda at: engine.stamp(at) if at else "—"
    app.jinja_env.globals["has_endpoint"] = lambda name: name in app.view_functions
    app.jinja_env.globals["get_locale"] = get_locale
    app.jinja_env.globals["limits"] = limits  # the pages' maxlength repeats the engine's limits
    return app


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


def engine() -> Engine:
    """The app's engine (one per process; its registry caches compiled definitions)."""
    from flask import current_app

    return current_app.extensions["banli"]


def local_path(target: str | None) -> str | None:
    """``target`` if it is a path on this site, else None: redirects never leave the site."""
    if not target or not target.startswith("/") or target.startswith("//") or "\\" in target:
        return None
    return target
