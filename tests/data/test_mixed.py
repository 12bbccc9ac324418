"""The mixed DataModule on the real fixtures: mapped samples, per-source metrics, bad input."""

from __future__ import annotations

import json
import re

import pytest
import torch
from helpers import compose_config
from helpers.mixtures import source_overrides, truth_with_error
from hydra.utils import instantiate
from omegaconf import open_dict

from posekit.data.mixed import MixedDataModule
from posekit.metrics import SourceMetric

TINY = ["data.input_size=[48,64]", "data.num_workers=0", "data.batch_size=4",
        "data.val_batch_size=3", "model/backbone=resnet18_s8"]
BODY = ["coco", "crowdpose", "mpii"]


@pytest.fixture
def body_overrides(fixtures_dir, mpii_root):
    overrides = ["data=coco_crowdpose_mpii", *TINY]
    for name in BODY:
        overrides += source_overrides(name, fixtures_dir, mpii_root)
    return overrides


def single_set(name: str, fixtures_dir, mpii_root, tmp_path, *extra: str):
    """The single-set DataModule of ``conf/data/<name>.yaml`` on its fixture."""
    overrides = [f"data={name}", *TINY, *extra]
    overrides += [o.replace(f"data.sources.{name}.", "data.")
                  for o in source_overrides(name, fixtures_dir, mpii_root)]
    return instantiate(compose_config("train", overrides, tmp_path).data)


@pytest.mark.parametrize("name", BODY)
def test_a_mapped_keypoint_lands_where_it_is_in_its_source(
    name, body_overrides, fixtures_dir, mpii_root, tmp_path
):
    """Unaugmented training crops of the mixture equal the single set's crop for crop, and each
    mapped keypoint sits at its source keypoint's crop and image position (MPII: its own box
    from centre/scale with padding 1.0)."""
    no_jitter = [f"data.sources.{n}.augmentation=null" for n in BODY]
    mixed = instantiate(compose_config("train", body_overrides + no_jitter, tmp_path).data)
    mixed.setup("fit")
    single = single_set(name, fixtures_dir, mpii_root, tmp_path, "data.augmentation=null")
    single.setup("fit")
    dataset = mixed.train_set.datasets[mixed.train_names.index(name)]
    mapping = mixed.mappings[name]
    assert len(dataset) == len(single.train_set) > 0
    for i in range(min(3, len(dataset))):
        ours, theirs = dataset[i], single.train_set[i]
        assert torch.equal(ours["image"], theirs["image"])
        assert torch.equal(ours["center"], theirs["center"])
        for target, source in enumerate(mapping.target_from_source.tolist()):
            if source < 0:  # no made-up label: unlabelled, weight 0
                assert ours["keypoint_weights"][target] == 0
                assert ours["gt_keypoints"][target].tolist() == [0, 0, 0]
                continue
            assert torch.equal(ours["gt_keypoints"][target], theirs["gt_keypoints"][source])
            assert torch.allclose(ours["keypoints"][target], theirs["keypoints"][source])
            assert ours["keypoint_visible"][target] == theirs["keypoint_visible"][source]


@pytest.fixture
def aic_crowdpose(fixtures_dir, mpii_root, tmp_path):
    """AIC-14 from AIC (by name) and CrowdPose (explicit map), both validated; and the two
    single-set DataModules."""
    aic = single_set("aic", fixtures_dir, mpii_root, tmp_path)
    crowdpose = single_set("crowdpose", fixtures_dir, mpii_root, tmp_path)
    crowd_map = {n: n for n in crowdpose.spec.names[:12]}
    crowd_map.update(top_head="head_top", neck="neck")
    mixed = MixedDataModule(
        sources={"aic": aic, "crowdpose": crowdpose}, keypoints=aic.spec, codec=aic.codec,
        input_size=aic.input_size, source_metric=SourceMetric, mappings={"crowdpose": crowd_map},
        val_sources=["crowdpose", "aic"], batch_size=4, val_batch_size=3, num_workers=0,
        monitor="val/aic/AP",
    )
    return mixed, {"aic": aic, "crowdpose": crowdpose}


def test_per_source_metrics_equal_the_single_set_metrics(aic_crowdpose):
    mixed, singles = aic_crowdpose
    mixed.setup("validate")
    metrics = mixed.build_metrics()
    loaders = mixed.val_dataloader()
    assert len(loaders) == 2
    for loader_idx, loader in enumerate(loaders):
        name = mixed.val_sources[loader_idx]
        to_target = mixed.mappings[name].source_to_target
        for batch in loader:
            local = batch["sample_idx"] - mixed.val_sets[name].offset
            pred, scores = truth_with_error(batch["gt_keypoints"][:, to_target], local)
            pred_target = torch.zeros(len(local), 14, 2)  # the model predicts AIC-14
            score_target = torch.zeros(len(local), 14)
            pred_target[:, to_target], score_target[:, to_target] = pred, scores
            meta = {k: batch[k] for k in ("sample_idx", "gt_keypoints", "bbox", "bbox_score",
                                          "image_id", "area")}
            for metric in metrics:
                if metric.dataloader_idx == loader_idx:
                    metric.update(pred_target, score_target, meta)
    mixed_results = {}
    for metric in metrics:
        mixed_results.update({k: float(v) for k, v in metric.compute().items()})

    for name, single in singles.items():
        single.setup("validate")
        single_metrics = single.build_metrics()
        for batch in single.val_dataloader():
            pred, scores = truth_with_error(batch["gt_keypoints"], batch["sample_idx"])
            for metric in single_metrics:
                metric.update(pred, scores, batch)
        expected = {}
        for metric in single_metrics:
            expected.update({f"{name}/{k}": float(v) for k, v in metric.compute().items()})
        assert 0.05 < expected[f"{name}/AP"] < 0.95  # the predictions are neither perfect nor lost
        ours = {k: v for k, v in mixed_results.items() if k.startswith(f"{name}/")}
        assert ours == pytest.approx(expected, abs=1e-9)


