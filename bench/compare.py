"""Compare two benchmark runs: ``python bench/compare.py A.json B.json``.

Prints every figure the two files share, side by side, with the ratio B/A, and which targets each
met. Figures only one file has are listed at the end. Nothing else is read or written.
"""

from __future__ import annotations

import json
import sys
from pathlib import Path
from typing import Any


def flatten(run: dict[str, Any]) -> dict[str, dict[str, Any]]:
    """``{"bench.figure": {"value": …, "unit": …, "met": …}}`` for one results file."""
    out: dict[str, dict[str, Any]] = {}
    for bench, figures in run.get("benchmarks", {}).items():
        for name, f in figures.items():
            out[f"{bench}.{name}"] = f if isinstance(f, dict) else {"value": f}
    return out


def _met(f: dict[str, Any]) -> str:
    return "" if "met" not in f else ("met" if f["met"] else "MISSED")


def compare(a: dict[str, Any], b: dict[str, Any]) -> list[str]:
    fa, fb = flatten(a), flatten(b)
    lines = [
        f"A: {a.get('timestamp')}  {a.get('commit')}  {a.get('machine', {}).get('line', '')}",
        f"B: {b.get('timestamp')}  {b.get('commit')}  {b.get('machine', {}).get('line', '')}",
        "",
        f"{'figure':<48}{'A':>14}{'B':>14}{'B/A':>8}  unit        A met / B met",
    ]
    for key in sorted(fa.keys() & fb.keys()):
        va, vb = fa[key].get("value"), fb[key].get("value")
        if isinstance(va, (int, float)) and isinstance(vb, (int, float)):
            ratio = f"{vb / va:8.2f}" if va else f"{'–':>8}"
            lines.append(
                f"{key:<48}{va:>14.4g}{vb:>14.4g}{ratio}  {fa[key].get('unit', ''):<12}"
                f"{_met(fa[key]):>6} / {_met(fb[key])}"
            )
    only = sorted(fa.keys() ^ fb.keys())
    if only:
        lines.append("")
        lines.append("only in one run: " + ", ".join(only))
    return lines


def main(argv: list[str] | None = None) -> int:
    args = sys.argv[1:] if argv is None else argv
    if len(args) != 2:
        print(__doc__.split("\n", 1)[0], file=sys.stderr)
        return 2
    a, b = (json.loads(Path(p).read_text(encoding="utf-8")) for p in args)
    print("\n".join(compare(a, b)))
    return 0


if __name__ == "__main__":
    sys.exit(main())
