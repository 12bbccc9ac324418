"""Ready-made auxiliary heads: heatmap deep supervision and feature distillation from a frozen
teacher checkpoint; both train beside the main head and are absent from inference and export."""

from __future__ import annotations

import pytest
import torch
from helpers import compose_config
from helpers.tiny_models import save_tiny_checkpoint
from hydra.utils import instantiate

from posekit.deploy.export import ExportablePoseNet
from posekit.models.checkpoint import build_model
from posekit.models.losses.distill import FeatureDistillLoss

TINY = ["data.input_size=[48,64]", "data.num_workers=0", "data.batch_size=4"]


def first_batch(cfg):
    datamodule = instantiate(cfg.data)
    datamodule.setup("fit")
    return next(iter(datamodule.train_dataloader()))


def distill_config(tmp_path, teacher, channels=128, *extra):
    return compose_config("train", [
        *TINY, "+model/aux=feature_distillation",
        f"model.aux_heads.distill.targets.checkpoint={teacher}",
        f"model.aux_heads.distill.targets.channels={channels}", *extra,
    ], tmp_path)


def test_heatmap_deep_supervision_under_a_simcc_model_with_one_override(tmp_path):
    cfg = compose_config("train", [*TINY, "+model/aux=heatmap_deep_supervision"], tmp_path)
    model = build_model(cfg)
    batch = first_batch(cfg)
    # resnet18_s8 at 48x64: the auxiliary heatmaps are 6x8, as the stride-8 feature
    assert batch["aux/heatmap/heatmaps"].shape == (4, 17, 8, 6)
    loss = model.training_step(batch, 0)
    loss.backward()
    assert model.aux_heads["heatmap"].final.weight.grad.abs().sum() > 0  # trained jointly
    exported = ExportablePoseNet(model)
    assert not any("aux" in key for key in exported.state_dict())


def test_deep_supervision_on_a_stage_the_backbone_lacks_names_the_keys(tmp_path):
    cfg = compose_config("train", [*TINY, "+model/aux=heatmap_deep_supervision",
                                   "model.aux_heads.heatmap.stride=16"], tmp_path)
    with pytest.raises(Exception, match=r"aux_heads.heatmap.stride=16 .*extra_strides"):
        build_model(cfg)


def test_feature_distillation_loss_by_hand():
    # (N=2, C=2, 1, 2)
    student = torch.tensor([[[[1.0, 2.0]], [[3.0, 4.0]]], [[[0.0, 0.0]], [[0.0, 1.0]]]])
    teacher = torch.tensor([[[[1.0, 0.0]], [[0.0, 4.0]]], [[[0.0, 0.0]], [[0.0, 3.0]]]])
    # sample 0: (0 + 4 + 9 + 0) / 4 = 3.25; sample 1: (0 + 0 + 0 + 4) / 4 = 1
    loss = FeatureDistillLoss(loss_weight=2.0)
    per_sample = loss.per_sample({"features": student}, {"features": teacher}, torch.ones(2, 17))
    torch.testing.assert_close(per_sample, torch.tensor([6.5, 2.0]))


def test_feature_distillation_trains_the_student_against_a_frozen_teacher(tmp_path):
    teacher_path = save_tiny_checkpoint(tmp_path / "teacher.ckpt", seed=1)
    cfg = distill_config(tmp_path, teacher_path)
    model = build_model(cfg)
    teacher = model.aux_targets["distill"]
    teacher_before = {k: v.clone() for k, v in teacher.backbone.state_dict().items()}
    teacher_ids = {id(p) for p in teacher.backbone.parameters()}
    assert not teacher_ids & {id(p) for p in model.parameters()}  # not trained
    assert not any("teacher" in k or k.startswith("aux_targets") for k in model.state_dict())

    batch = first_batch(cfg)
    model.train()
    optimizer = torch.optim.SGD(model.parameters(), lr=0.1)
    loss = model.training_step(batch, 0)
    # the distillation term by hand: student connector vs teacher backbone, stride 8
    images = model.normalize(batch["image"])
    with torch.no_grad():
        student = model.aux_heads["distill"](model.backbone(images)[0])["features"]
        target = teacher.backbone(images)[0]
        main = model.loss_fn(model.head(model.backbone(images)[0]),
                             {k: batch[k] for k in ("simcc_x", "simcc_y")},
                             batch["keypoint_weights"])
    torch.testing.assert_close(loss.detach(), main + ((student - target) ** 2).mean(),
                               rtol=1e-4, atol=1e-6)
    loss.backward()
    optimizer.step()
    assert not teacher.backbone.training
    for key, value in teacher.backbone.state_dict().items():
        assert torch.equal(value, teacher_before[key]), key
    exported = ExportablePoseNet(model)
    assert not any("aux" in key or "distill" in key for key in exported.state_dict())


def test_a_teacher_that_does_not_load_or_fit_names_the_keys(tmp_path):
    cfg = distill_config(tmp_path, tmp_path / "missing.ckpt")
    with pytest.raises(Exception, match=r"(?s)targets.checkpoint=.*missing.ckpt.*"
                                        r"model.aux_heads.distill.targets"):
        build_model(cfg)
    teacher_path = save_tiny_checkpoint(tmp_path / "teacher.ckpt")
    with pytest.raises(Exception, match=r"targets.channels=64: the teacher's stride-8 feature "
                                        r"has 128 channels"):
        build_model(distill_config(tmp_path, teacher_path, 64))
    cfg = distill_config(tmp_path, teacher_path, 128, "+model.backbone.extra_strides=[16]",
                         "model.aux_heads.distill.stride=16")
    with pytest.raises(Exception, match=r"targets.stride=16: the teacher .* strides \[8\]"):
        build_model(cfg)
