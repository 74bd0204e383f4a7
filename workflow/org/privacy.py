"""Who sees a colleague's mobile number (Art. 5, 21), and the administrator's switch that hides it.

Every signed-in person sees a colleague's mobile, unless an administrator has hidden it
(``users.mobile_hidden``; leaders, typically). A hidden number is then seen only by

- the person themself;
- the main administrator, and administrators holding ``people`` over the person's unit;
- the people of the units chosen for that person (``mobile_viewers``) **and of every unit below
  a chosen one** (subtree: choosing 公司领导 lets the leaders' own sub-units see it too — an
  office's sub-teams belong to the office).

:func:`shown_mobiles` is the one place that rule is applied: the directory builds every card
and every row through it, so a number it does not return never reaches a page, a JSON answer or
a command's output. Changing the switch (:func:`set_privacy`) needs ``people`` over the person's
unit and is one event ``mobile_privacy`` on the admin chain, with the values before and after.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from datetime import datetime

from sqlalchemy import delete, insert, select, update

from workflow.access import GRANTS, MAIN, admin_scope, require_capability, subtree
from workflow.errors import Forbidden, FormInvalid, NotFound
from workflow.org import adminlog
from workflow.refusals import FieldError
from workflow.store.db import ConnectionOrSession, Database
from workflow.store.models import MobileViewer, Unit, User

USERS = User.__table__
UNITS = Unit.__table__
VIEWERS = MobileViewer.__table__


@dataclass(frozen=True)
class Viewer:
    """The person reading the directory, as the privacy rule needs them (built once a request)."""

    id: int
    unit_id: int
    #: their unit and every unit above it: a chosen unit covers the units below it
    ancestors: frozenset[int]
    #: the main administrator (sees every number)
    main: bool = False


def viewer(tx: ConnectionOrSession, user_id: int, parents: Mapping[int, int | None]) -> Viewer:
    """``user_id`` as a reader of the directory: active staff only (``Forbidden`` otherwise)."""
    main = select(MAIN.c.user_id).where(MAIN.c.id == 1).scalar_subquery()
    row = tx.execute(
        select(USERS.c.unit_id, USERS.c.status, (USERS.c.id == main).label("main"))
        .where(USERS.c.id == user_id)
    ).first()  # fmt: skip
    if row is None or row.status != "active":
        raise Forbidden("directory_viewer_inactive")
    ancestors: set[int] = set()
    unit: int | None = row.unit_id
    while unit is not None and unit not in ancestors:  # a cycle cannot loop forever
        ancestors.add(unit)
        unit = parents.get(unit)
    return Viewer(user_id, row.unit_id, frozenset(ancestors), bool(row.main))


def shown_mobiles(
    tx: ConnectionOrSession, viewer: Viewer, people: Iterable[tuple[int, int, bool]]
) -> set[int]:
    """Of ``people`` (id, unit id, mobile hidden), the ids whose mobile ``viewer`` may see: the
    rule of this module's docstring, in the order that asks the database least (the reader's
    administrative scope only if a chosen unit has not already decided)."""
    people = list(people)
    if viewer.main:
        return {p[0] for p in people}
    shown = {p[0] for p in people if not p[2] or p[0] == viewer.id}
    hidden = [p for p in people if p[0] not in shown]
    if not hidden:
        return shown
    chosen = viewer_units(tx, [p[0] for p in hidden])
    undecided = []
    for person_id, unit_id, _hidden in hidden:
        if chosen.get(person_id, set()) & viewer.ancestors:
            shown.add(person_id)
        else:
            undecided.append((person_id, unit_id))
    if undecided:
        units = _people_units(tx, viewer.id)
        shown.update(p for p, unit in undecided if unit in units)
    return shown


def _people_units(tx: ConnectionOrSession, user_id: int) -> frozenset[int]:
    """The units a sub-administrator (active: the reader is) holds ``people`` over; what
    ``access.admin_scope(...).units_for("people")`` says, asking only the grants it needs."""
    roots = tx.execute(
        select(GRANTS.c.unit_id).where(GRANTS.c.user_id == user_id, GRANTS.c.capability == "people")
    ).scalars().all()  # fmt: skip
    return subtree(tx, roots) if roots else frozenset()


def viewer_units(tx: ConnectionOrSession, person_ids: list[int]) -> dict[int, set[int]]:
    """person id → the units chosen to see their hidden mobile."""
    found: dict[int, set[int]] = {}
    for start in range(0, len(person_ids), 500):
        rows = tx.execute(
            select(VIEWERS.c.user_id, VIEWERS.c.unit_id).where(
                VIEWERS.c.user_id.in_(person_ids[start : start + 500])
            )
        )
        for user_id, unit_id in rows:
            found.setdefault(user_id, set()).add(unit_id)
    return found


# --- the administrator's switch ------------------------------------------------------------------


@dataclass(frozen=True)
class ChosenUnit:
    id: int
    code: str
    name: str


@dataclass(frozen=True)
class Privacy:
    """A person's mobile privacy as the administrator's page shows it."""

    person_id: int
    name: str
    login: str
    unit_id: int
    hidden: bool
    viewers: tuple[ChosenUnit, ...]
    #: set_privacy: whether this call changed anything (an unchanged form records nothing)
    changed: bool = False

    def recorded(self) -> dict[str, object]:
        """The values the admin chain keeps before and after a change."""
        return {
            "hidden": self.hidden,
            "viewers": [{"unit": u.id, "name": u.name} for u in self.viewers],
        }


def privacy_of(db: Database, actor_id: int, person_id: int) -> Privacy:
    """The privacy of ``person_id``'s mobile, for an administrator holding ``people`` over their
    unit (``Forbidden`` otherwise; ``NotFound`` for nobody, or a removed account)."""
    with db.read() as s:
        tx = s.connection()
        found = _privacy(tx, person_id)
        require_capability(tx, actor_id, "people", found.unit_id)
        return found


def set_privacy(
    db: Database,
    actor_id: int,
    person_id: int,
    *,
    hidden: bool,
    viewer_ids: Iterable[int],
    at: datetime,
) -> Privacy:
    """Hide (or show) ``person_id``'s mobile from everyone outside the units ``viewer_ids``.

    The chosen units are kept even when the number is shown, so hiding it again restores them.

    Raises:
        NotFound: nobody (or a removed account) has that id.
        Forbidden: ``actor_id`` does not hold ``people`` over the person's unit.
        FormInvalid: a chosen unit does not exist or is closed (field ``viewers``).
    """
    wanted = sorted(set(viewer_ids))
    with db.write() as s:
        tx = s.connection()
        before = _privacy(tx, person_id)
        scope = require_capability(tx, actor_id, "people", before.unit_id)
        units = {u.id: u for u in _open_units(tx, wanted)}
        unknown = [str(u) for u in wanted if u not in units]
        if unknown:
            raise FormInvalid({"viewers": FieldError("directory_unit_unknown", units=unknown)})
        after = Privacy(before.person_id, before.name, before.login, before.unit_id, hidden,
                        tuple(units[u] for u in wanted), changed=True)  # fmt: skip
        if after.recorded() == before.recorded():
            return before
        tx.execute(update(USERS).where(USERS.c.id == person_id).values(mobile_hidden=hidden))
        tx.execute(delete(VIEWERS).where(VIEWERS.c.user_id == person_id))
        if wanted:
            tx.execute(insert(VIEWERS), [{"user_id": person_id, "unit_id": u} for u in wanted])
        adminlog.record(s, scope, "mobile_privacy", at=at,
                        target={"user": person_id, "name": before.name},
                        before=before.recorded(), after=after.recorded())  # fmt: skip
        return after


def administers(db: Database, actor_id: int, person_id: int) -> bool:
    """Whether ``actor_id`` may change ``person_id``'s mobile privacy (the card shows the link)."""
    with db.read() as s:
        tx = s.connection()
        unit = tx.execute(select(USERS.c.unit_id).where(USERS.c.id == person_id)).scalar()
        return unit is not None and admin_scope(tx, actor_id).covers("people", unit)


