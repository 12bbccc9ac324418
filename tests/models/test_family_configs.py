"""The new model configs train on the bundled sample with one override, nothing downloaded."""

from __future__ import annotations

import lightning as L
import pytest
import torch
from helpers import compose_config
from hydra.utils import instantiate

from posekit.models.checkpoint import build_model


@pytest.mark.parametrize("model", ["fastpose", "rtmcc"])
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
