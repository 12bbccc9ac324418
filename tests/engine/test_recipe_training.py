"""Published recipes train as their references: precision, BatchNorm, total batch, devices and
the linear learning-rate rule."""

from __future__ import annotations

import pytest

from posekit.config import compose

# reference -> (devices, total batch): HRNet / SimCC GPUS (0,1,2,3) x 32; mmpose 8 x 64;
# RTMPose 8 x 256; AlphaPose WORLD_SIZE 4 x 32 (Halpe-136 regression: 4 x 48)
PUBLISHED = {"hrnet_heatmap_coco": (4, 128), "hrnet_simcc_mpii": (4, 128),
             "hrnet_heatmap_crowdpose": (8, 512), "resnet50_rle_coco": (8, 512),
             "hrnet_udp_coco": (8, 512), "cspnext_rtmcc_coco": (8, 2048),
             "mobilenetv3_fastpose_coco": (4, 128), "mobilenetv3_fastposeintegral_halpe136": (4, 192)}


# one experiment per recipe, a mixture and a low-resolution one (tests/engine/test_experiments.py
# composes every experiment)
EXPERIMENTS = sorted({*PUBLISHED, "hrnet_simcc_coco_aic", "hrnet_heatmap_coco_64x64",
                      "resnet50_regression_coco", "mobilenetv3_fastpose_halpe136"})


@pytest.mark.parametrize("experiment", EXPERIMENTS)
def test_every_recipe_trains_in_float32_with_the_references_batchnorm(experiment):
    """Recipe settings win over the trainer group (trainer=ddp alone would give 16-mixed and
    SyncBN); only RTMPose's reference synchronises BatchNorm."""
    cfg = compose("train", [f"experiment={experiment}", "trainer=ddp"])
    assert cfg.trainer.precision == "32-true"
    assert cfg.trainer.sync_batchnorm == (experiment == "cspnext_rtmcc_coco")
    assert cfg.recipe.devices in (4, 8) and cfg.recipe.total_batch % cfg.recipe.devices == 0
    assert cfg.recipe.total_batch == cfg.recipe.devices * cfg.data.batch_size


@pytest.mark.parametrize("experiment", sorted(PUBLISHED))
def test_the_published_total_batch_is_devices_times_the_batch(experiment):
    devices, total = PUBLISHED[experiment]
    cfg = compose("train", [f"experiment={experiment}", "trainer=ddp", f"trainer.devices={devices}"])
    assert (cfg.recipe.devices, cfg.recipe.total_batch) == (devices, total)
    assert cfg.data.batch_size * cfg.trainer.devices == total
    assert compose("train", [f"experiment={experiment}"]).trainer.devices == 1  # default: one


def test_linear_rule_scales_the_lr_by_the_total_batch_when_asked():
    # HRNet: 1e-3 for 4 x 32 = 128. 2 GPUs x 32 x 2 accumulated = 128: 1e-3; 1 GPU x 32: 2.5e-4
    base = ["experiment=hrnet_heatmap_coco", "recipe.scale_lr=true"]
    assert compose("train", base).model.optimizer.lr == pytest.approx(2.5e-4)
    two = compose("train", [*base, "trainer=ddp", "trainer.devices=2",
                            "trainer.accumulate_grad_batches=2"])
    assert two.model.optimizer.lr == pytest.approx(1e-3)
    # RTMPose: 4e-3 for 8 x 256 = 2048; 2 nodes x 4 GPUs x 128 = 1024: 2e-3
    rtm = compose("train", ["experiment=cspnext_rtmcc_coco", "recipe.scale_lr=true", "trainer=ddp",
                            "trainer.devices=4", "trainer.num_nodes=2", "data.batch_size=128"])
    assert rtm.model.optimizer.lr == pytest.approx(2e-3)
    # off by default: the published lr whatever the batch
    assert compose("train", ["experiment=hrnet_heatmap_coco"]).model.optimizer.lr == 1e-3


def test_linear_rule_refuses_an_unknown_number_of_devices():
    cfg = compose("train", ["experiment=hrnet_heatmap_coco", "recipe.scale_lr=true",
                            "trainer.devices=auto"])
    with pytest.raises(Exception, match="trainer.devices"):
        _ = cfg.model.optimizer.lr
