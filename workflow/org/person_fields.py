"""A person's fields as an administrator types them (Art. 9-10): each cleaned, or refused by field.

Shared by enrolment, editing and the HR import, so that a value refused on the enrol form is
refused the same way in a sheet's row. Each ``clean_*`` returns ``(value, problem)``: the
normalised value, or a :class:`~workflow.refusals.FieldError` saying what is wrong with it.
"""

from __future__ import annotations

import re
from collections.abc import Iterable
from typing import Any

from pydantic import BaseModel
from sqlalchemy import select

from workflow.refusals import FieldError, quoted
from workflow.spec.loader import load_text
from workflow.spec.model import RoleRef
from workflow.store.db import ConnectionOrSession
from workflow.store.models import DefinitionVersion, RoleMembership

NAME_MAX = 50
POST_MAX = 100
EMAIL_MAX = 200
LOGIN_MAX = 64
#: a mainland China mobile number once spaces, dashes and the country code are gone
MOBILE = re.compile(r"1[3-9]\d{9}")
EMAIL = re.compile(r"[^@\s]+@[^@\s.]+(\.[^@\s.]+)+")
LOGIN = re.compile(r"[a-z][a-z0-9._-]{1,63}")
#: letters of any script, and what joins the parts of a real name (阿卜杜·热合曼, O'Neil Li)
NAME_CHARS = re.compile(r"[^\W\d_][^\W\d_ ·•.'\-]*(?:[ ·•.'\-]+[^\W\d_]+)*")
#: what people type when they do not know the name: refused (Art. 9: a real name)
PLACEHOLDERS = frozenset(
    {"test", "测试", "测试用户", "张三", "李四", "王五", "赵六", "某某", "某人", "无", "无名",
     "未知", "匿名", "admin", "administrator", "user", "用户", "name", "姓名", "null", "none",
     "nobody", "unknown", "xxx", "新员工", "员工", "临时", "temp", "demo", "guest", "访客"}
)  # fmt: skip


def clean_name(value: Any) -> tuple[str, FieldError | None]:
    """A real name: letters (any script) joined by a space, middle dot, dot, dash or apostrophe."""
    name = " ".join(str(value or "").split())
    if not name:
        return name, FieldError("field_required")
    if len(name) > NAME_MAX:
        return name, FieldError("field_too_long", length=len(name), max=NAME_MAX)
    if name.replace(" ", "").isdigit():
        return name, FieldError("person_name_digits")
    if name.lower() in PLACEHOLDERS or (len(set(name.lower())) == 1 and len(name) > 2):
        return name, FieldError("person_name_placeholder", value=quoted(name))
    if not NAME_CHARS.fullmatch(name):
        return name, FieldError("person_name_chars", value=quoted(name))
    return name, None


def clean_mobile(value: Any) -> tuple[str, FieldError | None]:
    """A mainland mobile number (1[3-9] and nine digits), spaces, dashes and +86 taken away."""
    raw = str(value or "").strip()
    if raw.endswith(".0") and raw[:-2].isdigit():  # a number cell a spreadsheet made a float
        raw = raw[:-2]
    digits = re.sub(r"[\s\-()（）]", "", raw)
    for prefix in ("+86", "0086"):
        digits = digits.removeprefix(prefix)
    if len(digits) == 13 and digits.startswith("86"):
        digits = digits[2:]
    if not raw:
        return "", FieldError("field_required")
    if not MOBILE.fullmatch(digits):
        return raw, FieldError("person_mobile_invalid", value=quoted(raw))
    return digits, None


def clean_email(value: Any) -> tuple[str | None, FieldError | None]:
    """An optional e-mail address; its domain lower-cased."""
    email = str(value or "").strip()
    if not email:
        return None, None
    if len(email) > EMAIL_MAX:
        return email, FieldError("field_too_long", length=len(email), max=EMAIL_MAX)
    if not EMAIL.fullmatch(email):
        return email, FieldError("person_email_invalid", value=quoted(email))
    local, _, domain = email.rpartition("@")
    return f"{local}@{domain.lower()}", None


