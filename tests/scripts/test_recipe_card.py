"""scripts/recipe_card.py: the effective recipe beside the reference's recorded values."""

from __future__ import annotations

import math

import pytest
from helpers.tiny_models import load_script

from posekit.config import compose
from posekit.engine.recipe_card import card_rows, optimizer_groups

COCO = 149_813
# experiment -> published devices, and the differences that remain at those devices
# (posekit's loader drops the last partial batch)
PUBLISHED = {
    "hrnet_heatmap_coco": (4, {"iterations per epoch (149,813 people)"}),
    "hrnet_simcc_mpii": (4, {"iterations per epoch (22,246 people)"}),
    "hrnet_heatmap_crowdpose": (8, set()),
    "hrnet_udp_coco": (8, {"iterations per epoch (149,813 people)"}),
    "resnet50_rle_coco": (8, {"iterations per epoch (149,813 people)"}),
    "resnet50_dsnt_coco_256x256": (8, {"iterations per epoch (149,813 people)"}),
    "cspnext_rtmcc_coco": (8, {"iterations per epoch (149,813 people)"}),
    "mobilenetv3_fastposeintegral_halpe136": (4, set()),
    "mobilenetv3_fastpose_coco": (4, {"iterations per epoch (149,813 people)"}),
}


def rows_of(overrides: list[str]) -> dict[str, object]:
    return {row.key: row for row in card_rows(compose("train", overrides), with_optimizer_groups=False)}


@pytest.mark.parametrize("experiment", sorted(PUBLISHED))
def test_published_recipes_differ_only_where_flagged_and_known(experiment):
    devices, known = PUBLISHED[experiment]
    rows = rows_of([f"experiment={experiment}", "trainer=ddp", f"trainer.devices={devices}"])
    cfg = compose("train", [f"experiment={experiment}"])
    # every recorded reference value is on the card
    assert {str(k) for k in cfg.recipe.reference} - {"recipe.total_batch"} <= set(rows)
    assert {key for key, row in rows.items() if row.differs} == known
    # CrowdPose's size is not recorded: its per-iteration schedule points are shown as unknown
    unknown = {key for key, row in rows.items() if row.unknown}
    assert unknown == ({key for key in rows if key.startswith("lr at ")}
                       if experiment == "hrnet_heatmap_crowdpose" else set())


def test_a_changed_value_and_the_default_single_device_are_flagged():
    rows = rows_of(["experiment=hrnet_heatmap_coco", "data.augmentation.scale_factor=0.3"])
    assert rows["data.augmentation.scale_factor"].differs
    assert (rows["total batch"].value, rows["total batch"].reference) == (32, 128)
    assert rows["total batch"].differs


def test_schedule_points_are_the_hand_computed_learning_rates():
    # mmpose (UDP): 8 x 64 = 512, 149813 // 512 = 292 steps an epoch; warm-up from 5e-4 x 0.001
    rows = rows_of(["experiment=hrnet_udp_coco", "trainer=ddp", "trainer.devices=8"])
    assert rows["iterations per epoch (149,813 people)"].value == COCO // 512 == 292
    assert rows["iterations per epoch (149,813 people)"].reference == math.ceil(COCO / 512)
    assert rows["lr at start"].value == pytest.approx(5e-7)
    assert rows["lr at end of warm-up"].value == pytest.approx(5e-4)
    assert rows["lr at epoch 170"].value == pytest.approx(5e-5)
    assert rows["lr at epoch 170"].note == f"iteration {170 * 292}"
    assert rows["lr at epoch 200"].value == pytest.approx(5e-6)
    # HRNet: per-epoch MultiStepLR, 4 x 32 = 128: 1170 steps an epoch
    rows = rows_of(["experiment=hrnet_heatmap_coco", "trainer=ddp", "trainer.devices=4"])
    assert rows["lr at epoch 170"].value == pytest.approx(1e-4)
    assert rows["lr at epoch 200"].value == pytest.approx(1e-5)
    # RTMPose: 2048 a step, 73 steps an epoch; flat to epoch 210, cosine to 0.05 x 4e-3 at 420
    rows = rows_of(["experiment=cspnext_rtmcc_coco", "trainer=ddp", "trainer.devices=8"])
    last, flat = 420 * 73 - 1, 210 * 73
    assert rows["lr at start"].value == pytest.approx(4e-3 * 1e-5)
    assert rows["lr at end of flat stage"].value == pytest.approx(4e-3)
    assert rows["lr at end of flat stage"].note == f"iteration {flat}"
    cosine = 0.05 + 0.95 * 0.5 * (1 + math.cos(math.pi * (last - flat) / (420 * 73 - flat)))
    assert rows["lr at last step"].value == pytest.approx(4e-3 * cosine)


def test_script_prints_the_card_and_strict_fails_on_a_difference(capsys):
    main = load_script("recipe_card").main

    assert main(["experiment=cspnext_rtmcc_coco", "trainer=ddp", "trainer.devices=8"]) == 0
    out = capsys.readouterr().out
    assert "rtmpose-m_8xb256-420e_coco-256x192.py" in out and "DIFFERS" in out
    groups = [text for _, text in optimizer_groups(compose("train", ["experiment=cspnext_rtmcc_coco"]))]
    # AdamW's paramwise groups: decay 0.05 on weights, none on norms and biases
    assert sorted(text.rsplit("weight decay ", 1)[1] for text in groups) == ["0", "0.05"]
    assert main(["experiment=hrnet_heatmap_coco", "optimizer_groups=false", "strict=true"]) == 1
