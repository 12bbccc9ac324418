"""What a run prints: the config tree first, each Lightning line once, the model's FLOPs, and
a table of the final metrics."""

from __future__ import annotations

import json
import logging

import pytest
import torch
from helpers import compose_config
from helpers.tiny_run import TINY, run_script
from lightning.pytorch.utilities.model_summary import ModelSummary
from torch.utils.flop_counter import FlopCounterMode

from posekit.engine.console import config_tree, print_metrics
from posekit.engine.tasks import route_lightning_logs_through_hydra
from posekit.models.checkpoint import build_model


def test_the_metrics_table_shows_each_metric_once_to_four_decimals(capsys):
    print_metrics({"val/AP": 0.71543, "val/PCK-AUC@0.5": 0.5, "val/boxes": "gt"}, "best")
    out = capsys.readouterr().out
    assert out.splitlines()[0] == "best"
    rows = [line for line in out.splitlines() if line.startswith("│")]
    cells = [[cell.strip() for cell in row.strip("│").split("│")] for row in rows]
    assert cells == [["val/AP", "0.7154"], ["val/PCK-AUC@0.5", "0.5000"], ["val/boxes", "gt"]]


def test_the_config_tree_has_a_branch_per_group_with_its_resolved_yaml(tmp_path, capsys):
    from rich.console import Console

    cfg = compose_config("train", ["seed=7"], tmp_path)
    Console(width=200).print(config_tree(cfg))
    out = capsys.readouterr().out
    branches = [line[4:] for line in out.splitlines() if line[:4] in ("├── ", "└── ")]
    assert branches[:6] == ["data", "model", "callbacks", "logger", "trainer", "paths"]
    assert "seed" in branches and "hydra" not in branches
    assert f"output_dir: {tmp_path}" in out  # resolved


def test_lightning_lines_reach_the_console_once(capfd):
    """Lightning's own console handlers and Hydra's root handler both printed every line."""
    import lightning.pytorch  # noqa: F401  (installs Lightning's handlers)

    root = logging.getLogger()
    handler = logging.StreamHandler()  # stands for Hydra's console handler (stderr)
    root.addHandler(handler)
    old_level = root.level
    root.setLevel(logging.INFO)
    try:
        route_lightning_logs_through_hydra()
        logging.getLogger("lightning.pytorch.utilities.rank_zero").info("seed set to 42")
        logging.getLogger("lightning.fabric.utilities.seed").info("fabric line")
    finally:
        root.removeHandler(handler)
        root.setLevel(old_level)
    err = capfd.readouterr().err
    assert err.count("seed set to 42") == 1 and err.count("fabric line") == 1


def test_the_model_summary_counts_the_flops_of_one_input(tmp_path):
    model = build_model(compose_config("train", TINY, tmp_path)).eval()
    assert tuple(model.example_input_array.shape) == (1, 3, 64, 48)  # data.input_size (W, H)
    with FlopCounterMode(display=False) as counter, torch.no_grad():
        model(torch.zeros(1, 3, 64, 48))
    assert ModelSummary(model).total_flops == counter.get_total_flops() > 0


@pytest.mark.slow
def test_train_prints_the_config_once_per_line_flops_and_the_metrics_table(tmp_path):
    result = run_script("train.py", *TINY, f"hydra.run.dir={tmp_path}")
    out = result.stdout + result.stderr
    assert result.stdout.startswith("CONFIG")
    assert "Total FLOPs: 0" not in out and "Total FLOPs:" in out
    seed_lines = [line for line in out.splitlines() if "Seed set to 42" in line]
    assert len(seed_lines) == 1, seed_lines
    metrics = json.loads((tmp_path / "metrics.json").read_text())
    assert -1.0 not in metrics.values()
    table = result.stdout[result.stdout.index("metrics of the best checkpoint"):]
    for name, value in metrics.items():
        shown = f"{value:.4f}" if isinstance(value, float) else value
        assert any(name in line and shown in line for line in table.splitlines()), name
