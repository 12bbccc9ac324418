"""GPU-ready training options, each checked on the CPU: torch.compile, channels_last, bf16
autocast, pinned memory with prefetching workers."""

from __future__ import annotations

import pytest
import torch
from helpers import compose_config
from hydra.utils import instantiate

from posekit.models.checkpoint import build_model

TINY = ["data.input_size=[48,64]", "data.num_workers=0", "data.batch_size=4",
        "data.photometric=null", "model/backbone=resnet18_s8"]


def first_batch(tmp_path, *overrides: str):
    cfg = compose_config("train", [*TINY, *overrides], tmp_path)
    datamodule = instantiate(cfg.data)
    datamodule.setup("fit")
    torch.manual_seed(0)
    return cfg, next(iter(datamodule.train_dataloader()))


def training_loss(cfg, batch, **model_overrides) -> torch.Tensor:
    torch.manual_seed(0)
    model = build_model(cfg)
    for name, value in model_overrides.items():
        setattr(model, name, value)
    return model.training_step(batch, 0)


@pytest.mark.slow
def test_compiled_network_gives_the_eager_loss(tmp_path):
    cfg, batch = first_batch(tmp_path, "model.compile=true")
    compiled = build_model(cfg)
    eager = build_model(cfg)
    eager.load_state_dict(compiled.state_dict())
    eager.compile_network = False
    loss_compiled, loss_eager = compiled.training_step(batch, 0), eager.training_step(batch, 0)
    assert compiled._compiled_network is not None and eager._compiled_network is None
    assert abs(loss_compiled.item() - loss_eager.item()) < 1e-4
    loss_compiled.backward()
    loss_eager.backward()
    for (name, a), b in zip(compiled.named_parameters(), eager.parameters()):
        if a.grad is not None:
            torch.testing.assert_close(a.grad, b.grad, rtol=1e-3, atol=1e-5, msg=name)
    assert list(compiled.state_dict()) == list(eager.state_dict())  # checkpoints unchanged


def test_channels_last_and_bf16_give_the_float32_loss(tmp_path):
    cfg, batch = first_batch(tmp_path)
    reference = training_loss(cfg, batch).item()
    channels_last = training_loss(cfg, batch, channels_last=True).item()
    assert channels_last == pytest.approx(reference, rel=1e-4)
    with torch.autocast("cpu", dtype=torch.bfloat16):
        low = training_loss(cfg, batch).item()
    assert low == pytest.approx(reference, rel=0.05)  # bf16 keeps 8 bits of mantissa


def test_loader_options_reach_the_data_loader(tmp_path):
    cfg = compose_config("train", [*TINY, "data.num_workers=2", "data.pin_memory=true",
                                   "data.prefetch_factor=4", "data.persistent_workers=true"],
                         tmp_path)
    datamodule = instantiate(cfg.data)
    datamodule.setup("fit")
    loader = datamodule.train_dataloader()
    assert loader.pin_memory and loader.persistent_workers and loader.prefetch_factor == 4
    cfg = compose_config("train", [*TINY, "data.persistent_workers=false"], tmp_path)
    datamodule = instantiate(cfg.data)
    datamodule.setup("fit")
    loader = datamodule.val_dataloader()
    assert not loader.persistent_workers and loader.prefetch_factor is None  # no workers
