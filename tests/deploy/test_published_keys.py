"""Every published checkpoint family maps onto its posekit experiment, tensor for tensor.

The key names and shapes of each family were captured from the reference code (mmpose 1.3.2's
own model classes, AlphaPose's FastPose modules) by ``scripts/capture_reference_keys.py`` into
``tests/fixtures/published_keys/<family>.json``; here a state dict of those names and shapes
(random values) is imported without the reference installed.
"""

from __future__ import annotations

import json

import pytest
import torch
from helpers import REPO, compose_config
from helpers.tiny_models import load_script

from posekit.deploy.import_weights import (
    ConversionError,
    convert_state_dict,
    detect_source,
)
from posekit.models.checkpoint import build_model, load_model

KEYS = REPO / "tests" / "fixtures" / "published_keys"
# family -> (posekit experiment, source, {published key: posekit state_dict key} spot checks
# written by hand from the two codes' module names)
FAMILIES = {
    "mmpose_rtmpose_t": ("cspnext_t_rtmcc_coco", "mmpose", {
        "backbone.stage1.0.conv.weight": "backbone.body.model.stages.0.0.conv.weight",
        "head.gau.ln.g": "head.gau.norm.g"}),
    "mmpose_rtmpose_s": ("cspnext_s_rtmcc_coco", "mmpose", {}),
    "mmpose_rtmpose_m": ("cspnext_rtmcc_coco", "mmpose", {
        "backbone.stage4.1.conv2.conv.weight": "backbone.body.model.stages.3.1.conv2.conv.weight",
        "head.gau.res_scale.scale": "head.gau.res_scale"}),
    "mmpose_rtmpose_l": ("cspnext_l_rtmcc_coco", "mmpose", {}),
    "mmpose_simcc_res50": ("resnet50_simcc_coco", "mmpose", {
        "head.deconv_head.deconv_layers.3.weight": "head.deconv.3.weight",
        "head.mlp_head_x.weight": "head.mlp_x.weight"}),
    "mmpose_rle_res50": ("resnet50_rle_coco", "mmpose", {
        "backbone.layer4.2.conv3.weight": "backbone.body.model.layer4.2.conv3.weight",
        "head.loss_module.flow_model.t.5.4.bias": "loss_fn.flow.t.5.4.bias"}),
    "mmpose_ipr_res50": ("resnet50_ipr_coco_256x256", "mmpose", {
        "head.simplebaseline_head.final_layer.weight": "head.maps.final.weight"}),
    "mmpose_dsnt_res50": ("resnet50_dsnt_coco_256x256", "mmpose", {}),
    "mmpose_debias_res50": ("resnet50_debias_coco_256x256", "mmpose", {}),
    "mmpose_udp_hrnet_w32": ("hrnet_udp_coco", "mmpose", {
        "backbone.stage4.2.fuse_layers.0.3.0.weight":
            "backbone.body.stage4.2.fuse_layers.0.3.0.weight",
        "head.final_layer.bias": "head.final.bias"}),
    "mmpose_hrnet_w32": ("hrnet_heatmap_coco", "mmpose", {}),
    "alphapose_fastpose_res50_coco": ("resnet50_fastpose_coco", "alphapose", {
        "preact.layer2.0.se.fc.2.weight": "backbone.body.model.layer2.0.se.fc.2.weight",
        "duc2.conv.weight": "head.duc2.conv.weight"}),
    "alphapose_fastpose_res50_halpe136": ("resnet50_fastposeintegral_halpe136", "alphapose", {
        "conv_out.weight": "head.conv_out.weight"}),
}
# the same code paths as a faster family: run in the slow suite only
SLOW = {"mmpose_rtmpose_s", "mmpose_rtmpose_l", "mmpose_dsnt_res50", "mmpose_debias_res50",
        "mmpose_hrnet_w32"}  # fmt: skip
# published tensors that are constants posekit's code fixes (checked, not loaded)
CONSTANTS = {"head.linspace_x", "head.linspace_y", "head.loss_module.flow_model.loc",
             "head.loss_module.flow_model.cov"}  # fmt: skip


def published_state(family: str) -> dict[str, torch.Tensor]:
    """Random tensors under the family's captured names and shapes (its constants as the
    reference code sets them: mmpose's grids ``arange(n) / n``, the flow prior N(0, I))."""
    shapes = json.loads((KEYS / f"{family}.json").read_text())
    generator = torch.Generator().manual_seed(0)
    state = {key: torch.randn(shape, generator=generator) for key, shape in shapes.items()}
    for key, value in state.items():
        if key.endswith(("linspace_x", "linspace_y")):
            state[key] = (torch.arange(value.numel()) / value.numel()).reshape(value.shape)
        elif key.endswith("flow_model.loc"):
            state[key] = torch.zeros(2)
        elif key.endswith("flow_model.cov"):
            state[key] = torch.eye(2)
        elif key.endswith("num_batches_tracked"):
            state[key] = torch.tensor(7)
    return state


def family_model(experiment: str, tmp_path):
    cfg = compose_config("train", [f"experiment={experiment}", "model.backbone.pretrained=false"],
                         tmp_path)  # fmt: skip
    return build_model(cfg)


