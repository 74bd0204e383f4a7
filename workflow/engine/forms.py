"""Form validation: each value checked against its declared field, one message per bad field."""

from __future__ import annotations

import re
from collections.abc import Callable
from datetime import date
from decimal import Decimal, InvalidOperation
from typing import Any

from sqlalchemy import select

from workflow.errors import FormInvalid
from workflow.limits import TEXT_MAX, TEXTAREA_MAX, without_bidi
from workflow.refusals import FieldError, quoted
from workflow.spec.model import Definition, FormField
from workflow.store.db import ConnectionOrSession
from workflow.store.models import Unit, User

MONEY_MAX = Decimal("999999999999.99")
#: A whole-number field holds what every reader of the JSON form reads exactly (JavaScript too).
INTEGER_MAX = 2**53 - 1
#: The largest row id (PostgreSQL's BIGINT): a larger "id" names nobody, it is not an overflow.
ID_MAX = 2**63 - 1
#: What a number may look like before it is parsed: no exponent, no NaN or Infinity, and not
#: so many digits that parsing or rounding it costs anything (the largest amount has 15).
_AMOUNT = re.compile(r"[+-]?(?:[0-9]{1,30}(?:\.[0-9]{0,30})?|\.[0-9]{1,30})")
_WHOLE = re.compile(r"[+-]?[0-9]{1,30}")
_DIGITS = re.compile(r"[0-9]{1,30}")
SHA256 = re.compile(r"^[0-9a-f]{64}$")


class Bad(ValueError):
    """One field's problem: a code of the catalogue (``workflow/refusals.py``) and its params."""

    def __init__(self, code: str, /, **params: Any) -> None:
        self.error = FieldError(code, **params)
        super().__init__(self.error)


def validate_form(
    session: ConnectionOrSession, spec: Definition, values: dict[str, Any]
) -> dict[str, Any]:
    """The cleaned form (JSON-ready), or ``FormInvalid`` naming every bad field at once."""
    errors: dict[str, FieldError] = {}
    clean: dict[str, Any] = {}
    for key in values:
        if spec.field(key) is None:
            errors[key] = FieldError("field_unknown")
    for field in spec.form:
        raw = values.get(field.key)
        if _blank(raw):
            if field.required:
                errors[field.key] = FieldError("field_required")
            continue
        try:
            clean[field.key] = CHECKS[field.type](session, field, raw)
        except Bad as exc:
            errors[field.key] = exc.error
    if errors:
        raise FormInvalid(errors)
    return clean


def _blank(value: Any) -> bool:
    return (
        value is None
        or (isinstance(value, str | list | tuple) and len(value) == 0)
        or (isinstance(value, str) and not value.strip())
    )


def _text(limit: int) -> Callable[[ConnectionOrSession, FormField, Any], str]:
    def check(_s: ConnectionOrSession, field: FormField, raw: Any) -> str:
        if not isinstance(raw, str):
            raise Bad("field_not_text", type=type(raw).__name__)
        value = raw.strip()
        if "\x00" in value:
            raise Bad("field_nul")
        most = min(field.max_length or limit, limit)
        if len(value) > most:
            raise Bad("field_too_long", length=len(value), max=most)
        return value

    return check


def _bounds(field: FormField, value: Decimal | int) -> None:
    if field.min is not None and value < Decimal(str(field.min)):
        raise Bad("field_below_min", min=f"{field.min:g}")
    if field.max is not None and value > Decimal(str(field.max)):
        raise Bad("field_above_max", max=f"{field.max:g}")


def _integer(_s: ConnectionOrSession, field: FormField, raw: Any) -> int:
    if isinstance(raw, bool) or not isinstance(raw, int | str):
        raise Bad("field_not_whole", value=_shown(raw))
    if isinstance(raw, str) and not _WHOLE.fullmatch(raw.strip()):
        raise Bad("field_not_whole", value=_shown(raw))
    value = int(raw.strip()) if isinstance(raw, str) else raw
    if abs(value) > INTEGER_MAX:
        raise Bad("field_too_large")
    _bounds(field, value)
    return value


def _shown(raw: Any) -> str:
    """A refused value as a message quotes it: never a page of digits."""
    return quoted(raw)


