"""Peak training memory per head at 256x192: SimCC against heatmaps, by arithmetic (the
targets) and measured (a training step: CUDA's max_memory_allocated, or on the CPU the growth
of the resident set during the first step, in a fresh process per head)."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import torch
from hydra.utils import instantiate
from omegaconf import DictConfig

from benchmarks.common import Row, compose_config, endless, synchronize, train_loader
from benchmarks.process_memory import current_rss, peak_rss, reset_peak_rss
from posekit.models.checkpoint import build_model

HEADS = {
    "simcc": ["model=simcc"],
    "heatmap": ["model=heatmap"],
}
SIZE = ["data.input_size=[192,256]", "data.photometric=null"]
CPU_BACKBONE = ["model/backbone=resnet18_s4"]  # stride 4: the heatmaps' 64x48 grid
CUDA_BACKBONE = ["model/backbone=hrnet_w32", "model.backbone.pretrained=false"]
KIB = 1024.0
MIB = 1024.0 * 1024.0


def target_bytes_per_person(overrides: list[str]) -> int:
    """Bytes of one person's float32 targets (the codec's outputs, weights included)."""
    cfg = compose_config(overrides)
    codec = instantiate(cfg.model.codec)
    k = 17
    targets = codec.encode(torch.zeros(k, 2).numpy() + 10, torch.ones(k).numpy())
    return int(sum(value.nbytes for value in targets.values()))


def measure_step(overrides: list[str], batch_size: int, device: torch.device) -> int:
    """Bytes a training step adds at its peak, beyond the model, optimizer and batch."""
    cfg = compose_config(overrides)
    batch = next(endless(train_loader(cfg, 0, batch_size)))
    model = build_model(cfg).to(device).train()
    optimizer = instantiate(cfg.model.optimizer)(params=model.parameters())
    batch = {key: value.to(device) for key, value in batch.items()}
    if device.type == "cuda":
        synchronize(device)
        torch.cuda.reset_peak_memory_stats(device)
        before = torch.cuda.memory_allocated(device)
    else:
        reset_peak_rss()
        before = current_rss()
    features, outputs = model._network(model.normalize(batch["image"]))
    loss = model.loss_fn(outputs, model._targets(outputs, batch, model.codec),
                         batch["keypoint_weights"])
    loss.backward()
    optimizer.step()
    if device.type == "cuda":
        synchronize(device)
        return torch.cuda.max_memory_allocated(device) - before
    return peak_rss() - before


def measure_in_fresh_process(overrides: list[str], batch_size: int) -> int:
    """measure_step on the CPU in a new interpreter, so that peaks do not mix."""
    code = ("import json, sys, torch; from benchmarks.memory import measure_step; "
            "torch.set_num_threads(1); "
            f"print(json.dumps(measure_step({overrides!r}, {batch_size}, torch.device('cpu'))))")
    scripts = str(Path(__file__).resolve().parents[1])
    env = {**os.environ, "PYTHONPATH": os.pathsep.join([scripts, os.environ.get("PYTHONPATH", "")])}
    result = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, env=env,
                            check=False)
    if result.returncode != 0:
        raise RuntimeError(f"memory measurement failed:\n{result.stderr[-2000:]}")
    return int(json.loads(result.stdout.strip().splitlines()[-1]))


def memory_rows(args: DictConfig) -> list[Row]:
    rows = []
    cuda = torch.cuda.is_available()
    for head, head_overrides in HEADS.items():
        overrides = [*args.overrides, *head_overrides, *SIZE]
        per_person = target_bytes_per_person([*overrides, *CPU_BACKBONE])  # heatmaps at 1/4
        rows.append(Row("memory", f"{head} targets per person, 256x192", per_person / KIB,
                        unit="KiB", note="arithmetic: float32 targets and keypoint weights"))
        measured = [("cpu", measure_in_fresh_process([*overrides, *CPU_BACKBONE],
                                                     args.batch_size), "ResNet-18 stride 4")]
        if cuda:
            measured.append(("cuda", measure_step([*overrides, *CUDA_BACKBONE], args.batch_size,
                                                  torch.device("cuda")), "HRNet-W32"))
        for device, used, network in measured:
            how = "resident-set growth" if device == "cpu" else "max_memory_allocated"
            rows.append(Row("memory", f"{head} training step, {device}", used / MIB, unit="MiB",
                            note=f"{network}, batch {args.batch_size}, 256x192, peak {how}"))
    return rows
