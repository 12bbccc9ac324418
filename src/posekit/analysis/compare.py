"""Compare runs: one table of what each run is and how it scores, and PCK-against-alpha curves."""

from __future__ import annotations

import json
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Sequence

import pandas as pd
from matplotlib.figure import Figure

from posekit.analysis.figures import plot_comparison
from posekit.analysis.keypoint_stats import pck_curve
from posekit.analysis.loading import load_run, resolve_path
from posekit.analysis.predict import evaluate_predictions, predict_dataset
from posekit.runs.comparison import comparison_frame
from posekit.runs.folders import describe_run, expand_runs, run_labels


@dataclass
class Comparison:
    """``table``: one row per run (description, ``source`` of the metrics, the metrics);
    ``curves``: PCK (rows: alpha 0 to 0.5) per recomputed run (columns), or None."""

    table: pd.DataFrame
    curves: pd.DataFrame | None

    def plot(self) -> Figure:
        """Bars of the main metrics and PCK against alpha (see :func:`plot_comparison`)."""
        return plot_comparison(self.table, self.curves)


def compare_runs(
    runs: Sequence[str | Path],
    recompute: bool = False,
    data_root: str | Path | None = None,
    trusted_modules: Sequence[str] = (),
    **data_overrides: Any,
) -> Comparison:
    """Compare run folders; sweep folders stand for their jobs, checkpoints for their runs.

    Metrics come from each run's ``metrics.json``; with ``recompute`` (or where a run has no
    ``metrics.json``) the run's best checkpoint is evaluated again on its data (``data_root``
    ``trusted_modules`` and ``data_overrides`` as in :func:`load_run`), which also gives its PCK
    curve. A run folder's ``.hydra`` files are read as data: nothing in them is resolved.
    """
    run_dirs = expand_runs([resolve_path(r) for r in runs])
    rows: list[dict[str, Any]] = []
    curves: dict[str, pd.Series] = {}
    for label, run_dir in zip(run_labels(run_dirs), run_dirs):
        metrics_file = run_dir / "metrics.json"
        if recompute or not metrics_file.is_file():
            run = load_run(run_dir, data_root, trusted_modules, **data_overrides)
            predictions = predict_dataset(run.model, run.datamodule)
            metrics, source = evaluate_predictions(predictions, run.datamodule), "recomputed"
            curves[label] = pck_curve(predictions)
        else:
            metrics, source = json.loads(metrics_file.read_text()), "metrics.json"
        rows.append({"run": label, **describe_run(run_dir), "source": source, **metrics})
    return Comparison(comparison_frame(rows), pd.DataFrame(curves) if curves else None)