def units_by_code(db: Database, codes: Iterable[str]) -> list[int]:
    """The ids of the open units with these codes (the command line names units by code);
    ``FormInvalid`` naming the codes that are no open unit."""
    codes = [c.strip() for c in codes if c.strip()]
    with db.read() as s:
        rows = dict(
            s.execute(
                select(UNITS.c.code, UNITS.c.id).where(
                    UNITS.c.code.in_(codes), UNITS.c.closed_at.is_(None)
                )
            ).all()
        )
    unknown = [c for c in codes if c not in rows]
    if unknown:
        raise FormInvalid({"viewers": FieldError("directory_unit_unknown", units=unknown)})
    return [rows[c] for c in codes]


def _privacy(tx: ConnectionOrSession, person_id: int) -> Privacy:
    row = tx.execute(
        select(USERS.c.id, USERS.c.name, USERS.c.login, USERS.c.unit_id, USERS.c.mobile_hidden,
               USERS.c.status).where(USERS.c.id == person_id)
    ).first()  # fmt: skip
    if row is None or row.status == "removed":
        raise NotFound("directory_person_not_found", person=person_id)
    chosen = sorted(viewer_units(tx, [person_id]).get(person_id, set()))
    units = {u.id: u for u in _units(tx, chosen)}
    viewers = tuple(units[u] for u in chosen if u in units)
    return Privacy(row.id, row.name, row.login, row.unit_id, bool(row.mobile_hidden), viewers)


def _units(tx: ConnectionOrSession, ids: list[int]) -> list[ChosenUnit]:
    rows = tx.execute(select(UNITS.c.id, UNITS.c.code, UNITS.c.name).where(UNITS.c.id.in_(ids)))
    return [ChosenUnit(r.id, r.code, r.name) for r in rows]


def _open_units(tx: ConnectionOrSession, ids: list[int]) -> list[ChosenUnit]:
    rows = tx.execute(
        select(UNITS.c.id, UNITS.c.code, UNITS.c.name).where(
            UNITS.c.id.in_(ids), UNITS.c.closed_at.is_(None)
        )
    )
    return [ChosenUnit(r.id, r.code, r.name) for r in rows]
