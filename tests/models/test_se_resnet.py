"""AlphaPose's SE-ResNet (FastPose's backbone) and the SimCC head with deconvolutions."""

from __future__ import annotations

import pytest
import torch

from posekit.models.backbone import TimmBackbone
from posekit.models.heads import SimCCHead
from posekit.models.se_resnet import SEResNet, SqueezeExcitation


def test_squeeze_excitation_gates_each_channel_by_its_mean():
    se = SqueezeExcitation(2)
    with torch.no_grad():
        se.fc[0].weight.copy_(torch.eye(2))
        se.fc[0].bias.zero_()
        se.fc[2].weight.copy_(torch.tensor([[1.0, 0.0], [0.0, 0.0]]))
        se.fc[2].bias.zero_()
    x = torch.stack([torch.full((2, 2), 3.0), torch.full((2, 2), -1.0)])[None]  # (1, 2, 2, 2)
    # channel 0: mean 3 -> relu 3 -> sigmoid(3); channel 1: gate sigmoid(0) = 0.5
    expected = torch.stack([3.0 * torch.sigmoid(torch.tensor(3.0)) * torch.ones(2, 2),
                            -0.5 * torch.ones(2, 2)])[None]  # fmt: skip
    torch.testing.assert_close(se(x), expected)


def test_se_resnet_is_timms_resnet_with_se_in_each_stages_first_block():
    torch.manual_seed(0)
    se_net = SEResNet("resnet18", out_stride=32).eval()
    names = se_net.checkpoint_names()
    assert {n.split(".se.")[0] for n in names if ".se." in n} == {
        "layer1.0", "layer2.0", "layer3.0", "layer4.0"}
    plain = TimmBackbone("resnet18", out_stride=32).eval()
    own = se_net.state_dict()
    plain.load_state_dict({key: own[key] for key in plain.state_dict()})
    with torch.no_grad():  # gates open (sigmoid(50) = 1): the SE-ResNet is the plain ResNet
        for stage in ("layer1", "layer2", "layer3", "layer4"):
            fc = getattr(se_net._timm_model, stage)[0].se.fc
            fc[2].weight.zero_()
            fc[2].bias.fill_(50.0)
        images = torch.randn(1, 3, 64, 64)
        torch.testing.assert_close(se_net(images)[0], plain(images)[0])


@pytest.mark.parametrize("deconv", [(), (8, 8)])
def test_simcc_head_reads_the_upsampled_maps(deconv):
    head = SimCCHead(16, 3, input_size=(32, 64), in_stride=16, split_ratio=2.0,
                     deconv_channels=deconv)  # fmt: skip
    out = head(torch.randn(2, 16, 4, 2))
    assert out["simcc_x"].shape == (2, 3, 64) and out["simcc_y"].shape == (2, 3, 128)
    # the classifiers read h * w * 4^len(deconv) values per keypoint
    assert head.mlp_x.in_features == 8 * 4 ** len(deconv)
