"""How the web reads what a request carries: ids and page numbers in range, and no NUL anywhere.

Every id in a URL goes through the ``id`` converter (``/items/<id:item_id>``) and every id in a
form or query string through ``as_id``/``as_ids``: a number the database cannot hold is no id at
all (404 in a URL, "not valid" in a form), never an overflow deep in a query (a 500).
"""

from __future__ import annotations

import re
from collections.abc import Iterable
from typing import Any

from flask import Flask, request
from werkzeug.exceptions import BadRequest
from werkzeug.routing import IntegerConverter, Map

#: the largest id a row can have: PostgreSQL's BIGINT, SQLite's INTEGER
ID_MAX = 2**63 - 1
#: no list has this many pages; a larger page number only overflows an OFFSET
PAGE_MAX = 1_000_000
# ASCII only: str.isdigit() also takes "²", which int() refuses
_DIGITS = re.compile(r"[0-9]{1,19}")


class IdConverter(IntegerConverter):
    """``<id:name>``: a row id, 1 … 2^63-1; anything else does not match (404)."""

    regex = r"[0-9]{1,19}"

    def __init__(self, map: Map) -> None:
        super().__init__(map, min=1, max=ID_MAX)


def as_id(value: Any) -> int | None:
    """``value`` as a row id if it is one (ASCII digits, 1 … 2^63-1), else None."""
    if isinstance(value, bool):
        return None
    if isinstance(value, int):
        return value if 1 <= value <= ID_MAX else None
    if not isinstance(value, str) or not _DIGITS.fullmatch(value.strip()):
        return None
    n = int(value.strip())
    return n if 1 <= n <= ID_MAX else None


def as_ids(values: Iterable[str]) -> tuple[list[int], bool]:
    """The ids among posted values (a multi-select), and whether a non-empty one was no id."""
    raw = [v for v in values if v]
    ids = [n for n in map(as_id, raw) if n is not None]
    return ids, len(ids) != len(raw)


def page_number(value: str | None) -> int:
    """A list's page from the query string: 1 where it is missing, unreadable or out of range."""
    if value is None or not _DIGITS.fullmatch(value.strip()):
        return 1
    return min(max(1, int(value.strip())), PAGE_MAX)


def version_number(value: str | None) -> int | None:
    """The flow version a page posted (0 … 2^63-1), or None where it is not one."""
    if value is None or not _DIGITS.fullmatch(value.strip()):
        return None
    n = int(value.strip())
    return n if n <= ID_MAX else None


class NulInRequest(BadRequest):
    """A NUL character in the address, a query or form value or name, or a file name."""


def refuse_nul() -> None:
    """Answer 400 to any request that carries a NUL character (``\\x00``).

    One place for every page, rather than a check per field: PostgreSQL refuses NUL in text
    (a search, a login name, an opinion, a compose key … would fail deep in a query as a 500),
    while SQLite would store it, so the two databases would disagree. No browser form holds a
    NUL, so we refuse rather than strip: stripping would silently store or search for something
    other than what was sent.
    """
    if "\x00" in request.path or "\x00" in (request.headers.get("User-Agent") or ""):
        raise NulInRequest()
    for values in (request.args, request.form):
        for key, value in values.items(multi=True):
            if "\x00" in key or "\x00" in value:
                raise NulInRequest()
    for key, upload in request.files.items(multi=True):
        if "\x00" in key or "\x00" in (upload.filename or ""):
            raise NulInRequest()


def init_app(app: Flask) -> None:
    """The ``id`` converter (before any blueprint's rules are made) and the NUL check."""
    app.url_map.converters["id"] = IdConverter
    app.before_request(refuse_nul)
