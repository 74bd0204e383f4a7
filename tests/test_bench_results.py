"""The benchmarks' JSON results (bench/common.record, write_results) and bench/compare.py."""

from __future__ import annotations

import json
from pathlib import Path

BENCH = Path(__file__).resolve().parents[1] / "bench"


def test_a_run_is_written_as_json_and_two_runs_compare(tmp_path, monkeypatch):
    monkeypatch.syspath_prepend(str(BENCH))
    import common
    import compare

    monkeypatch.setattr(common, "RESULTS", {})
    common.record("actions", {"rate": common.fig(1500.0, "actions/s", "≥ 3000", False)})
    common.record("actions", {"statements": 12})
    first = common.write_results({"machine": {"line": "calibration"}}, tmp_path)
    data = json.loads(first.read_text(encoding="utf-8"))
    assert data["machine"]["line"] == "calibration"
    assert data["commit"] and data["timestamp"]
    rate = data["benchmarks"]["actions"]["rate"]
    assert rate == {"value": 1500.0, "unit": "actions/s", "target": "≥ 3000", "met": False}
    assert data["benchmarks"]["actions"]["statements"] == 12
    later = dict(data, benchmarks={"actions": {"rate": dict(rate, value=3000.0, met=True)}})
    lines = compare.compare(data, later)
    row = next(line for line in lines if line.startswith("actions.rate"))
    assert "2.00" in row and "MISSED / met" in row
    assert any("actions.statements" in line for line in lines)  # only in one run
