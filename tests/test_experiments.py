"""Every experiment config composes and trains for one step (tiny input, no pretrained weights)."""

from pathlib import Path

import pytest

from helpers import CONF, compose_config
from posekit.pipeline import train

EXPERIMENTS = sorted(p.stem for p in (CONF / "experiment").glob("*.yaml"))
# tiny inputs (W, H) and the matching stride-4 heatmap sizes
TINY = {"mpii": ([64, 64], [16, 16]), "coco": ([64, 96], [16, 24])}


def data_overrides(dataset: str, fixtures_dir: Path, mpii_root: Path) -> list[str]:
    if dataset == "mpii":
        return [f"data.root={mpii_root}"]
    coco = fixtures_dir / "coco"
    return [
        f"data.root={coco}",
        "data.train_ann=test_coco.json",
        "data.val_ann=test_coco.json",
        "data.train_images=.",
        "data.val_images=.",
    ]


def test_every_experiment_is_tested():
    assert {"hrnet_simcc_mpii", "hrnet_heatmap_mpii", "hrnet_simcc_coco", "hrnet_heatmap_coco"} <= set(
        EXPERIMENTS
    )


@pytest.mark.parametrize("experiment", EXPERIMENTS)
def test_experiment_runs_one_step(experiment, fixtures_dir, mpii_root, tmp_path):
    dataset = experiment.split("_")[2]
    input_size, heatmap_size = TINY[dataset]
    overrides = [
        f"experiment={experiment}",
        "debug=fast_dev_run",
        "model.backbone.pretrained=false",
        f"data.input_size=[{input_size[0]},{input_size[1]}]",
        "data.batch_size=2",
        "data.val_batch_size=2",
        "logger=csv",
        *data_overrides(dataset, fixtures_dir, mpii_root),
    ]
    if "heatmap" in experiment:
        overrides.append(f"model.codec.heatmap_size=[{heatmap_size[0]},{heatmap_size[1]}]")
    cfg = compose_config("train", overrides, tmp_path)
    assert cfg.model.backbone.name == "hrnet_w32"
    assert cfg.trainer.max_epochs == 210 and list(cfg.model.scheduler.milestones) == [170, 200]
    metrics = train(cfg)
    assert metrics["train/loss"] > 0
    assert (tmp_path / "metrics.json").is_file()
