"""GPU-ready training options, each checked on the CPU: torch.compile, channels_last, bf16
autocast, pinned memory with prefetching workers."""

from __future__ import annotations

import pytest
import torch
from helpers import compose_config
from hydra.utils import instantiate

from posekit import config
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


def cpu_flags() -> set[str]:
    """The CPU's feature flags as Linux lists them (an independent reading of what torch sees)."""
    try:
        with open("/proc/cpuinfo") as f:
            line = next(line for line in f if line.startswith("flags"))
    except (OSError, StopIteration):
        pytest.skip("no /proc/cpuinfo flags here")
    return set(line.split(":", 1)[1].split())


def test_auto_precision_is_bf16_only_for_a_cpu_with_bf16(monkeypatch):
    for has_bf16, has_cuda, accelerator, expected in [
        (True, False, "auto", "bf16-mixed"), (True, True, "auto", "32-true"),
        (True, True, "cpu", "bf16-mixed"), (True, True, "gpu", "32-true"),
        (False, False, "auto", "32-true"), (False, False, "cpu", "32-true"),
    ]:
        monkeypatch.setattr(config, "cpu_computes_bf16", lambda value=has_bf16: value)
        monkeypatch.setattr(torch.cuda, "is_available", lambda value=has_cuda: value)
        assert config.auto_precision(accelerator) == expected, (has_bf16, has_cuda, accelerator)


def test_the_default_trainer_trains_in_bf16_where_the_cpu_has_it(tmp_path):
    flags = cpu_flags()
    native = bool({"avx512_bf16", "amx_bf16"} & flags)
    assert config.cpu_computes_bf16() == native
    cfg = compose_config("train", [], tmp_path)
    on_cpu = not torch.cuda.is_available()
    assert cfg.trainer.precision == ("bf16-mixed" if native and on_cpu else "32-true")
    assert compose_config("train", ["trainer.precision=32-true"], tmp_path).trainer.precision \
        == "32-true"


def test_evaluation_runs_in_float32_under_mixed_precision(tmp_path):
    """A bf16-mixed run validates (and eval.py, the Predictor, export predict) in float32: the
    same keypoints as outside any autocast."""
    cfg, batch = first_batch(tmp_path)
    torch.manual_seed(0)
    model = build_model(cfg).eval()
    with torch.no_grad():
        plain = model.predict_crops(batch["image"], batch["center"], batch["scale"])
        with torch.autocast("cpu", dtype=torch.bfloat16):
            mixed = model.predict_crops(batch["image"], batch["center"], batch["scale"])
    assert all(value.dtype == torch.float32 for value in mixed.outputs.values())
    torch.testing.assert_close(mixed.keypoints, plain.keypoints, rtol=0, atol=0)
    torch.testing.assert_close(mixed.scores, plain.scores, rtol=0, atol=0)


def test_channels_last_auto_means_nhwc_on_the_cpu(tmp_path):
    cfg, batch = first_batch(tmp_path)
    model = build_model(cfg)
    layouts = {}
    for setting in (True, False, "auto"):
        model.channels_last = setting
        layouts[setting] = model.normalize(batch["image"]).is_contiguous(
            memory_format=torch.channels_last)
    assert layouts == {True: True, False: False, "auto": True}
    with pytest.raises(Exception, match="model.channels_last must be true, false or auto"):
        build_model(compose_config("train", [*TINY, "model.channels_last=sometimes"], tmp_path))


@pytest.mark.parametrize("family", ["simcc", "dsnt", "rle", "ipr"])
def test_heads_and_losses_run_in_float32_under_bf16(family, tmp_path):
    """bf16-mixed trains the backbone in bf16 and the head and loss in float32: one bf16 step
    of DSNT's head used to turn its weights to NaN."""
    cfg, batch = first_batch(tmp_path, f"model={family}")
    torch.manual_seed(0)
    model = build_model(cfg)
    reference = model.training_step(batch, 0)
    with torch.autocast("cpu", dtype=torch.bfloat16):
        features, outputs = model._network(model.normalize(batch["image"]))
        low = model.training_step(batch, 0)
    assert features[0].dtype == torch.bfloat16  # the backbone did run in bf16
    assert all(value.dtype == torch.float32 for value in outputs.values())
    assert low.dtype == torch.float32 and torch.isfinite(low)
    low.backward()
    assert all(torch.isfinite(p.grad).all() for p in model.parameters() if p.grad is not None)
    assert low.item() == pytest.approx(reference.item(), rel=0.05, abs=1e-3)
