"""Throughput of the data path and of a training step, on the bundled sample.

    python scripts/benchmark.py [--seconds 10] [--workers 0 1 2] [--batch-size 32] [--steps 20]
                                [--overrides key=value ...] [--json PATH]

Prints figures (it is not a test): training-loader samples/s per worker count at the configured
input (128x96 by default) and at 256x192; decode-only images/s (cv2.imread of the same files)
beside the main-process data path (run with 1 torch thread, as a worker is); training-step
samples/s of the configured model on CPU, and on CUDA (also channels_last and bf16 autocast)
when a GPU is present.
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import tempfile
import time
import warnings
from contextlib import contextmanager
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Iterator

import cv2
import torch
from hydra.utils import instantiate
from omegaconf import DictConfig
from rich.console import Console
from rich.table import Table
from torch.utils.data import DataLoader

from posekit.config import compose

# the data sets measured: the config as composed, and 256x192 crops of the same images
EXTRA_OVERRIDES = ([], ["data.input_size=[192,256]"])
WARMUP_STEPS = 3


@dataclass
class Row:
    """One figure: ``rate`` items/s; ``per_worker`` (loader rows) is rate / max(workers, 1)."""

    group: str
    setting: str
    rate: float
    unit: str = "samples/s"
    per_worker: float | None = None
    note: str = ""


# --- config and data ------------------------------------------------------------------------
def compose_config(overrides: list[str]) -> DictConfig:
    """The training config as train.py composes it; output_dir points at a scratch folder."""
    return compose("train", overrides, output_dir=Path(tempfile.gettempdir()) / "posekit-benchmark")


def size_label(cfg: DictConfig) -> str:
    width, height = cfg.data.input_size
    return f"{height}x{width}"


def train_loader(cfg: DictConfig, workers: int, batch_size: int) -> DataLoader:
    """The training loader exactly as the data module builds it, at this worker count."""
    datamodule = instantiate(cfg.data, num_workers=workers, batch_size=batch_size)
    datamodule.setup("fit")
    return datamodule.train_dataloader()


@contextmanager
def torch_threads(count: int) -> Iterator[None]:
    previous = torch.get_num_threads()
    torch.set_num_threads(count)
    try:
        yield
    finally:
        torch.set_num_threads(previous)


def endless(loader: DataLoader) -> Iterator[dict[str, torch.Tensor]]:
    while True:
        yield from loader


# --- data loading ---------------------------------------------------------------------------
def loader_rate(loader: DataLoader, seconds: float) -> float:
    """Samples/s over about ``seconds``, after one warm-up batch (which starts the workers)."""
    batches = endless(loader)
    next(batches)
    samples, start = 0, time.perf_counter()
    while (elapsed := time.perf_counter() - start) < seconds or samples == 0:
        samples += len(next(batches)["image"])
    return samples / elapsed


def decode_rate(paths: list[str], seconds: float) -> float:
    """Images/s of cv2.imread alone, in the main process, cycling through ``paths``."""
    images, start = 0, time.perf_counter()
    while (elapsed := time.perf_counter() - start) < seconds or images == 0:
        if cv2.imread(paths[images % len(paths)], cv2.IMREAD_COLOR) is None:
            raise FileNotFoundError(paths[images % len(paths)])
        images += 1
    return images / elapsed


def data_rows(configs: list[DictConfig], args: argparse.Namespace) -> list[Row]:
    """Loader rows for every size and worker count, then decode-only vs the main process."""
    rows, main_process = [], {}
    for cfg in configs:
        for workers in sorted(set(args.workers) | {0}):
            rate = loader_rate(train_loader(cfg, workers, args.batch_size), args.seconds)
            if workers == 0:
                main_process[size_label(cfg)] = rate
            if workers in args.workers:
                where = f"{workers} workers" if workers else "main process"
                setting = f"{size_label(cfg)}, {where}"
                rows.append(Row("data loading", setting, rate, per_worker=rate / max(workers, 1)))
    records = train_loader(configs[0], 0, args.batch_size).dataset.records
    decode = decode_rate([record.image_path for record in records], args.seconds)
    rows.append(Row("decode vs data path", "cv2.imread only", decode, unit="images/s"))
    for size, rate in main_process.items():
        note = f"{rate / decode:.2f} x decode-only rate"
        rows.append(Row("decode vs data path", f"{size}, main process", rate, note=note))
    return rows


# --- training step --------------------------------------------------------------------------
def real_batches(cfg: DictConfig, batch_size: int, count: int) -> list[dict[str, torch.Tensor]]:
    batches = endless(train_loader(cfg, 0, batch_size))
    return [next(batches) for _ in range(count)]


def synchronize(device: torch.device) -> None:
    if device.type == "cuda":
        torch.cuda.synchronize(device)


def step_rate(
    cfg: DictConfig,
    batches: list[dict[str, torch.Tensor]],
    steps: int,
    device: torch.device,
    channels_last: bool = False,
    bf16: bool = False,
) -> float:
    """Samples/s of forward + loss + backward + optimizer step, batches already on ``device``."""
    model = instantiate(cfg.model, channels_last=channels_last).to(device).train()
    if channels_last:
        model = model.to(memory_format=torch.channels_last)
    optimizer = instantiate(cfg.model.optimizer)(params=model.parameters())
    batches = [{key: value.to(device) for key, value in batch.items()} for batch in batches]

    def step(index: int) -> None:
        with torch.autocast(device.type, dtype=torch.bfloat16, enabled=bf16):
            loss = model.training_step(batches[index % len(batches)], index)
        optimizer.zero_grad(set_to_none=True)
        loss.backward()
        optimizer.step()

    for index in range(WARMUP_STEPS):
        step(index)
    synchronize(device)
    start = time.perf_counter()
    for index in range(steps):
        step(index)
    synchronize(device)
    return steps * len(batches[0]["image"]) / (time.perf_counter() - start)


def training_rows(cfg: DictConfig, args: argparse.Namespace) -> list[Row]:
    """CPU, and on CUDA: fp32, channels_last, bf16 autocast and both."""
    batches = real_batches(cfg, args.batch_size, count=min(args.steps + WARMUP_STEPS, 4))
    variants = [("cpu", False, False)]
    if torch.cuda.is_available():
        variants += [("cuda", cl, bf16) for bf16 in (False, True) for cl in (False, True)]
    rows = []
    for device, channels_last, bf16 in variants:
        setting = " + ".join([device] + ["channels_last"] * channels_last + ["bf16"] * bf16)
        rate = step_rate(cfg, batches, args.steps, torch.device(device), channels_last, bf16)
        note = f"{size_label(cfg)}, batch {args.batch_size}"
        rows.append(Row("training step", setting, rate, note=note))
    return rows


# --- report ---------------------------------------------------------------------------------
def machine(cfg: DictConfig) -> dict[str, object]:
    return {
        "cpus": os.cpu_count(),
        "torch": torch.__version__,
        "torch_threads": torch.get_num_threads(),
        "cuda": torch.cuda.get_device_name() if torch.cuda.is_available() else None,
        "python": platform.python_version(),
        "model_parameters": sum(p.numel() for p in instantiate(cfg.model).parameters()),
    }


def print_report(info: dict[str, object], rows: list[Row]) -> None:
    table = Table(title="posekit benchmark", caption=", ".join(f"{k} {v}" for k, v in info.items()))
    for column in ("measurement", "setting", "rate", "per worker", "note"):
        table.add_column(column, justify="right" if column in ("rate", "per worker") else "left")
    for row in rows:
        per_worker = f"{row.per_worker:,.0f}" if row.per_worker is not None else ""
        table.add_row(row.group, row.setting, f"{row.rate:,.1f} {row.unit}", per_worker, row.note)
    Console(width=120).print(table)


def parse_args(argv: list[str] | None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--seconds", type=float, default=10.0, help="per loader measurement")
    parser.add_argument("--workers", type=int, nargs="+", default=[0, 1, 2])
    parser.add_argument("--batch-size", type=int, default=32)
    parser.add_argument("--steps", type=int, default=20, help="timed training steps per row")
    parser.add_argument("--overrides", nargs="*", default=[], help="Hydra overrides, key=value")
    parser.add_argument("--json", type=Path, help="also write the figures here")
    return parser.parse_args(argv)


def main(argv: list[str] | None = None) -> dict[str, object]:
    args = parse_args(argv)
    warnings.filterwarnings("ignore", message=".*self.log")  # training_step without a Trainer
    configs = [compose_config([*args.overrides, *extra]) for extra in EXTRA_OVERRIDES]
    info = machine(configs[0])
    # loaders run with 1 torch thread in the main process, as in a worker: with 2 intra-op
    # threads on a busy machine, default_collate's torch.stack alone can be 10x slower
    with torch_threads(1):
        rows = data_rows(configs, args)
    rows += training_rows(configs[0], args)
    print_report(info, rows)
    result = {"machine": info, "rows": [asdict(row) for row in rows]}
    if args.json:
        args.json.write_text(json.dumps(result, indent=2) + "\n")
    return result


if __name__ == "__main__":
    main()