def _money(_s: ConnectionOrSession, field: FormField, raw: Any) -> str:
    if isinstance(raw, bool) or not isinstance(raw, int | str | Decimal | float):
        raise Bad("field_not_amount", example="1234.50", value=_shown(raw))
    text = str(raw).replace(",", "").strip()
    # Plain digits only: Decimal also reads 1e999999, NaN, Infinity and 10^6 digits, whose
    # rounding below would raise (a 500) or take long; none of them is an amount anyway.
    if not _AMOUNT.fullmatch(text):
        raise Bad("field_not_amount", example="1234.50", value=_shown(raw))
    try:
        value = Decimal(text)
    except InvalidOperation:
        raise Bad("field_not_amount", example="1234.50", value=_shown(raw)) from None
    if abs(value) > MONEY_MAX:
        raise Bad("field_too_large")
    if value != value.quantize(Decimal("0.01")):
        raise Bad("field_amount_decimals", value=_shown(raw))
    if value < 0 and (field.min is None or field.min >= 0):
        raise Bad("field_negative")
    _bounds(field, value)
    return str(value.quantize(Decimal("0.01")) + 0)  # + 0: -0 is stored as 0.00


def _date(_s: ConnectionOrSession, _field: FormField, raw: Any) -> str:
    if isinstance(raw, date):
        return raw.isoformat()
    try:
        return date.fromisoformat(str(raw).strip()).isoformat()
    except ValueError:
        raise Bad("field_not_date", example="2026-03-01", value=quoted(raw)) from None


def _choice(_s: ConnectionOrSession, field: FormField, raw: Any) -> str:
    allowed = [c.value for c in field.choices or ()]
    if raw not in allowed:
        raise Bad("field_not_choice", allowed=allowed, value=quoted(raw))
    return raw


def _user(session: ConnectionOrSession, _field: FormField, raw: Any) -> int:
    key = _id_of(raw)
    if key is None and not isinstance(raw, str):
        raise Bad("field_no_person", value=_shown(raw))
    col = User.id if key is not None else User.login
    if col is User.login and _DIGITS.fullmatch(raw):
        raise Bad("field_no_person", value=_shown(raw))  # digits, but no id: too large
    uid = session.scalar(
        select(User.id).where(col == (key if key is not None else raw), User.status == "active")
    )
    if uid is None:
        raise Bad("field_no_person", value=quoted(raw))
    return uid


def _users(session: ConnectionOrSession, field: FormField, raw: Any) -> list[int]:
    if not isinstance(raw, list | tuple):
        raise Bad("field_not_people")
    ids = [_user(session, field, r) for r in raw]
    return list(dict.fromkeys(ids))


def _id_of(raw: Any) -> int | None:
    """A person's or unit's id given as a number or as ASCII digits, if it is in range."""
    if isinstance(raw, bool):
        return None
    if isinstance(raw, str) and _DIGITS.fullmatch(raw):
        raw = int(raw)
    return raw if isinstance(raw, int) and 0 < raw <= ID_MAX else None


def _unit(session: ConnectionOrSession, _field: FormField, raw: Any) -> int:
    if isinstance(raw, int) and _id_of(raw) is None:
        raise Bad("field_no_unit", value=_shown(raw))
    col = Unit.id if isinstance(raw, int) and not isinstance(raw, bool) else Unit.code
    if not isinstance(raw, int | str):
        raise Bad("field_no_unit", value=_shown(raw))
    uid = session.scalar(select(Unit.id).where(col == raw))
    if uid is None:
        raise Bad("field_no_unit", value=quoted(raw))
    return uid


def _files(_s: ConnectionOrSession, _field: FormField, raw: Any) -> list[dict[str, Any]]:
    if not isinstance(raw, list | tuple):
        raise Bad("field_not_files")
    out = []
    for i, f in enumerate(raw, 1):
        if not isinstance(f, dict) or set(f) - {"name", "size", "sha256", "content_type"}:
            raise Bad("attachment_incomplete", n=i)
        name, size, digest = f.get("name"), f.get("size"), f.get("sha256")
        if isinstance(name, str):  # a right-to-left override would disguise the extension
            name = without_bidi(name)
        if not isinstance(name, str) or not name.strip() or "/" in name or "\\" in name:
            raise Bad("attachment_no_name", n=i)
        if isinstance(size, bool) or not isinstance(size, int) or size < 0:
            raise Bad("attachment_no_size", n=i, name=name)
        if not isinstance(digest, str) or not SHA256.match(digest):
            raise Bad("attachment_no_sha256", n=i, name=name)
        kept = {k: f[k] for k in ("size", "sha256", "content_type") if k in f}
        out.append({"name": name, **kept})
    return out


CHECKS: dict[str, Callable[[ConnectionOrSession, FormField, Any], Any]] = {
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
