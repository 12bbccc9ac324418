"""The new model configs train on the bundled sample with one override, nothing downloaded,
and their predict path, flip test included, is the exported graph's."""

from __future__ import annotations

import lightning as L
import pytest
import torch
from helpers import compose_config
from hydra.utils import instantiate

from posekit.deploy.export import ExportablePoseNet, export
from posekit.models.checkpoint import build_model
from posekit.models.predict import identity_crops, predict_crops


@pytest.mark.parametrize("model", ["fastpose", "fastpose_integral", "rtmcc"])
def test_the_family_trains_on_the_sample_with_one_override(model, tmp_path):
    cfg = compose_config("train", [f"model={model}", "data.num_workers=0", "data.batch_size=4"],
                         tmp_path)
    assert not cfg.model.backbone.pretrained  # nothing to download
    module, datamodule = build_model(cfg), instantiate(cfg.data)
    trainer = L.Trainer(accelerator="cpu", max_steps=1, limit_val_batches=0, logger=False,
                        enable_checkpointing=False, enable_progress_bar=False,
                        enable_model_summary=False)
    trainer.fit(module, datamodule=datamodule)
    assert torch.isfinite(trainer.callback_metrics["train/loss"])
    # the flip test of the predict path, and the exported graph, give the same keypoints
    module.eval()
    crops = torch.randint(0, 256, (2, 3, 128, 96), dtype=torch.uint8)
    center, scale = identity_crops(2, (96, 128), crops.device)
    with torch.no_grad():
        prediction = predict_crops(module, crops, center, scale, flip_test=True)
        keypoints, scores = ExportablePoseNet(module, with_decode=True, flip_test=True)(crops)
    torch.testing.assert_close(keypoints, prediction.crop_keypoints)
    torch.testing.assert_close(scores, prediction.scores)
    assert export(module, tmp_path / "net.pt", format="torchscript", with_decode=True,
                  flip_test=True) < 1e-4
