"""Files people post and fetch in the browser: uploads into the store, kept files signed, safe downloads."""

from __future__ import annotations

from typing import Any

from flask import current_app, request, send_file
from flask_login import current_user
from itsdangerous import BadSignature, URLSafeSerializer
from werkzeug.exceptions import RequestEntityTooLarge

from web import engine
from workflow import files, uploads
from workflow.refusals import FieldError


def file_store() -> files.FileStore:
    return files.FileStore(current_app.config["FILES_DIR"])


def posted_files(key: str) -> tuple[list[dict[str, Any]], FieldError | None]:
    """Files kept from an earlier try (signed, so nobody attaches a file by guessing its hash)
    less those ticked for removal, plus the new uploads, streamed into the store."""
    removed = set(request.form.getlist(f"{key}.remove"))
    kept = [f for f in map(unsign_kept, request.form.getlist(f"{key}.kept")) if f]
    out = {
        f["sha256"]: f
        for f in kept
        if f["sha256"] not in removed and file_store().exists(f["sha256"])
    }
    problem = None
    for upload in request.files.getlist(key):
        if not upload.filename:
            continue  # the browser sends an empty part when no file was chosen
        try:
            saved = uploads.save(
                engine().db, file_store(), current_user.id, upload.stream, upload.filename,
                limit=current_app.config["MAX_CONTENT_LENGTH"],
                quota_bytes=current_app.config["UPLOAD_QUOTA"], now=engine().clock(),
            )  # fmt: skip
        except uploads.QuotaExceeded as exc:
            problem = FieldError("field_upload_quota", **exc.params)
            continue
        except files.FileTooLarge:
            raise RequestEntityTooLarge() from None
        except files.EmptyFile as exc:
            problem = FieldError("field_file_empty", **exc.params)
            continue
        out.setdefault(saved.sha256, saved.as_dict())
    return list(out.values()), problem


def _signer() -> URLSafeSerializer:
    return URLSafeSerializer(current_app.secret_key, salt="banli.flows.upload")


def sign_kept(f: dict[str, Any]) -> str:
    return _signer().dumps([current_user.id, f])


def unsign_kept(token: str) -> dict[str, Any] | None:
    try:
        uid, f = _signer().loads(token)
    except (BadSignature, ValueError, TypeError):
        return None
    return f if uid == current_user.id and isinstance(f, dict) else None


def attachment_response(sha256: str, found: dict[str, Any]) -> Any:
    """A stored file as a download that no browser renders in the site's origin."""
    response = send_file(
        file_store().path(sha256),
        mimetype=found.get("content_type") or "application/octet-stream",
        as_attachment=True,
        download_name=found["name"],
    )
    response.headers["X-Content-Type-Options"] = "nosniff"
    response.headers["Cache-Control"] = "private, no-cache"
    response.headers["Content-Security-Policy"] = "default-src 'none'; sandbox"
    return response