def test_sample_indices_are_unique_over_the_validated_sources(aic_crowdpose):
    mixed, _ = aic_crowdpose
    mixed.setup("validate")
    seen = [int(b["sample_idx"][i]) for loader in mixed.val_dataloader() for b in loader
            for i in range(len(b["sample_idx"]))]
    assert sorted(seen) == list(range(len(seen)))


@pytest.mark.parametrize(
    "override, error, match",
    [
        ("data.sources.crowdpose.root=/no/such/folder", FileNotFoundError,
         r"data.sources.crowdpose: .*Fix: pass data.sources.crowdpose.root=<folder>"),
        ("data.ratios.mpii=-1", ValueError, "data.ratios.mpii=-1.0 is negative"),
        ("data.ratios.mpii=nan", ValueError, "data.ratios.mpii=nan is not a finite number"),
        ("data.ratios.mpii=inf", ValueError, "data.ratios.mpii=inf is not a finite number"),
        ("data.ratios={coco:0,crowdpose:0,mpii:0}", ValueError, "are all 0"),
        ("+data.ratios.ochuman=1", ValueError, r"data.ratios names \['ochuman'\]"),
        ({"top_of_head": "nose"}, ValueError, "'top_of_head' is not a keypoint of source 'mpii'"),
        ({"left_ankle": "left_ankle", "right_ankle": "right_knee"}, ValueError,
         r"data.mappings.mpii sends the flip pair \(right_ankle, left_ankle\) of source 'mpii' "
         r"to \(right_knee, left_ankle\)"),
        ("data.val_sources=[coco,mpii]", ValueError,
         r"source 'mpii' cannot be validated.*\['pelvis', 'thorax', 'upper_neck', 'head_top'\]"),
        ("data.monitor=val/AP", ValueError, "data.monitor=val/AP must name a validated source"),
        ("data.sources.coco.group_by_image=true", ValueError,
         r"sources \['coco'\] set group_by_image.*data.sources.coco.group_by_image=false"),
        ("data.sources.mpii.device_warp=true", ValueError,
         r"sources \['mpii'\] set device_warp.*data.sources.mpii.device_warp=false"),
    ],
)
def test_bad_input_names_the_source_and_the_fix(body_overrides, tmp_path, override, error, match):
    if isinstance(override, dict):  # an explicit map for MPII
        cfg = compose_config("train", body_overrides, tmp_path)
        with open_dict(cfg):
            cfg.data.mappings.mpii = override
    else:
        cfg = compose_config("train", body_overrides + [override], tmp_path)
    with pytest.raises(Exception) as raised:
        instantiate(cfg.data)
    cause = raised.value  # Hydra wraps what the constructor raised
    while not isinstance(cause, error) and cause.__cause__ is not None:
        cause = cause.__cause__
    assert isinstance(cause, error), repr(raised.value)
    assert re.search(match, str(cause), re.S), str(cause)


@pytest.mark.parametrize(("key", "split"), [("train_ann", "training"), ("val_ann", "validation")])
def test_a_source_without_people_is_named_at_setup(body_overrides, fixtures_dir, tmp_path, key,
                                                   split):
    """No people in a trained source's training set, or in a validated source's validation set
    (no metrics, no best checkpoint otherwise): refused naming the source, the file, the key."""
    data = json.loads((fixtures_dir / "coco" / "test_coco.json").read_text())
    empty = tmp_path / "empty.json"
    empty.write_text(json.dumps({**data, "annotations": []}))
    cfg = compose_config("train", [*body_overrides, f"data.sources.coco.{key}={empty}"], tmp_path)
    mixed = instantiate(cfg.data)
    expected = (rf"data.sources.coco: the {split} set is empty: {re.escape(str(empty))} lists "
                rf"no person .*Fix the annotations or data.sources.coco.{key}")
    with pytest.raises(ValueError, match=expected):
        mixed.setup("fit")


def test_loader_options_reach_the_mixture_s_loaders(body_overrides, tmp_path):
    options = ["data.num_workers=2", "data.pin_memory=true", "data.prefetch_factor=4",
               "data.persistent_workers=false"]
    mixed = instantiate(compose_config("train", body_overrides + options, tmp_path).data)
    mixed.setup("fit")
    for loader in [mixed.train_dataloader(), *mixed.val_dataloader()]:
        assert loader.num_workers == 2 and loader.pin_memory
        assert loader.prefetch_factor == 4 and not loader.persistent_workers
    mixed = instantiate(compose_config("train", body_overrides + ["data.num_workers=0"],
                                       tmp_path).data)
    mixed.setup("fit")
    loader = mixed.train_dataloader()
    assert loader.prefetch_factor is None and not loader.persistent_workers  # no workers
