"""scripts/benchmark.py runs end to end and reports a positive figure in every row."""

from __future__ import annotations

import importlib.util
import json
import sys
from pathlib import Path

from helpers import REPO

SCRIPT = REPO / "scripts" / "benchmark.py"


def test_benchmark_reports_positive_figures(tmp_path: Path, capsys, monkeypatch) -> None:
    spec = importlib.util.spec_from_file_location("benchmark", SCRIPT)
    benchmark = importlib.util.module_from_spec(spec)
    monkeypatch.setitem(sys.modules, "benchmark", benchmark)  # dataclasses look it up
    spec.loader.exec_module(benchmark)
    out = tmp_path / "figures.json"
    benchmark.main(["--seconds", "0.5", "--workers", "0", "--steps", "2", "--json", str(out)])

    result = json.loads(out.read_text())
    groups = {row["group"] for row in result["rows"]}
    assert groups == {"data loading", "decode vs data path", "training step"}
    assert len(result["rows"]) == 2 + 3 + (5 if result["machine"]["cuda"] else 1)
    for row in result["rows"]:
        assert row["rate"] > 0, row
        assert row["per_worker"] is None or row["per_worker"] > 0, row
    assert result["machine"]["model_parameters"] > 0
    printed = capsys.readouterr().out
    assert "256x192, main process" in printed and "cv2.imread only" in printed
