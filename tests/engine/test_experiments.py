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
from helpers.mixtures import halpe_mixture_overrides, source_overrides
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
# mixtures (conf/data/<name>.yaml, MixedDataModule) -> (target keypoint count, sources, validated)
MIXED = {
    "coco_aic": (17, ["coco", "aic"], ["coco"]),
    "coco_crowdpose_mpii": (17, ["coco", "crowdpose", "mpii"], ["coco"]),
    "halpe136_face_hand": (136, ["halpe", "face", "hand"], ["halpe", "face", "hand"]),
}
DATA.update({name: ("MixedDataModule", k) for name, (k, _, _) in MIXED.items()})
# (head, data set) -> (Adam lr, batch per GPU) where it differs from the HRNet/SimCC 1e-3, 32
RECIPE = {("heatmap", "crowdpose"): (5e-4, 64), ("heatmap", "aic"): (5e-4, 64)}


def parts(experiment: str) -> tuple[str, str]:
    """(head, data set) of ``<backbone>_<head>_<dataset>[_<HxW>]``."""
    stem = re.sub(r"_\d+x\d+$", "", experiment)
    dataset = max((name for name in DATA if stem.endswith(f"_{name}")), key=len)
    return stem[: -len(dataset) - 1].split("_")[-1], dataset


def data_overrides(dataset: str, fixtures_dir: Path, mpii_root: Path, tmp_path: Path) -> list[str]:
    if dataset == "halpe136_face_hand":
        return halpe_mixture_overrides(fixtures_dir, tmp_path)
    if dataset in MIXED:
        return [o for name in MIXED[dataset][1]
                for o in source_overrides(name, fixtures_dir, mpii_root)]
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
    detections = {"coco": ["data.val_det_file=test_coco_det_AP_H_56.json"],
                  "crowdpose": ["data.val_det_file=test_crowdpose_det_AP_40.json"]}.get(dataset, [])
    return [
        f"data.root={fixtures_dir / folder}",
        f"data.train_ann={ann}",
        f"data.val_ann={ann}",
        f"data.train_images={images}",
        f"data.val_images={images}",
        *detections,
    ]


def test_every_experiment_is_named_by_backbone_head_and_data_set():
    assert REAL_HRNET <= set(EXPERIMENTS)
    for dataset in set(DATA) - set(MIXED):
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
        # its flip shifts one bin (SHIFT_HEATMAP); its IN_VIS_THRE 0.01 suits softmax peaks
        assert cfg.model.codec.flip_shift == "one_bin"
        assert cfg.protocol.keypoint_score_threshold == 0.01
    else:
        assert cfg.model.codec._target_.endswith("MSRAHeatmapCodec")
        assert list(cfg.model.codec.heatmap_size) == [width // 4, height // 4]
        assert cfg.model.codec.sigma == 2.0
    lr, batch = RECIPE.get((head, dataset), (1e-3, 32))
    assert cfg.model.optimizer.lr == pytest.approx(lr) and cfg.data.batch_size == batch
    assert cfg.trainer.max_epochs == 210 and list(cfg.model.scheduler.milestones) == [170, 200]
    assert cfg.model.scheduler.gamma == 0.1 and cfg.model.flip_test
    assert cfg.data.monitor == ("val/PCKh" if dataset == "mpii" else "val/AP")
    # official HRNet / SimCC / mmpose evaluation: OKS-NMS on the padded crop area
    assert cfg.protocol.nms_area == "padded" and cfg.protocol.rescoring == "bbox_keypoint"
    assert cfg.data.get("use_det_boxes", False) == (
        experiment in ("hrnet_heatmap_coco", "hrnet_heatmap_crowdpose"))


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
        *data_overrides(dataset, fixtures_dir, mpii_root, tmp_path),
    ]
    cfg = compose_config("train", overrides, tmp_path)
    metrics = train(cfg)
    assert metrics["train/loss"] > 0
    # the published COCO recipes validate on the person detections, as their papers
    assert metrics["val/boxes"] == ("detections" if cfg.data.get("use_det_boxes") else "gt")
    assert (tmp_path / "metrics.json").is_file()
    if dataset in MIXED:  # each validated source's own metrics, under its name
        assert {f"val/{source}/PCK@0.05" for source in MIXED[dataset][2]} <= set(metrics)
        assert cfg.data.monitor in metrics


@pytest.mark.parametrize("dataset", sorted(MIXED))
def test_mixture_experiment_composes_to_the_simcc_recipe(dataset, tmp_path):
    cfg = compose_config("train", [f"experiment=hrnet_simcc_{dataset}"], tmp_path)
    assert cfg.data._target_.endswith(".MixedDataModule")
    assert instantiate(cfg.data.keypoints).num_keypoints == MIXED[dataset][0]
    _, sources, validated = MIXED[dataset]
    assert list(cfg.data.sources) == sources and list(cfg.data.val_sources) == validated
    assert cfg.data.monitor == f"val/{validated[0]}/AP"
    assert list(cfg.data.input_size) == [192, 256] and cfg.data.batch_size == 32
    assert cfg.model.backbone.name == "hrnet_w32" and cfg.trainer.max_epochs == 210
    assert (cfg.model.codec.split_ratio, cfg.model.codec.sigma) == (2.0, 6.0)


