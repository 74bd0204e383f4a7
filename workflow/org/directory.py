"""The directory 通讯录 (Art. 5, 21): the unit tree, a unit's people, search, a card per person.

For signed-in staff only; it lists *active* people. Invited people (enrolled, no password set
yet) are left out until they activate their account — until then they cannot read a message or
take a work item, so a colleague who finds them could not reach them in Banli — and removed
people are gone from it (their name stays on history, not in the phone list).

Search takes a name (王芳, or its start: 王), its pinyin whole or its start (wangfang, wangf), its
initials (wf), a login's start, or at least three digits of a mobile number. Every key is a
prefix served by a btree index as a range (``pinyin >= 'wf' AND pinyin < 'wg'``; a LIKE would
need a collation both databases share): ``ix_users_pinyin``, ``ix_users_initials``, the login's
unique index and the partial ``ix_users_mobile``. A Chinese query is matched through its pinyin
and then its characters, so it uses the pinyin index too. Results come in pinyin order, at most
:data:`PAGE_SIZE` at a time, the next page after the last person shown (keyset: no OFFSET).

Every answer is built by :func:`_cards`, which asks :func:`workflow.org.privacy.shown_mobiles`:
a number the reader may not see is not in the card (None), so no door can send it. A digits
query finds nobody by a number the reader may not see. Every call counts one request against the
reader's rate (:mod:`workflow.org.ratelimit`, ``BANLI_DIRECTORY_RATE`` per 10 minutes).
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from datetime import datetime
from functools import lru_cache
from typing import Any

from sqlalchemy import and_, bindparam, func, or_, select, union

from workflow.errors import NotFound
from workflow.org import privacy, ratelimit
from workflow.org.names import name_keys
from workflow.org.presence import is_online
from workflow.store.db import ConnectionOrSession, Database
from workflow.store.models import Unit, User

USERS = User.__table__
UNITS = Unit.__table__
#: people per page of results
PAGE_SIZE = 50
#: a query longer than this is cut (no name, pinyin or number is longer)
QUERY_MAX = 50
#: a digits query needs this many digits before it looks at mobile numbers
MOBILE_MIN = 3
RATE_SCOPE = "directory"
_NON_ASCII = re.compile(r"[^\x00-\x7f]+")
_PHONE = re.compile(r"^\+?[0-9][0-9 \-]*$")
CARD_COLUMNS = (USERS.c.id, USERS.c.name, USERS.c.login, USERS.c.unit_id, USERS.c.post,
                USERS.c.email, USERS.c.mobile, USERS.c.mobile_hidden, USERS.c.last_seen_at,
                USERS.c.pinyin, USERS.c.initials)  # fmt: skip


@dataclass(frozen=True)
class UnitNode:
    """An open unit in the tree: its depth (the root is 0) and its active people (not below)."""

    id: int
    code: str
    name: str
    parent_id: int | None
    depth: int
    members: int


@dataclass(frozen=True)
class Card:
    """One person as the reader may see them; ``mobile`` is None when hidden from the reader
    (``mobile_hidden`` then says so) or when there is none."""

    id: int
    name: str
    login: str
    unit_id: int
    unit_path: tuple[str, ...]
    post: str | None
    email: str | None
    mobile: str | None
    mobile_hidden: bool
    online: bool

    def as_json(self) -> dict[str, Any]:
        """The card for the JSON door (the same fields: a hidden number is absent here too)."""
        return {"id": self.id, "name": self.name, "login": self.login, "unit_id": self.unit_id,
                "unit": " / ".join(self.unit_path), "post": self.post, "email": self.email,
                "mobile": self.mobile, "mobile_hidden": self.mobile_hidden,
                "online": self.online}  # fmt: skip


@dataclass(frozen=True)
class Results:
    """One page of people; ``more`` is the id to continue after, None on the last page."""

    cards: tuple[Card, ...]
    more: int | None


@dataclass(frozen=True)
class Page:
    """The directory page: the tree, the unit shown (or the query searched) and its people."""

    tree: tuple[UnitNode, ...]
    unit: UnitNode | None
    query: str
    results: Results


def page(db: Database, viewer_id: int, now: datetime, rate: ratelimit.Rate, *, query: str = "",
         unit_id: int | None = None, after: int | None = None) -> Page:  # fmt: skip
    """The directory as ``viewer_id`` sees it: the tree and either the people matching
    ``query``, or those of ``unit_id`` (default: the viewer's own unit).

    Raises:
        RateLimited: the viewer has used up their rate (nothing else is read).
        NotFound: ``unit_id`` is no open unit.
        Forbidden: the viewer is not active staff.
    """
    ratelimit.hit(db, RATE_SCOPE, str(viewer_id), now, rate)
    with db.read() as s:
        tx = s.connection()
        units = _units(tx)
        reader = privacy.viewer(tx, viewer_id, {u: r.parent_id for u, r in units.items()})
        tree = _tree(tx, units)
        query = _clean(query)
        if query:
            return Page(tree, None, query, _search(tx, reader, units, query, after, now))
        chosen = reader.unit_id if unit_id is None else unit_id
        node = next((n for n in tree if n.id == chosen), None)
        if node is None:
            raise NotFound("directory_unit_not_found", unit=chosen)
        return Page(tree, node, "", _members(tx, reader, units, chosen, after, now))


def search(db: Database, viewer_id: int, query: str, now: datetime, rate: ratelimit.Rate,
           after: int | None = None) -> Results:  # fmt: skip
    """The people matching ``query`` (see the module's docstring), a page at a time."""
    ratelimit.hit(db, RATE_SCOPE, str(viewer_id), now, rate)
    with db.read() as s:
        tx = s.connection()
        units = _units(tx)
        reader = privacy.viewer(tx, viewer_id, {u: r.parent_id for u, r in units.items()})
        query = _clean(query)
        if not query:
            return Results((), None)
        return _search(tx, reader, units, query, after, now)


def person(db: Database, viewer_id: int, person_id: int, now: datetime,
           rate: ratelimit.Rate) -> Card:  # fmt: skip
    """The card of ``person_id`` (active people only; ``NotFound`` otherwise)."""
    ratelimit.hit(db, RATE_SCOPE, str(viewer_id), now, rate)
    with db.read() as s:
        tx = s.connection()
        units = _units(tx)
        reader = privacy.viewer(tx, viewer_id, {u: r.parent_id for u, r in units.items()})
        rows = tx.execute(
            select(*CARD_COLUMNS).where(USERS.c.id == person_id, USERS.c.status == "active")
        ).all()
        if not rows:
            raise NotFound("directory_person_not_found", person=person_id)
        return _cards(tx, reader, units, rows, now)[0]


def unit_tree(db: Database) -> tuple[UnitNode, ...]:
    """The open units with their active people (the privacy page's unit chooser; not counted:
    it shows no person)."""
    with db.read() as s:
        tx = s.connection()
        return _tree(tx, _units(tx))


# --- the queries ---------------------------------------------------------------------------------


def _clean(query: str) -> str:
    return " ".join(query.split())[:QUERY_MAX]


def _upper(prefix: str) -> str:
    """The least string above every string starting with ``prefix`` (the range's end)."""
    return prefix[:-1] + chr(ord(prefix[-1]) + 1) if ord(prefix[-1]) < 0x10FFFF else prefix + "\0"


def _range(column: Any, name: str) -> Any:
    """``column`` starts with the bound ``name``: ``>= :name_lo AND < :name_hi``, a range a btree
    index serves."""
    return and_(column >= bindparam(f"{name}_lo"), column < bindparam(f"{name}_hi"))


#: each kind of branch of a search, its WHERE clause with bound values (see _params)
WHERE: dict[str, Any] = {
    # 王芳: by the pinyin index, then the characters themselves
    "name": and_(_range(USERS.c.pinyin, "py"),
                 func.substr(USERS.c.name, 1, bindparam("name_len")) == bindparam("name")),
    "pinyin": _range(USERS.c.pinyin, "py"),
    "initials": _range(USERS.c.initials, "py"),
    "login": _range(USERS.c.login, "login"),
    # with the partial index's own condition, so that the index serves it
    "mobile": and_(_range(USERS.c.mobile, "mobile"), USERS.c.mobile.is_not(None),
                   USERS.c.status != "removed"),
}  # fmt: skip
#: after the person with (pinyin, id) = (:after_key, :after_id): the next page's keyset
KEYSET = or_(USERS.c.pinyin > bindparam("after_key"),
             and_(USERS.c.pinyin == bindparam("after_key"), USERS.c.id > bindparam("after_id")))  # fmt: skip


@lru_cache(maxsize=32)
def _search_statement(kinds: tuple[str, ...], keyset: bool) -> Any:
    """The search's SELECT for these kinds of branch, built once (values are bound)."""
    selects = []
    for kind in kinds:
        stmt = select(*CARD_COLUMNS).where(WHERE[kind], USERS.c.status == "active")
        selects.append(stmt.where(KEYSET) if keyset else stmt)
    found = union(*selects).subquery() if len(selects) > 1 else selects[0].subquery()
    return select(found).order_by(found.c.pinyin, found.c.id).limit(PAGE_SIZE + 1)


@lru_cache(maxsize=2)
def _members_statement(keyset: bool) -> Any:
    """A unit's active people in (pinyin, id) order, built once."""
    stmt = select(*CARD_COLUMNS).where(USERS.c.unit_id == bindparam("unit"),
                                       USERS.c.status == "active")  # fmt: skip
    if keyset:
        stmt = stmt.where(KEYSET)
    return stmt.order_by(USERS.c.pinyin, USERS.c.id).limit(PAGE_SIZE + 1)


def _after(tx: ConnectionOrSession, after: int | None) -> dict[str, Any] | None:
    """The keyset's values: after the person ``after`` in (pinyin, id) order ({}: from the
    start; None: a cursor to nobody, so nothing comes after it)."""
    if after is None:
        return {}
    key = tx.execute(select(USERS.c.pinyin).where(USERS.c.id == after)).scalar()
    return None if key is None else {"after_key": key, "after_id": after}


def _params(query: str) -> tuple[dict[str, Any], str | None]:
    """The kinds of branch a search runs (``kinds``) with their bound values, and the digits it
    looks for in mobile numbers (None: it does not)."""
    pinyin = name_keys(query)[0]
    chinese = _NON_ASCII.match(query)
    kinds: list[str] = []
    params: dict[str, Any] = {}
    if pinyin:
        params.update(py_lo=pinyin, py_hi=_upper(pinyin))
    if pinyin and chinese:
        kinds.append("name")
        params.update(name=chinese.group(0), name_len=len(chinese.group(0)))
    elif pinyin and not _NON_ASCII.search(query):
        login = query.lower().replace(" ", "")
        kinds += ["pinyin", "initials", "login"]
        params.update(login_lo=login, login_hi=_upper(login))
    digits = None
    if _PHONE.match(query):
        digits = re.sub(r"[ \-]", "", query).removeprefix("+86").lstrip("+")
        if len(digits) >= MOBILE_MIN:
            kinds.append("mobile")
            params.update(mobile_lo=digits, mobile_hi=_upper(digits))
        else:
            digits = None
    return {"kinds": tuple(kinds), **params}, digits


def _search(tx: ConnectionOrSession, reader: privacy.Viewer, units: dict[int, Any], query: str,
            after: int | None, now: datetime) -> Results:  # fmt: skip
    params, digits = _params(query)
    kinds = params.pop("kinds")
    keyset = _after(tx, after)
    if not kinds or keyset is None:
        return Results((), None)
    rows = tx.execute(_search_statement(kinds, bool(keyset)), {**params, **keyset}).all()
    more = rows[PAGE_SIZE - 1].id if len(rows) > PAGE_SIZE else None
    cards = _cards(tx, reader, units, rows[:PAGE_SIZE], now)
    if digits is not None:  # a number the reader may not see finds nobody
        key = name_keys(query)[0]
        by_id = {r.id: r for r in rows}
        cards = [c for c in cards if (c.mobile or "").startswith(digits)
                 or _named(by_id[c.id], key, query.lower())]  # fmt: skip
    return Results(tuple(cards), more)


def _named(row: Any, key: str, login: str) -> bool:
    """Whether ``row`` matched by its name or login (not only by its mobile)."""
    return bool(key) and (row.pinyin.startswith(key) or row.initials.startswith(key)
                          or row.login.startswith(login))  # fmt: skip


def _members(tx: ConnectionOrSession, reader: privacy.Viewer, units: dict[int, Any],
             unit_id: int, after: int | None, now: datetime) -> Results:  # fmt: skip
    keyset = _after(tx, after)
    if keyset is None:
        return Results((), None)
    rows = tx.execute(_members_statement(bool(keyset)), {"unit": unit_id, **keyset}).all()
    more = rows[PAGE_SIZE - 1].id if len(rows) > PAGE_SIZE else None
    return Results(tuple(_cards(tx, reader, units, rows[:PAGE_SIZE], now)), more)


def _cards(tx: ConnectionOrSession, reader: privacy.Viewer, units: dict[int, Any],
           rows: list[Any], now: datetime) -> list[Card]:  # fmt: skip
    """The one place a person's row becomes what a reader gets: the mobile only if shown."""
    shown = privacy.shown_mobiles(
        tx, reader, [(r.id, r.unit_id, bool(r.mobile_hidden)) for r in rows]
    )
    paths = {unit: _path(units, unit) for unit in {r.unit_id for r in rows}}
    return [
        Card(r.id, r.name, r.login, r.unit_id, paths[r.unit_id], r.post, r.email,
             r.mobile if r.id in shown else None, bool(r.mobile_hidden) and r.id not in shown,
             is_online(r.last_seen_at, now))
        for r in rows
    ]  # fmt: skip


def _units(tx: ConnectionOrSession) -> dict[int, Any]:
    """Every unit (open or closed) by id: the tree, the paths and the reader's ancestors."""
    rows = tx.execute(
        select(UNITS.c.id, UNITS.c.code, UNITS.c.name, UNITS.c.parent_id, UNITS.c.closed_at)
    ).all()
    return {r.id: r for r in rows}


def _path(units: dict[int, Any], unit_id: int) -> tuple[str, ...]:
    """The names from the top of the tree down to ``unit_id``."""
    names: list[str] = []
    seen: set[int] = set()
    unit: int | None = unit_id
    while unit is not None and unit in units and unit not in seen:
        seen.add(unit)
        names.append(units[unit].name)
        unit = units[unit].parent_id
    return tuple(reversed(names))


def _tree(tx: ConnectionOrSession, units: dict[int, Any]) -> tuple[UnitNode, ...]:
    """The open units, each under its parent (depth first, in the order they were made), with
    their active people; a unit under a closed one shows at the top."""
    counts = dict(
        tx.execute(
            select(USERS.c.unit_id, func.count())
            .where(USERS.c.status == "active")
            .group_by(USERS.c.unit_id)
        ).all()
    )
    children: dict[int | None, list[Any]] = {}
    for unit in units.values():
        if unit.closed_at is None:
            up = units.get(unit.parent_id)
            parent = unit.parent_id if up is not None and up.closed_at is None else None
            children.setdefault(parent, []).append(unit)
    out: list[UnitNode] = []
    todo = [(u, 0) for u in sorted(children.get(None, []), key=_order, reverse=True)]
    seen: set[int] = set()
    while todo:
        unit, depth = todo.pop()
        if unit.id in seen:
            continue
        seen.add(unit.id)
        out.append(UnitNode(unit.id, unit.code, unit.name, unit.parent_id, depth,
                            counts.get(unit.id, 0)))  # fmt: skip
        todo.extend(
            (c, depth + 1) for c in sorted(children.get(unit.id, []), key=_order, reverse=True)
        )
    return tuple(out)


def _order(unit: Any) -> int:
    return unit.id  # the order they were made in: an organisation's own order, not the alphabet
