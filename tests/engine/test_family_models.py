"""Every head family trains on the bundled sample with one override (`model=<family>`)."""

import math

import pytest
from helpers import compose_config

from posekit.engine.tasks import train

FAMILIES = ["regression", "rle", "ipr", "ipr_sigmoid", "dsnt", "udp"]


@pytest.mark.slow
@pytest.mark.parametrize("family", FAMILIES)
def test_family_trains_on_the_sample_with_one_override(family, tmp_path):
    overrides = [
        f"model={family}",
        "data.input_size=[48,64]",
        "data.num_workers=0",
        "data.batch_size=8",
        "data.val_batch_size=8",
        "trainer.accelerator=cpu",
        "trainer.max_epochs=1",
        "trainer.limit_train_batches=2",
        "trainer.limit_val_batches=1",
        "logger=csv",
    ]
    metrics = train(compose_config("train", overrides, tmp_path))
    assert math.isfinite(metrics["train/loss"])
    assert 0.0 <= metrics["val/PCK@0.05"] <= 1.0