# the SimCC paper's low-resolution recipes (leeyegy/SimCC experiments/*/hrnet/*64x64*, *128x128*):
# experiment -> (input side, SimCC (split ratio, label smoothing) or heatmap sigma)
LOW_RES = {
    "hrnet_simcc_coco_64x64": (64, (3.0, 0.1)),
    "hrnet_simcc_coco_128x128": (128, (2.0, 0.2)),
    "hrnet_simcc_mpii_64x64": (64, (3.0, 0.2)),
    "hrnet_heatmap_coco_64x64": (64, 1.0),
    "hrnet_heatmap_coco_128x128": (128, 1.0),
    "hrnet_heatmap_mpii_64x64": (64, 1.0),
}


@pytest.mark.parametrize("experiment", sorted(LOW_RES))
def test_low_resolution_experiments_follow_the_official_configs(experiment, tmp_path):
    side, labels = LOW_RES[experiment]
    cfg = compose_config("train", [f"experiment={experiment}", "data.root=/data"], tmp_path)
    assert list(cfg.data.input_size) == [side, side] and cfg.model.backbone.name == "hrnet_w32"
    if "simcc" in experiment:
        assert (cfg.model.codec.split_ratio, cfg.model.codec.label_smoothing) == labels
        assert cfg.model.codec.label_type == "onehot"
    else:
        assert cfg.model.codec.sigma == labels
        assert list(cfg.model.codec.heatmap_size) == [side // 4, side // 4]
    assert cfg.trainer.max_epochs == 210 and cfg.model.optimizer.lr == pytest.approx(1e-3)


def test_rtmpose_experiment_follows_mmpose_config(tmp_path):
    """rtmpose-m_8xb256-420e_coco-256x192.py, value by value."""
    cfg = compose_config("train", ["experiment=cspnext_rtmcc_coco", "data.root=/data"], tmp_path)
    assert cfg.model.backbone.name == "cspnext_m" and cfg.model.backbone.out_stride == 32
    assert cfg.model.backbone.pretrained
    assert list(cfg.data.input_size) == [192, 256] and cfg.data.batch_size == 256
    codec, loss, head = cfg.model.codec, cfg.model.loss, cfg.model.head
    assert list(codec.sigma) == [4.9, 5.66] and codec.split_ratio == 2.0 and not codec.normalize
    assert loss.beta == 10.0 and loss.label_softmax
    assert (head.final_kernel, head.hidden_dims, head.s, head.act_fn) == (7, 256, 128, "SiLU")
    assert cfg.model.optimizer._target_ == "posekit.models.optim.paramwise_adamw"
    assert (cfg.model.optimizer.norm_decay_mult, cfg.model.optimizer.bias_decay_mult) == (0, 0)
    assert cfg.model.optimizer.lr == 4e-3 and cfg.model.optimizer.weight_decay == 0.05
    assert cfg.trainer.max_epochs == 420 and cfg.model.scheduler.flat_epochs == 210
    assert (cfg.model.scheduler.warmup_iters, cfg.model.scheduler.eta_min_ratio) == (1000, 0.05)
    switch = cfg.callbacks.augmentation_switch
    assert switch.epoch == 390 and switch.settings.augmentation.scale_factor == 0.25
    assert cfg.data.augmentation.scale_factor == 0.4 and "ema" in cfg.callbacks
    # mmpose's evaluation: raw maxima, -1 where <= 0, no flip correction, detections, padded NMS
    assert (codec.score_rule, codec.nonpositive_keypoints, codec.flip_shift) == (
        "raw", "minus_one", "none")
    assert cfg.data.use_det_boxes and cfg.protocol.nms_area == "padded"
    assert (cfg.published.metric, cfg.published.value) == ("val/AP", 0.746)


@pytest.mark.parametrize("dataset", ["coco", "halpe136"])
def test_alphapose_lite_experiments_follow_the_alphapose_recipe(dataset, tmp_path):
    cfg = compose_config("train", [f"experiment=mobilenetv3_fastpose_{dataset}", "data.root=/d"],
                         tmp_path)
    backbone = cfg.model.backbone
    assert backbone.name == "mobilenetv3_large_100" and backbone.out_stride == 32
    assert backbone.pretrained
    assert cfg.model.head._target_.endswith("FastPoseHead")
    assert list(cfg.data.input_size) == [192, 256]
    assert list(cfg.model.codec.heatmap_size) == [48, 64]
    assert cfg.model.codec.sigma == 2.0 and cfg.model.optimizer.lr == pytest.approx(1e-3)
    assert cfg.trainer.max_epochs == 270 and list(cfg.model.scheduler.milestones) == [170, 200]
    aug = cfg.data.augmentation
    assert (aug.rotation_factor, aug.scale_factor, aug.half_body_prob) == (45.0, 0.35, 0.3)
    assert aug.half_body_min_keypoints == 8 and aug.flip_prob == 0.5
    assert cfg.data.batch_size == 32  # halpe_136/resnet/256x192_res50_lr1e-3_2x.yaml: 32 (48: regression)
