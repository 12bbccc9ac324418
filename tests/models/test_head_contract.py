"""The head contract: a family written only as a head, a codec and a loss (tests/helpers/
toy_head.py) trains, evaluates, flips and exports through the unchanged LightningModule, with
an auxiliary heatmap head on another backbone stage trained beside it and absent from
inference and export."""

from __future__ import annotations

import lightning as L
import pytest
import torch
from helpers import compose_config
from hydra.utils import instantiate

from posekit.deploy.export import ExportablePoseNet
from posekit.models.checkpoint import build_model
from posekit.models.predict import identity_crops, predict_crops

TOY = "helpers.toy_head"
AUX = (
    "+model.aux_heads.deep={_target_:posekit.models.pose_module.AuxiliaryHead,weight:0.5,"
    "stride:16,head:{_target_:posekit.models.heads.HeatmapHead,_partial_:true},"
    "loss:{_target_:posekit.models.losses.KeypointMSELoss}}"
)
AUX_CODEC = (
    "+model.aux_codecs.deep={_target_:posekit.codecs.MSRAHeatmapCodec,"
    "input_size:${data.input_size},heatmap_size:[3,4],sigma:1.0}"
)


def toy_config(tmp_path, *extra: str):
    return compose_config("train", [
        "data.input_size=[48,64]", "data.num_workers=0", "data.batch_size=8",
        "data.val_batch_size=8", "~model.head", f"+model.head._target_={TOY}.PooledRegressionHead",
        "+model.head._partial_=true", "~model.codec", f"+model.codec._target_={TOY}.PixelCoordinateCodec",
        "+model.codec.input_size=${data.input_size}", "~model.loss",
        f"+model.loss._target_={TOY}.WeightedL1Loss", "+model.backbone.extra_strides=[16]", *extra,
    ], tmp_path)


def test_a_new_family_with_an_auxiliary_head_trains_and_is_dropped_from_inference(tmp_path):
    cfg = toy_config(tmp_path, AUX, AUX_CODEC)
    model, datamodule = build_model(cfg), instantiate(cfg.data)
    datamodule.setup("fit")
    batch = next(iter(datamodule.train_dataloader()))
    assert batch["coords"].shape == (8, 17, 2) and batch["aux/deep/heatmaps"].shape == (8, 17, 4, 3)
    before = {k: v.clone() for k, v in model.aux_heads.state_dict().items()}
    trainer = L.Trainer(accelerator="cpu", max_epochs=1, limit_train_batches=2,
                        limit_val_batches=1, logger=False, enable_checkpointing=False,
                        enable_progress_bar=False, enable_model_summary=False,
                        num_sanity_val_steps=0)
    trainer.fit(model, datamodule=datamodule)
    metrics = trainer.callback_metrics
    assert torch.isfinite(metrics["train/loss"]) and torch.isfinite(metrics["train/loss_deep"])
    assert "val/PCK@0.05" in metrics and "val/AP" in metrics
    after = model.aux_heads.state_dict()
    assert any(not torch.equal(before[k], after[k]) for k in before)  # trained jointly

    # inference and export run the main head only
    model.eval()
    crops = batch["image"][:2]
    center, scale = identity_crops(2, (48, 64), crops.device)
    with torch.no_grad():
        prediction = predict_crops(model, crops, center, scale, flip_test=True)
    assert set(prediction.outputs) == {"coords"}
    exported = ExportablePoseNet(model, with_decode=True, flip_test=True)
    assert not any("aux" in key for key in exported.state_dict())
    with torch.no_grad():
        keypoints, _ = exported(crops)
    torch.testing.assert_close(keypoints, prediction.crop_keypoints)


def test_the_toy_codec_flip_is_exact():
    """Targets of the mirrored keypoints (x -> W-1-x, sides swapped), flipped back by the codec,
    equal the targets of the original keypoints."""
    from helpers.toy_head import PixelCoordinateCodec

    codec = PixelCoordinateCodec((48, 64))
    keypoints = torch.tensor([[[3.0, 5.0], [40.0, 60.0], [20.5, 1.0]]])  # (1, 3, 2)
    mirrored = keypoints[:, [0, 2, 1]].clone()
    mirrored[..., 0] = 47 - mirrored[..., 0]
    back = codec.flip_outputs({"coords": mirrored}, [0, 2, 1])["coords"]
    torch.testing.assert_close(back, keypoints)


def test_an_auxiliary_head_on_a_missing_stage_names_the_keys(tmp_path):
    cfg = toy_config(tmp_path, AUX.replace("stride:16", "stride:32"), AUX_CODEC)
    with pytest.raises(Exception, match=r"aux_heads.deep.stride=32 .*model.backbone.extra_strides"):
        build_model(cfg)
    cfg = toy_config(tmp_path, AUX)
    with pytest.raises(Exception, match=r"model.aux_heads \['deep'\] and model.aux_codecs \[\]"):
        build_model(cfg)


def test_a_head_that_does_not_fit_its_codec_is_named(tmp_path):
    cfg = compose_config("train", ["data.input_size=[48,64]", "data.num_workers=0",
                                   "data.batch_size=4", "~model.loss",
                                   f"+model.loss._target_={TOY}.WeightedL1Loss", "~model.codec", f"+model.codec._target_={TOY}.PixelCoordinateCodec",
                                   "+model.codec.input_size=${data.input_size}",
                                   "model.head.split_ratio=2.0"], tmp_path)
    model, datamodule = build_model(cfg), instantiate(cfg.data)
    datamodule.setup("fit")
    batch = next(iter(datamodule.train_dataloader()))
    with pytest.raises(KeyError, match=r"head returns \['simcc_x', 'simcc_y'\] but its codec"):
        model.training_step(batch, 0)
