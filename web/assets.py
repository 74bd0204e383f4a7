"""Static assets: content-hashed URLs cached for a year, and HTML pages kept out of shared caches.

``url_for('static', filename='app.js')`` gives ``/static/app.js?v=<hash>``: the first 12 hex
digits of the file's SHA-256, computed once when the app is made. A response to such a URL says
``Cache-Control: public, max-age=31536000, immutable``: the browser keeps the file a year and
never asks again, and a new release (new content, new hash, new URL) is fetched at once. A static
URL without ``v`` (or with a stale one) keeps Flask's default: revalidated with its ETag. HTML
pages (signed-in, per person) say ``private, no-cache`` unless a view chose otherwise.

Compression (gzip/brotli) is left to the reverse proxy in front of gunicorn: Flask-Compress is
not a dependency, and on the loopback the CPU it costs outweighs the bytes it saves.
"""

from __future__ import annotations

import hashlib
from pathlib import Path
from typing import Any

from flask import Flask, request

YEAR = 365 * 24 * 3600
IMMUTABLE = f"public, max-age={YEAR}, immutable"


def file_hashes(folder: str | Path) -> dict[str, str]:
    """``{relative path: short SHA-256 of its content}`` for every file under ``folder``."""
    root = Path(folder)
    if not root.is_dir():
        return {}
    return {
        p.relative_to(root).as_posix(): hashlib.sha256(p.read_bytes()).hexdigest()[:12]
        for p in sorted(root.rglob("*"))
        if p.is_file()
    }


def init_app(app: Flask) -> None:
    hashes = file_hashes(app.static_folder or "")
    app.extensions["banli_static_hashes"] = hashes

    @app.url_defaults
    def _versioned(endpoint: str, values: dict[str, Any]) -> None:
        if endpoint == "static" and "v" not in values:
            found = hashes.get(values.get("filename", ""))
            if found:
                values["v"] = found

    @app.after_request
    def _cache_headers(response: Any) -> Any:
        if request.endpoint == "static":
            name = (request.view_args or {}).get("filename", "")
            version = request.args.get("v")
            if response.status_code == 200 and version and version == hashes.get(name):
                response.headers["Cache-Control"] = IMMUTABLE
                response.headers.pop("Expires", None)
        elif response.mimetype == "text/html":
            response.headers.setdefault("Cache-Control", "private, no-cache")
        return response