def clean_post(value: Any) -> tuple[str | None, FieldError | None]:
    """An optional position (职务)."""
    post = " ".join(str(value or "").split())
    if len(post) > POST_MAX:
        return post, FieldError("field_too_long", length=len(post), max=POST_MAX)
    return post or None, None


def clean_login(value: Any) -> tuple[str | None, FieldError | None]:
    """An optional login given by hand: lower-case letters first, then letters, digits, . _ -."""
    login = str(value or "").strip()
    if not login:
        return None, None
    if not LOGIN.fullmatch(login):
        return login, FieldError("person_login_invalid", value=quoted(login))
    return login, None


def split_roles(value: Any) -> list[str]:
    """Role names from a list, or from text separated by commas (也可用中文逗号、顿号) or spaces."""
    if isinstance(value, list | tuple):
        parts: Iterable[Any] = value
    else:
        parts = re.split(r"[,，、;；\s]+", str(value or ""))
    seen: list[str] = []
    for part in parts:
        role = str(part).strip()
        if role and role not in seen:
            seen.append(role)
    return seen


#: a definition source's digest → the roles it names (the same source names the same roles,
#: whichever database it is stored in)
_NAMED: dict[str, frozenset[str]] = {}


def role_vocabulary(tx: ConnectionOrSession) -> frozenset[str]:
    """The roles a person may be given: those someone holds, and those a definition names."""
    held = set(tx.execute(select(RoleMembership.role).distinct()).scalars())
    active = select(DefinitionVersion.digest).where(DefinitionVersion.active.is_(True))
    digests = set(tx.execute(active).scalars())
    missing = digests - set(_NAMED)
    if missing:
        sources = tx.execute(
            select(DefinitionVersion.digest, DefinitionVersion.source, DefinitionVersion.filename)
            .where(DefinitionVersion.digest.in_(sorted(missing)))
        )  # fmt: skip
        for digest, source, filename in sources:
            try:
                _NAMED[digest] = frozenset(_roles_in(load_text(source, filename)))
            except Exception:  # a stored definition that no longer loads names no role
                _NAMED[digest] = frozenset()
    for digest in digests:
        held.update(_NAMED.get(digest, ()))
    return frozenset(held)


def _roles_in(value: Any) -> Iterable[str]:
    """Every ``{role: …}`` inside a loaded definition, however deep."""
    if isinstance(value, RoleRef):
        yield value.role
    elif isinstance(value, BaseModel):
        for name in type(value).model_fields:
            yield from _roles_in(getattr(value, name))
    elif isinstance(value, dict):
        for item in value.values():
            yield from _roles_in(item)
    elif isinstance(value, list | tuple):
        for item in value:
            yield from _roles_in(item)


def check_roles(roles: list[str], vocabulary: frozenset[str]) -> FieldError | None:
    """A problem if any of ``roles`` is not in the vocabulary, naming those."""
    unknown = [r for r in roles if r not in vocabulary]
    if unknown:
        return FieldError("person_role_unknown", roles=unknown, known=sorted(vocabulary))
    return None


def login_base(pinyin: str) -> str:
    """The login a name suggests: its pinyin, ASCII letters and digits only (``user`` if none)."""
    base = re.sub(r"[^a-z0-9]", "", pinyin.lower())[: LOGIN_MAX - 4]
    if not base or not base[0].isalpha():
        base = f"user{base}"[: LOGIN_MAX - 4]
    return base


def unique_login(base: str, taken: set[str]) -> str:
    """``base``, else ``base2``, ``base3`` … whichever is not in ``taken``."""
    if base not in taken:
        return base
    n = 2
    while f"{base}{n}" in taken:
        n += 1
    return f"{base}{n}"
