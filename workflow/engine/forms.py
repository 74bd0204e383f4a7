"""Form validation: each value checked against its declared field, one message per bad field."""

from __future__ import annotations

import re
from collections.abc import Callable
from datetime import date
from decimal import Decimal, InvalidOperation
from typing import Any

from sqlalchemy import select

from workflow.errors import FormInvalid
from workflow.limits import TEXT_MAX, TEXTAREA_MAX, too_long, without_bidi
from workflow.spec.model import Definition, FormField
from workflow.store.db import Tx
from workflow.store.models import Unit, User

MONEY_MAX = Decimal("999999999999.99")
SHA256 = re.compile(r"^[0-9a-f]{64}$")


class Bad(ValueError):
    """One field's problem."""


def validate_form(session: Tx, spec: Definition, values: dict[str, Any]) -> dict[str, Any]:
    """The cleaned form (JSON-ready), or ``FormInvalid`` naming every bad field at once."""
    errors: dict[str, str] = {}
    clean: dict[str, Any] = {}
    for key in values:
        if spec.field(key) is None:
            errors[key] = "is not a field of this form"
    for field in spec.form:
        raw = values.get(field.key)
        if _blank(raw):
            if field.required:
                errors[field.key] = "is required"
            continue
        try:
            clean[field.key] = CHECKS[field.type](session, field, raw)
        except Bad as exc:
            errors[field.key] = str(exc)
    if errors:
        raise FormInvalid(errors)
    return clean


def _blank(value: Any) -> bool:
    return (
        value is None
        or (isinstance(value, str | list | tuple) and len(value) == 0)
        or (isinstance(value, str) and not value.strip())
    )


def _text(limit: int) -> Callable[[Tx, FormField, Any], str]:
    def check(_s: Tx, field: FormField, raw: Any) -> str:
        if not isinstance(raw, str):
            raise Bad(f"must be text, not {type(raw).__name__}")
        value = raw.strip()
        if "\x00" in value:
            raise Bad("must not contain NUL characters")
        problem = too_long(value, min(field.max_length or limit, limit))
        if problem:
            raise Bad(problem)
        return value

    return check


def _bounds(field: FormField, value: Decimal | int) -> None:
    if field.min is not None and value < Decimal(str(field.min)):
        raise Bad(f"must be at least {field.min:g}")
    if field.max is not None and value > Decimal(str(field.max)):
        raise Bad(f"must be at most {field.max:g}")


def _integer(_s: Tx, field: FormField, raw: Any) -> int:
    if isinstance(raw, bool) or not isinstance(raw, int | str):
        raise Bad(f"must be a whole number, not {raw!r}")
    try:
        value = int(raw.strip()) if isinstance(raw, str) else raw
    except ValueError:
        raise Bad(f"must be a whole number, not {raw!r}") from None
    _bounds(field, value)
    return value


def _money(_s: Tx, field: FormField, raw: Any) -> str:
    if isinstance(raw, bool) or not isinstance(raw, int | str | Decimal | float):
        raise Bad(f"must be an amount such as 1234.50, not {raw!r}")
    try:
        value = Decimal(str(raw).replace(",", "").strip())
    except InvalidOperation:
        raise Bad(f"must be an amount such as 1234.50, not {raw!r}") from None
    if not value.is_finite() or value != value.quantize(Decimal("0.01")):
        raise Bad(f"must be an amount with at most two decimals, not {raw!r}")
    if value < 0 and (field.min is None or field.min >= 0):
        raise Bad("must not be negative")
    if abs(value) > MONEY_MAX:
        raise Bad("is too large")
    _bounds(field, value)
    return str(value.quantize(Decimal("0.01")))


def _date(_s: Tx, _field: FormField, raw: Any) -> str:
    if isinstance(raw, date):
        return raw.isoformat()
    try:
        return date.fromisoformat(str(raw).strip()).isoformat()
    except ValueError:
        raise Bad(f"must be a date such as 2026-03-01, not {raw!r}") from None


def _choice(_s: Tx, field: FormField, raw: Any) -> str:
    allowed = [c.value for c in field.choices or ()]
    if raw not in allowed:
        raise Bad(f"must be one of {', '.join(allowed)}, not {raw!r}")
    return raw


def _user(session: Tx, _field: FormField, raw: Any) -> int:
    col = User.login if isinstance(raw, str) and not raw.isdigit() else User.id
    key = int(raw) if col is User.id and not isinstance(raw, bool) and str(raw).isdigit() else raw
    uid = session.scalar(select(User.id).where(col == key, User.status == "active"))
    if uid is None:
        raise Bad(f"names no active person: {raw!r}")
    return uid


def _users(session: Tx, field: FormField, raw: Any) -> list[int]:
    if not isinstance(raw, list | tuple):
        raise Bad("must be a list of people")
    ids = [_user(session, field, r) for r in raw]
    return list(dict.fromkeys(ids))


def _unit(session: Tx, _field: FormField, raw: Any) -> int:
    col = Unit.id if isinstance(raw, int) and not isinstance(raw, bool) else Unit.code
    uid = session.scalar(select(Unit.id).where(col == raw))
    if uid is None:
        raise Bad(f"names no unit: {raw!r}")
    return uid


def _files(_s: Tx, _field: FormField, raw: Any) -> list[dict[str, Any]]:
    if not isinstance(raw, list | tuple):
        raise Bad("must be a list of attachments")
    out = []
    for i, f in enumerate(raw, 1):
        if not isinstance(f, dict) or set(f) - {"name", "size", "sha256", "content_type"}:
            raise Bad(f"attachment {i} must give name, size and sha256")
        name, size, digest = f.get("name"), f.get("size"), f.get("sha256")
        if isinstance(name, str):  # a right-to-left override would disguise the extension
            name = without_bidi(name)
        if not isinstance(name, str) or not name.strip() or "/" in name or "\\" in name:
            raise Bad(f"attachment {i} has no valid file name")
        if isinstance(size, bool) or not isinstance(size, int) or size < 0:
            raise Bad(f"attachment {i} ({name}) has no valid size")
        if not isinstance(digest, str) or not SHA256.match(digest):
            raise Bad(f"attachment {i} ({name}) has no valid sha256")
        kept = {k: f[k] for k in ("size", "sha256", "content_type") if k in f}
        out.append({"name": name, **kept})
    return out


CHECKS: dict[str, Callable[[Tx, FormField, Any], Any]] = {
    "text": _text(TEXT_MAX),
    "textarea": _text(TEXTAREA_MAX),
    "integer": _integer,
    "money": _money,
    "date": _date,
    "choice": _choice,
    "user": _user,
    "users": _users,
    "unit": _unit,
    "files": _files,
}
