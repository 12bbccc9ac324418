"""Analysis of trained checkpoints, for notebooks: load a run, predict, tabulate, plot, compare.

>>> from posekit import analysis as pa
>>> run = pa.load_run("logs/train/runs/<run>")          # "" or None: the newest run
>>> predictions = pa.predict_dataset(run.model, run.datamodule)
>>> pa.per_keypoint_table(predictions, run.spec)
>>> pa.plot_worst_cases(predictions, pa.worst_cases(predictions, run.spec, n=8), run.spec)
>>> pa.compare_runs(["logs/train/multiruns/<sweep>"]).plot()
"""

from posekit.analysis.compare import Comparison, compare_runs
from posekit.analysis.figures import (
    plot_comparison,
    plot_error_distribution,
    plot_head_outputs,
    plot_heatmaps,
    plot_simcc,
    plot_worst_cases,
)
from posekit.analysis.keypoint_stats import (
    error_distribution,
    keypoint_similarity,
    normalised_errors,
    pck_curve,
    per_keypoint_table,
    sample_oks,
    worst_cases,
)
from posekit.analysis.loading import (
    Run,
    default_run,
    find_repo_root,
    load_run,
    resolve_path,
)
from posekit.analysis.predict import (
    Predictions,
    SampleOutputs,
    evaluate_predictions,
    predict_dataset,
)

__all__ = [
    "Comparison",
    "Predictions",
    "Run",
    "SampleOutputs",
    "compare_runs",
    "default_run",
    "error_distribution",
    "evaluate_predictions",
    "find_repo_root",
    "keypoint_similarity",
    "load_run",
    "normalised_errors",
    "pck_curve",
    "per_keypoint_table",
    "plot_comparison",
    "plot_error_distribution",
    "plot_head_outputs",
    "plot_heatmaps",
    "plot_simcc",
    "plot_worst_cases",
    "predict_dataset",
    "resolve_path",
    "sample_oks",
    "worst_cases",
]
