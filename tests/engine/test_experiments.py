"""Every experiment config composes to its recipe and trains for one step.

Composition checks the full-size recipe (data module, keypoints, input size, codec, schedule).
The one-step runs use the fixtures at tiny inputs without pretrained weights: the four COCO and
MPII recipes with their real HRNet-W32, the others with timm's hrnet_w18_small (same code path,
a tenth of the time). OCHuman has no training split: its run trains on the COCO fixture, a smoke
test of the evaluation-only recipe.
"""

import re
from pathlib import Path

import pytest
from helpers import CONF, compose_config
from hydra.utils import instantiate

from posekit.engine.tasks import train

EXPERIMENTS = sorted(p.stem for p in (CONF / "experiment").glob("*.yaml"))
# the HRNet-W32 SimCC / heatmap recipes on every data set, checked value by value below
HRNET_EXPERIMENTS = [e for e in EXPERIMENTS if re.fullmatch(r"hrnet_(simcc|heatmap)_[a-z0-9]+", e)]
REAL_HRNET = {"hrnet_simcc_mpii", "hrnet_heatmap_mpii", "hrnet_simcc_coco", "hrnet_heatmap_coco"}
# data set -> (DataModule class, keypoint count)
DATA = {
    "coco": ("CocoDataModule", 17),
    "mpii": ("MpiiDataModule", 16),
    "crowdpose": ("CocoDataModule", 14),
    "aic": ("CocoDataModule", 14),
    "ochuman": ("CocoDataModule", 17),
    "halpe26": ("CocoDataModule", 26),
    "halpe136": ("CocoDataModule", 136),
}
# (head, data set) -> (Adam lr, batch per GPU) where it differs from the HRNet/SimCC 1e-3, 32
RECIPE = {("heatmap", "crowdpose"): (5e-4, 64), ("heatmap", "aic"): (5e-4, 64)}


def parts(experiment: str) -> tuple[str, str]:
    """(head, data set) of ``<backbone>_<head>_<dataset>[_<HxW>]``."""
    names = experiment.split("_")
    dataset = next(name for name in reversed(names) if name in DATA)
    return names[names.index(dataset) - 1], dataset


def data_overrides(dataset: str, fixtures_dir: Path, mpii_root: Path) -> list[str]:
    if dataset == "mpii":
        return [f"data.root={mpii_root}"]
    folder, ann, images = {
        "coco": ("coco", "test_coco.json", "."),
        "ochuman": ("coco", "test_coco.json", "."),
        "crowdpose": ("crowdpose", "test_crowdpose.json", "."),
        "aic": ("aic", "test_aic.json", "."),
        "halpe26": (".", "halpe/test_halpe.json", "coco"),
        "halpe136": (".", "halpe/test_halpe.json", "coco"),
    }[dataset]
    return [
        f"data.root={fixtures_dir / folder}",
        f"data.train_ann={ann}",
        f"data.val_ann={ann}",
        f"data.train_images={images}",
        f"data.val_images={images}",
    ]


def test_every_experiment_is_named_by_backbone_head_and_data_set():
    assert REAL_HRNET <= set(EXPERIMENTS)
    for dataset in DATA:
        for head in ("simcc", "heatmap"):
            assert f"hrnet_{head}_{dataset}" in EXPERIMENTS
    for experiment in EXPERIMENTS:
        assert re.fullmatch(r"[a-z0-9]+(_[a-z0-9]+)*_(" + "|".join(DATA) + r")(_\d+x\d+)?",
                            experiment), experiment


@pytest.mark.parametrize("experiment", HRNET_EXPERIMENTS)
def test_experiment_composes_to_its_recipe(experiment, tmp_path):
    head, dataset = parts(experiment)
    cfg = compose_config("train", [f"experiment={experiment}", "data.root=/data"], tmp_path)
    module, num_keypoints = DATA[dataset]
    assert cfg.data._target_.endswith(f".{module}")
    assert instantiate(cfg.data.keypoints).num_keypoints == num_keypoints
    width, height = [256, 256] if dataset == "mpii" else [192, 256]
    assert list(cfg.data.input_size) == [width, height]
    assert cfg.model.backbone.name == "hrnet_w32" and cfg.model.backbone.pretrained
    if head == "simcc":
        assert cfg.model.codec._target_.endswith("SimCCCodec")
        assert (cfg.model.codec.split_ratio, cfg.model.codec.sigma) == (2.0, 6.0)
        assert cfg.model.codec.label_type == "gaussian" and cfg.model.loss._target_.endswith("KLDiscretLoss")
        # official SimDR* (validate_sa_simdr): min of the two peaks, flip test on raw outputs
        assert (cfg.model.codec.score_rule, cfg.model.codec.flip_average_of) == ("min", "logits")
    else:
        assert cfg.model.codec._target_.endswith("MSRAHeatmapCodec")
        assert list(cfg.model.codec.heatmap_size) == [width // 4, height // 4]
        assert cfg.model.codec.sigma == 2.0
    lr, batch = RECIPE.get((head, dataset), (1e-3, 32))
    assert cfg.model.optimizer.lr == pytest.approx(lr) and cfg.data.batch_size == batch
    assert cfg.trainer.max_epochs == 210 and list(cfg.model.scheduler.milestones) == [170, 200]
    assert cfg.model.scheduler.gamma == 0.1 and cfg.model.flip_test
    assert cfg.data.monitor == ("val/PCKh" if dataset == "mpii" else "val/AP")


@pytest.mark.parametrize("experiment", EXPERIMENTS)
def test_experiment_trains_one_step(experiment, fixtures_dir, mpii_root, tmp_path):
    head, dataset = parts(experiment)
    if experiment in REAL_HRNET:
        input_size = [64, 64] if dataset == "mpii" else [64, 96]
        backbone = []
    elif compose_config("train", [f"experiment={experiment}"], tmp_path).model.backbone.get(
        "name", ""
    ).startswith("hrnet"):
        input_size, backbone = [64, 64], ["model.backbone.name=hrnet_w18_small"]
    else:  # other backbones run as the experiment names them, untrained, on a small input
        input_size, backbone = [64, 64], []
    overrides = [
        f"experiment={experiment}",
        "debug=fast_dev_run",
        "model.backbone.pretrained=false",
        *backbone,
        f"data.input_size=[{input_size[0]},{input_size[1]}]",
        "data.batch_size=2",
        "data.val_batch_size=2",
        "logger=csv",
        *data_overrides(dataset, fixtures_dir, mpii_root),
    ]
    cfg = compose_config("train", overrides, tmp_path)
    metrics = train(cfg)
    assert metrics["train/loss"] > 0
    assert metrics["val/boxes"] == "gt"
    assert (tmp_path / "metrics.json").is_file()
