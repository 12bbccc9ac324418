"""Training-step images/s per precision and memory layout on the available devices."""

from __future__ import annotations

import time

import torch
from hydra.utils import instantiate
from omegaconf import DictConfig

from benchmarks.common import (
    Row,
    compose_config,
    endless,
    size_label,
    synchronize,
    train_loader,
)
from posekit.models.checkpoint import build_model

WARMUP_STEPS = 3
# what the CUDA rows train: HRNet-W32 256x192 SimCC (the published COCO recipe's network)
HRNET = ["model/backbone=hrnet_w32", "model.backbone.pretrained=false",
         "data.input_size=[192,256]", "data.photometric=null"]


def step_rate(
    cfg: DictConfig, batches: list, steps: int, device: torch.device,
    channels_last: bool = False, bf16: bool = False, compile: bool = False,
) -> float:
    """Samples/s of forward + loss + backward + optimizer step, batches already on ``device``."""
    model = build_model(cfg).to(device).train()
    model.channels_last, model.compile_network = channels_last, compile
    if channels_last:
        model = model.to(memory_format=torch.channels_last)
    optimizer = instantiate(cfg.model.optimizer)(params=model.parameters())
    batches = [{key: value.to(device) for key, value in batch.items()} for batch in batches]

    def step(index: int) -> None:
        batch = batches[index % len(batches)]
        with torch.autocast(device.type, dtype=torch.bfloat16, enabled=bf16):
            loss = model.training_step(batch, index)  # no trainer attached: nothing is logged
        optimizer.zero_grad(set_to_none=True)
        loss.backward()
        optimizer.step()

    for index in range(WARMUP_STEPS + 2 * compile):
        step(index)
    synchronize(device)
    start = time.perf_counter()
    for index in range(steps):
        step(index)
    synchronize(device)
    return steps * len(batches[0]["image"]) / (time.perf_counter() - start)


def real_batches(cfg: DictConfig, batch_size: int, count: int) -> list[dict[str, torch.Tensor]]:
    batches = endless(train_loader(cfg, 0, batch_size))
    return [next(batches) for _ in range(count)]


def training_rows(args: DictConfig) -> list[Row]:
    """CPU: the configured model, fp32 / channels_last / bf16 autocast / both (the default on
    a CPU with bf16 instructions). CUDA (when present):
    HRNet-W32 256x192 SimCC in fp32, channels_last, bf16 and both, and compiled."""
    cfg = compose_config(args.overrides)
    variants = [(cfg, "cpu", cl, bf16, False) for bf16 in (False, True) for cl in (False, True)]
    if torch.cuda.is_available():
        hrnet = compose_config([*args.overrides, *HRNET])
        variants += [(hrnet, "cuda", cl, bf16, False) for bf16 in (False, True)
                     for cl in (False, True)]
        variants.append((hrnet, "cuda", True, True, True))
    else:
        print("no CUDA device: the HRNet-W32 GPU rows are left out")
    rows = []
    for config, device, channels_last, bf16, compiled in variants:
        batches = real_batches(config, args.batch_size, count=min(args.steps + WARMUP_STEPS, 4))
        name = "HRNet-W32 SimCC" if device == "cuda" else "configured model"
        setting = " + ".join([f"{device} {name}", "fp32" if not bf16 else "bf16"]
                             + ["channels_last"] * channels_last + ["compile"] * compiled)
        rate = step_rate(config, batches, args.steps, torch.device(device), channels_last, bf16,
                         compiled)
        note = f"{size_label(config)}, batch {args.batch_size}"
        rows.append(Row("training step", setting, rate, unit="images/s", note=note))
    return rows
