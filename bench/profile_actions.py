"""Benchmark 4: where an engine action's time goes — cProfile over the actions benchmark.

Runs the contract review (see ``flows``) through the engine on a SQLite file database, warms up,
then profiles whole flows for a few seconds and prints the top entries by cumulative time (and,
for the Python overhead, by own time). Profiling slows Python down, so absolute figures here are
higher than in benchmark 1; read them as shares.
"""

from __future__ import annotations

import cProfile
import io
import pstats
import re
import tempfile
import time
from pathlib import Path

from common import ROOT, fig, header, record, setup
from flows import ACTIONS_PER_FLOW, engine_flow


def _short_paths(text: str) -> str:
    """Paths relative to the repository or to site-packages (``transitions/core.py`` and
    ``workflow/engine/core.py`` stay distinguishable, unlike with ``strip_dirs``)."""
    text = re.sub(r"\S*/site-packages/", "", text)
    text = re.sub(r"\S*/lib/python3\.\d+/", "", text)
    return text.replace(f"{ROOT}/", "")


AREAS = (
    ("sqlite3 (C: execute, fetch, commit)", lambda f, n: f == "~" and "sqlite3" in n),
    (
        "hashlib / json (audit chain, JSON columns)",
        lambda f, n: "json/" in f or "hashlib" in n or "_json" in n,
    ),
    (
        "sqlalchemy/sql (statement building, cache keys, compiling)",
        lambda f, n: "sqlalchemy/sql/" in f,
    ),
    ("sqlalchemy/engine (execution, results)", lambda f, n: "sqlalchemy/engine/" in f),
    ("sqlalchemy/orm (Session, transactions)", lambda f, n: "sqlalchemy/orm/" in f),
    ("sqlalchemy (other: util, event, pool, dialects)", lambda f, n: "sqlalchemy/" in f),
    ("transitions (the state machine)", lambda f, n: "transitions/" in f),
    ("workflow (Banli's own code)", lambda f, n: "workflow/" in f),
)


def areas(prof: cProfile.Profile) -> list[tuple[str, float]]:
    """Own time summed by library: where the time goes, without the call tree."""
    raw = pstats.Stats(prof).stats  # type: ignore[attr-defined]
    totals: dict[str, float] = {}
    for (filename, _line, name), (_cc, _nc, tt, _ct, _callers) in raw.items():
        area = next((a for a, match in AREAS if match(filename, name)), "other (stdlib, builtins)")
        totals[area] = totals.get(area, 0.0) + tt
    return sorted(totals.items(), key=lambda kv: -kv[1])


def run(quick: bool = False, top: int = 25) -> None:
    seconds = 1.0 if quick else 3.0
    header(f"4. cProfile of the engine's actions (~{seconds:g} s of whole contract reviews)")
    with tempfile.TemporaryDirectory(prefix="banli-bench-") as tmp:
        st = setup(Path(tmp) / "profile.db")
        for _ in range(10):
            engine_flow(st.engine, st.people)
        prof = cProfile.Profile()
        flows = 0
        deadline = time.perf_counter() + seconds
        prof.enable()
        while time.perf_counter() < deadline:
            engine_flow(st.engine, st.people)
            flows += 1
        prof.disable()
        st.db.dispose()
    actions = flows * ACTIONS_PER_FLOW
    print(f"  profiled {flows} flows = {actions} actions")
    spread = areas(prof)
    total = sum(t for _, t in spread)
    print(f"\n  own time by area ({total / actions * 1e6:.0f} µs per action under the profiler):")
    for area, t in spread:
        print(f"    {area:<62}{t / total:6.1%}  {t / actions * 1e6:7.0f} µs/action")
    record(
        "profile",
        {
            "actions": actions,
            "us_per_action_profiled": fig(total / actions * 1e6, "µs"),
            **{
                "share_" + area.split(" (")[0].replace("/", "_").replace(" ", "_"): fig(
                    t / total, "share"
                )
                for area, t in spread
            },
        },
    )
    for key, n in (("cumulative", top), ("tottime", 20)):
        out = io.StringIO()
        stats = pstats.Stats(prof, stream=out).sort_stats(key)
        stats.print_stats(n)
        text = _short_paths(out.getvalue())
        body = text[text.index("   ncalls") :] if "   ncalls" in text else text
        print(f"\n  top {n} by {key} time:")
        for line in body.rstrip().splitlines():
            print(f"  {line}")
