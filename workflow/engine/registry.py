"""Definition versions in the database, each compiled once into its machine and cached by version."""

from __future__ import annotations

import hashlib
from dataclasses import dataclass
from datetime import datetime
from pathlib import Path
from threading import Lock

from sqlalchemy import func, insert, select

from workflow.audit import append_admin
from workflow.engine.hooks import machine_hooks
from workflow.errors import NotFound
from workflow.machine import CompiledDefinition, compile_definition
from workflow.spec.loader import load_text, read_definition
from workflow.store.db import ConnectionOrSession, Database
from workflow.store.models import DefinitionVersion

DEFS = DefinitionVersion.__table__


class Registry:
    """Compiled definitions by version id: built on first use, shared by every flow of that version."""

    def __init__(self) -> None:
        self._compiled: dict[int, CompiledDefinition] = {}
        self._lock = Lock()

    def get(self, session: ConnectionOrSession, version_id: int) -> CompiledDefinition:
        found = self._compiled.get(version_id)
        if found is not None:
            return found
        row = session.execute(
            select(DEFS.c.source, DEFS.c.filename).where(DEFS.c.id == version_id)
        ).first()
        if row is None:
            raise NotFound("definition_version_not_found", version=version_id)
        with self._lock:
            found = self._compiled.get(version_id)
            if found is None:
                spec = load_text(row.source, row.filename)
                found = self._compiled[version_id] = compile_definition(
                    version_id, spec, machine_hooks(spec.kind)
                )
        return found

    def latest(self, session: ConnectionOrSession, key: str) -> CompiledDefinition:
        """The newest active version of an approval type: where new flows start."""
        vid = session.scalar(
            select(func.max(DEFS.c.id)).where(DEFS.c.key == key, DEFS.c.active.is_(True))
        )
        if vid is None:
            raise NotFound("approval_type_unknown", key=key)
        return self.get(session, vid)

    def __len__(self) -> int:
        return len(self._compiled)


@dataclass
class Loaded:
    key: str
    version: int
    new: bool
    filename: str


def store_definition(
    session: ConnectionOrSession,
    path: Path,
    now: datetime,
    actor: tuple[int | None, str | None] = (None, "banli"),
) -> Loaded:
    """Validate a definition file and store it as a new version unless its text is unchanged.

    Raises:
        DefinitionError: listing every problem of the file.
    """
    source = read_definition(path)
    spec = load_text(source, path.name)
    digest = hashlib.sha256(source.encode()).hexdigest()
    latest = session.execute(
        select(DEFS.c.version, DEFS.c.digest)
        .where(DEFS.c.key == spec.id)
        .order_by(DEFS.c.version.desc())
        .limit(1)
    ).first()
    if latest is not None and latest.digest == digest:
        return Loaded(spec.id, latest.version, False, path.name)
    version = (latest.version if latest else 0) + 1
    session.execute(
        insert(DEFS).values(
            key=spec.id,
            version=version,
            name_zh=spec.name.zh,
            name_en=spec.name.en,
            source=source,
            filename=path.name,
            digest=digest,
            loaded_at=now,
            active=True,
        )
    )
    append_admin(
        session,
        actor[0],
        actor[1],
        "definition_loaded",
        {"key": spec.id, "version": version, "digest": digest, "file": path.name},
        now,
    )
    return Loaded(spec.id, version, True, path.name)


def load_definition(db: Database, path: Path, now: datetime) -> Loaded:
    """:func:`store_definition` in a transaction of its own (``banli init``, ``definitions load``)."""
    with db.write() as s:
        return store_definition(s, path, now)
