"""Shared helpers for the benchmarks: a fresh SQLite file database, statement counting, output.

``setup`` mirrors ``tests/conftest.setup_engine`` (schema, shipped definitions, demo organisation)
but is kept here so the benchmarks do not depend on the test suite's fixtures or on pytest.
"""

from __future__ import annotations

import statistics
import sys
from collections import Counter, defaultdict
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parent.parent
if str(ROOT) not in sys.path:
    sys.path.insert(0, str(ROOT))

from sqlalchemy import event, select  # noqa: E402

from workflow.demo_org import seed_organisation  # noqa: E402
from workflow.engine import Engine  # noqa: E402
from workflow.engine.registry import store_definition  # noqa: E402
from workflow.heap import settle  # noqa: E402
from workflow.store.db import Database  # noqa: E402
from workflow.store.models import DefinitionVersion  # noqa: E402

DEFINITIONS = sorted((ROOT / "definitions").glob("*.yaml"))

#: A contract below 500,000 yuan: leader_review goes straight on to sealing.
CONTRACT = {
    "title": "办公楼空调维保服务合同",
    "counterparty": "上海申能机电有限公司",
    "amount": "120000",
    "contract_type": "service",
    "summary": "空调维保服务一年",
}


@dataclass
class Setup:
    db: Database
    engine: Engine
    people: dict[str, int]
    contract_version: int


def setup(path: Path, **db_kwargs: Any) -> Setup:
    """A new SQLite file database (WAL) at ``path`` with schema, definitions and demo people;
    ``path`` may also be a database URL (``postgresql+psycopg://…``, an empty schema)."""
    url = str(path) if "://" in str(path) else f"sqlite:///{path}"
    db = Database(url, **db_kwargs)
    db.create_all()
    engine = Engine(db)
    with db.write() as s:
        people = seed_organisation(s)
        for p in DEFINITIONS:
            store_definition(s, p, engine.clock())
        vid = s.scalar(
            select(DefinitionVersion.id).where(DefinitionVersion.key == "contract_review")
        )
    settle()  # as the web app and the worker do once loaded (workflow.heap)
    return Setup(db, engine, people, vid)


# --- counting statements -------------------------------------------------------------------------


@dataclass
class StatementLog:
    """Statements seen by ``before_cursor_execute``, grouped by the label of the current action."""

    label: str = "?"
    by_label: dict[str, list[list[str]]] = field(default_factory=lambda: defaultdict(list))

    def begin(self, label: str) -> None:
        self.label = label
        self.by_label[label].append([])

    def record(self, sql: str) -> None:
        runs = self.by_label[self.label]
        if not runs:  # statements before the first ``begin``
            runs.append([])
        runs[-1].append(" ".join(sql.split()))

    def mean(self, label: str) -> float:
        return statistics.mean(len(x) for x in self.by_label[label])

    def kinds(self, label: str) -> Counter[str]:
        c: Counter[str] = Counter()
        for stmts in self.by_label[label]:
            c.update(s.split(" ", 1)[0].upper() for s in stmts)
        n = len(self.by_label[label])
        return Counter({k: v / n for k, v in c.items()})


@contextmanager
def counting(db: Database) -> Iterator[StatementLog]:
    """Log every statement sent to the driver while inside the block (BEGIN included; the
    COMMIT the driver issues on ``connection.commit()`` is not a cursor execute and is not seen)."""
    log = StatementLog()

    def listener(conn: Any, cursor: Any, statement: str, *args: Any) -> None:
        log.record(statement)

    event.listen(db.engine, "before_cursor_execute", listener)
    try:
        yield log
    finally:
        event.remove(db.engine, "before_cursor_execute", listener)


def print_counts(log: StatementLog, labels: list[str], title: str) -> None:
    print(f"  {title}: SQL statements per action (BEGIN counted, COMMIT not)")
    print(f"    {'action':<34}{'total':>6}  {'SELECT':>6}{'INSERT':>7}{'UPDATE':>7}{'other':>6}")
    for label in labels:
        k = log.kinds(label)
        other = sum(v for key, v in k.items() if key not in ("SELECT", "INSERT", "UPDATE"))
        print(
            f"    {label:<34}{log.mean(label):>6.1f}  {k['SELECT']:>6.1f}{k['INSERT']:>7.1f}"
            f"{k['UPDATE']:>7.1f}{other:>6.1f}"
        )


def print_statements(log: StatementLog, labels: list[str], width: int = 150) -> None:
    """Each action kind's statements (from its first occurrence), shortened to ``width``."""
    for label in labels:
        print(f"    -- {label}")
        for sql in log.by_label[label][0]:
            print(f"       {sql[:width]}{' …' if len(sql) > width else ''}")


# --- output --------------------------------------------------------------------------------------


def header(title: str) -> None:
    print()
    print("=" * 100)
    print(title)
    print("=" * 100)


def target(ok: bool, what: str) -> str:
    return f"TARGET {'met' if ok else 'missed'} ({what})"


def percentile(values: list[float], q: float) -> float:
    s = sorted(values)
    return s[min(len(s) - 1, round(q * (len(s) - 1)))]


# --- results as JSON -----------------------------------------------------------------------------

#: Figures recorded during this run, by benchmark name; ``write_results`` puts them in one file.
RESULTS: dict[str, dict[str, Any]] = {}
RESULTS_DIR = ROOT / "bench" / "results"


def fig(value: float, unit: str, target: str | None = None, met: bool | None = None) -> dict:
    """One figure for ``record``: its value and unit, and the target it is held to, if any."""
    out: dict[str, Any] = {"value": round(value, 4) if isinstance(value, float) else value}
    out["unit"] = unit
    if target is not None:
        out["target"] = target
        out["met"] = bool(met)
    return out


def record(name: str, figures: dict[str, Any]) -> None:
    """Keep a benchmark's figures (plain numbers or ``fig(...)`` dicts) for this run's JSON file;
    a second call for the same name adds to the first."""
    RESULTS.setdefault(name, {}).update(figures)


def git_commit() -> str:
    import subprocess

    try:
        out = subprocess.run(
            ["git", "rev-parse", "HEAD"], cwd=ROOT, capture_output=True, text=True, timeout=10
        )
        dirty = subprocess.run(
            ["git", "status", "--porcelain", "--untracked-files=no"],
            cwd=ROOT,
            capture_output=True,
            text=True,
            timeout=10,
        )
    except (OSError, subprocess.SubprocessError):
        return "unknown"
    commit = out.stdout.strip() or "unknown"
    return commit + ("-dirty" if dirty.stdout.strip() else "")


def write_results(meta: dict[str, Any], directory: Path | None = None) -> Path:
    """Write this run's figures as ``bench/results/<UTC timestamp>-<commit>.json``."""
    import json
    from datetime import UTC, datetime

    now = datetime.now(UTC)
    commit = git_commit()
    payload = {
        "timestamp": now.isoformat(timespec="seconds"),
        "commit": commit,
        **meta,
        "benchmarks": RESULTS,
    }
    d = directory or RESULTS_DIR
    d.mkdir(parents=True, exist_ok=True)
    path = d / f"{now:%Y%m%dT%H%M%SZ}-{commit[:10]}.json"
    path.write_text(json.dumps(payload, ensure_ascii=False, indent=2) + "\n", encoding="utf-8")
    return path
