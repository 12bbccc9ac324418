"""Necks: declared channels and strides, bilinear resizing by hand, fit to the head."""

from __future__ import annotations

import pytest
import torch
from helpers import compose_config
from hydra.errors import InstantiationException
from hydra.utils import instantiate

from posekit.models.backbone import TimmBackbone
from posekit.models.necks import ChannelMapper, ResizeConcat, SelectStages


def test_resize_concat_of_hrnet_branches_has_the_declared_channels_and_stride():
    backbone = TimmBackbone("hrnet_w18_small", out_stride=4, extra_strides=(8, 16, 32))
    neck = ResizeConcat(backbone.channels, backbone.strides)
    assert neck.channels == (16 + 32 + 64 + 128,) and neck.strides == (4,)
    (out,) = neck(backbone(torch.randn(2, 3, 64, 96)))
    assert out.shape == (2, neck.channels[0], 64 // 4, 96 // 4)


def test_resize_concat_upsamples_bilinearly_as_computed_by_hand():
    fine = torch.arange(16.0).view(1, 1, 4, 4)
    coarse = torch.tensor([[0.0, 1.0], [2.0, 3.0]]).view(1, 1, 2, 2)
    neck = ResizeConcat((1, 1), (4, 8))
    (out,) = neck([fine, coarse])
    assert torch.equal(out[:, 0], fine[:, 0])  # the stride-4 feature passes unchanged
    # align_corners=False: output pixel i samples (i + 0.5) / 2 - 0.5, clamped to the border:
    # 0 -> 0, 1 -> 0.25, 2 -> 0.75, 3 -> 1 along each axis; value = 1 * x + 2 * y
    axis = torch.tensor([0.0, 0.25, 0.75, 1.0])
    expected = axis[None, :] + 2 * axis[:, None]
    assert torch.allclose(out[0, 1], expected)


def test_resize_concat_to_another_stride_with_fusion():
    neck = ResizeConcat((8, 16, 32), (4, 8, 16), strides=(8, 16), out_stride=8, fuse_channels=12)
    assert neck.channels == (12,) and neck.strides == (8,)
    features = [torch.randn(1, c, 32 // s, 24 // s) for c, s in ((8, 4), (16, 8), (32, 16))]
    assert neck(features)[0].shape == (1, 12, 4, 3)


def test_select_stages_and_channel_mapper():
    select = SelectStages((16, 32, 64), (4, 8, 16), strides=(16, 4))
    assert select.channels == (64, 16) and select.strides == (16, 4)
    features = [torch.randn(1, c, 32 // s, 32 // s) for c, s in ((16, 4), (32, 8), (64, 16))]
    assert [f.shape[1] for f in select(features)] == [64, 16]
    mapper = ChannelMapper((16, 32, 64), (4, 8, 16), out_channels=24, kernel_size=1)
    assert mapper.channels == (24, 24, 24) and mapper.strides == (4, 8, 16)
    assert [tuple(f.shape[1:]) for f in mapper(features)] == [(24, 8, 8), (24, 4, 4), (24, 2, 2)]
    with pytest.raises(ValueError, match=r"model.neck.strides: stride 32 .*\[4, 8, 16\].*"
                       "extra_strides"):
        SelectStages((16, 32, 64), (4, 8, 16), strides=(32,))


def test_a_neck_feeds_the_head_through_the_config(tmp_path):
    """README: python train.py +model.backbone.extra_strides=[16] model/neck=resize_concat"""
    cfg = compose_config("train", ["+model.backbone.extra_strides=[16]",
                                   "model/neck=resize_concat"], tmp_path)
    model = instantiate(cfg.model)
    assert model.neck.channels == (128 + 256,) and model.neck.strides == (8,)
    assert model.head.final.in_channels == 384
    assert model(torch.zeros(1, 3, 128, 96))["simcc_x"].shape == (1, 17, 192)


@pytest.mark.parametrize(
    ("overrides", "message"),
    [
        (["model/neck=resize_concat", "model.neck.out_stride=16"],
         r"model.neck returns a stride-16 feature of 6x8 \(w x h\) but model.head was built for "
         r"12x16 \(model.head.in_stride\): set model.head.in_stride=16"),
        (["model=heatmap", "model.codec.heatmap_size=[12,16]", "model/neck=resize_concat",
          "model.neck.out_stride=4"],
         r"model.head gives 24x32 \(w x h\) heatmaps, but model.codec.heatmap_size is \[12, 16\]"),
    ],
)
def test_a_neck_that_does_not_fit_the_head_is_refused_naming_the_keys(overrides, message,
                                                                     tmp_path):
    cfg = compose_config("train", ["+model.backbone.extra_strides=[16]", *overrides], tmp_path)
    with pytest.raises(InstantiationException, match=message):
        instantiate(cfg.model)


def test_hrnetv2_experiment_concatenates_all_hrnet_w32_branches(tmp_path):
    cfg = compose_config("train", ["experiment=hrnetv2_heatmap_coco", "data.root=/data",
                                   "model.backbone.pretrained=false"], tmp_path)
    assert cfg.model.backbone.name == "hrnet_w32" and list(cfg.model.codec.heatmap_size) == [48, 64]
    backbone = instantiate(cfg.model.backbone)
    neck = instantiate(cfg.model.neck)(in_channels=backbone.channels, in_strides=backbone.strides)
    assert backbone.channels == (32, 64, 128, 256) and backbone.strides == (4, 8, 16, 32)
    assert neck.channels == (480,) and neck.strides == (4,)
    assert neck.fuse[0].in_channels == 480