@pytest.mark.parametrize(
    "family",
    [pytest.param(f, marks=pytest.mark.slow) if f in SLOW else f for f in sorted(FAMILIES)],
)
def test_family_maps_onto_every_posekit_tensor(family, tmp_path):
    experiment, source, spot_checks = FAMILIES[family]
    published = published_state(family)
    assert detect_source(published) == source
    model = family_model(experiment, tmp_path)
    converted, report = convert_state_dict(published, model)  # source told from the keys
    constants = CONSTANTS & set(published)
    assert report.source == source and set(report.source_constants) == constants
    assert not report.unmapped_source and not report.unset_target and not report.kept_counters
    assert len(report.mapped) == len(published) - len(constants)
    weights = set(model.state_dict()) - {"pixel_mean", "pixel_std"}
    assert set(report.mapped) == weights  # 100% of the posekit tensors
    for own, key in report.mapped.items():
        assert tuple(converted[own].shape) == tuple(published[key].shape), own
        assert torch.equal(converted[own], published[key]), own
    for key, own in spot_checks.items():
        assert report.mapped[own] == key


@pytest.fixture(scope="module")
def rtmpose_m(tmp_path_factory):
    return family_model("cspnext_rtmcc_coco", tmp_path_factory.mktemp("rtmpose_m"))


def test_a_file_with_an_extra_tensor_is_refused(rtmpose_m):
    published = published_state("mmpose_rtmpose_m")
    published["head.cls_z.weight"] = torch.zeros(3)
    with pytest.raises(ConversionError, match=r"^1 source tensors are not used") as info:
        convert_state_dict(published, rtmpose_m)
    assert "head.cls_z.weight: no mmpose rule maps it" in str(info.value)
    _, report = convert_state_dict(published, rtmpose_m, allow_unmapped=True)
    assert list(report.unmapped_source) == ["head.cls_z.weight"]


def test_a_file_missing_tensors_is_refused_naming_them_and_their_count(rtmpose_m):
    published = published_state("mmpose_rtmpose_m")
    missing = ["head.cls_x.weight", "head.gau.gamma", "backbone.stem.0.conv.weight"]
    for key in missing:
        del published[key]
    with pytest.raises(ConversionError) as info:
        convert_state_dict(published, rtmpose_m)
    message = str(info.value)
    assert message.startswith("3 posekit tensors would be left at their initialisation")
    assert "3 posekit tensors left unset:" in message
    for own in ("head.cls_x.weight", "head.gau.gamma", "backbone.body.model.stem.0.conv.weight"):
        assert f"  {own}\n" in message + "\n"
    _, report = convert_state_dict(published, rtmpose_m, allow_unset=True)
    assert len(report.unset_target) == 3 and len(report.mapped) == len(published)


def test_a_constant_holding_other_values_is_refused(tmp_path):
    published = published_state("mmpose_rle_res50")
    published["head.loss_module.flow_model.cov"] = 2 * torch.eye(2)
    with pytest.raises(ConversionError, match=r"flow_model.cov \(2, 2\) should be the flow prior"):
        convert_state_dict(published, {}, "mmpose")


def test_unknown_keys_name_the_sources():
    with pytest.raises(ConversionError, match=r"cannot tell the source .*source=<name> \(hrnet, "):
        detect_source({"encoder.weight": torch.zeros(1)})


def test_script_detects_the_source_and_writes_the_halpe_fastpose(tmp_path, capsys):
    published = published_state("alphapose_fastpose_res50_halpe136")
    source = tmp_path / "halpe136_fast_res50_256x192.pth"
    torch.save(published, source)  # AlphaPose's train.py saves the bare state dict
    out = load_script("import_checkpoint").main([
        f"checkpoint={source}", "experiment=resnet50_fastposeintegral_halpe136",
        f"out={tmp_path / 'halpe.ckpt'}",
    ])  # fmt: skip
    printed = capsys.readouterr().out
    assert "source: alphapose (told from the file's keys)" in printed
    assert f"alphapose: {len(published)} tensors mapped" in printed
    imported = load_model(out).state_dict()
    assert imported["head.conv_out.weight"].shape == (136, 256, 3, 3)  # CONV_DIM 256
    assert torch.equal(imported["head.duc2.conv.weight"], published["duc2.conv.weight"])
    assert torch.equal(imported["backbone.body.model.layer3.0.se.fc.0.bias"],
                       published["preact.layer3.0.se.fc.0.bias"])  # fmt: skip


def test_script_refuses_a_backbone_checkpoint_beside_the_import(tmp_path):
    with pytest.raises(SystemExit, match="model.backbone.checkpoint is set, but the import maps"):
        load_script("import_checkpoint").main([
            f"checkpoint={tmp_path / 'any.pth'}", "experiment=cspnext_rtmcc_coco",
            f"out={tmp_path / 'out.ckpt'}", f"model.backbone.checkpoint={tmp_path}/b.pth",
        ])  # fmt: skip


def test_keys_option_replaces_the_backbone_key_map(rtmpose_m, tmp_path):
    published = published_state("mmpose_rtmpose_m")
    stages = [key for key in published if key.startswith("backbone.stage")]
    with pytest.raises(ConversionError, match=rf"^{len(stages)} source tensors are not used"):
        convert_state_dict(published, rtmpose_m, backbone_keys="identity")
    keys = tmp_path / "cspnext.yaml"  # the same renaming, written as a user would
    keys.write_text("".join(f"'stage{i}\\.(.*)': 'stages.{i - 1}.\\1'\n" for i in range(1, 5))
                    + "'stem\\.(.*)': 'stem.\\1'\n")  # fmt: skip
    _, report = convert_state_dict(published, rtmpose_m, backbone_keys=str(keys))
    assert len(report.mapped) == len(published) and not report.unset_target
