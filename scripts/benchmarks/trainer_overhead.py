"""Trainer overhead: the default Trainer (callbacks, logger, progress bar) against a bare loop
on the same in-memory batches, as the slope of time over two step counts, repeated."""

from __future__ import annotations

import logging
import statistics
import tempfile
import time
import warnings
from contextlib import redirect_stdout
from io import StringIO

import torch
from hydra.utils import instantiate
from omegaconf import DictConfig, open_dict
from torch.utils.data import DataLoader, Dataset

from benchmarks.common import (
    Row,
    compose_config,
    endless,
    synchronize,
    torch_threads,
    train_loader,
)
from posekit.engine.tasks import instantiate_group
from posekit.models.checkpoint import build_model

# (width, height) of the overhead rows' images: a small step, so that the machine's noise (a
# share of the step) stays below the overhead measured
OVERHEAD_INPUT = (24, 32)


class Repeated(Dataset):
    """``length`` batches cycling through ``batches`` (the loader adds no work)."""

    def __init__(self, batches: list[dict[str, torch.Tensor]], length: int) -> None:
        self.batches, self.length = batches, length

    def __len__(self) -> int:
        return self.length

    def __getitem__(self, index: int) -> dict[str, torch.Tensor]:
        return self.batches[index % len(self.batches)]


def clock(device: torch.device) -> float:
    """Process CPU time on the CPU (other agents' load does not count); wall time on a GPU."""
    if device.type == "cuda":
        synchronize(device)
        return time.perf_counter()
    return time.process_time()


def trainer_seconds(cfg: DictConfig, batches: list, steps: int, device: torch.device) -> float:
    model = build_model(cfg)
    with open_dict(cfg):
        cfg.trainer.default_root_dir = tempfile.mkdtemp(prefix="posekit-overhead-")
    trainer = instantiate(
        cfg.trainer, callbacks=instantiate_group(cfg.get("callbacks")),
        logger=instantiate_group(cfg.get("logger")) or False, max_steps=steps, max_epochs=1,
        limit_val_batches=0, num_sanity_val_steps=0, enable_model_summary=False,
        accelerator=device.type,
    )
    loader = DataLoader(Repeated(batches, steps), batch_size=None)
    with redirect_stdout(StringIO()):
        start = clock(device)
        trainer.fit(model, train_dataloaders=loader)
        return clock(device) - start


def autocast_dtype(precision: str) -> torch.dtype | None:
    """The autocast dtype of a Lightning precision setting the bare loop mirrors (None: none)."""
    dtypes = {"32-true": None, "32": None, "bf16-mixed": torch.bfloat16,
              "16-mixed": torch.float16}
    if precision not in dtypes:
        raise ValueError(f"the trainer-overhead row supports trainer.precision in {list(dtypes)}, "
                         f"got {precision!r}")
    return dtypes[precision]


def bare_seconds(cfg: DictConfig, batches: list, steps: int, device: torch.device) -> float:
    """The same steps without Lightning: forward (under the trainer's autocast, as Lightning's
    precision plugin runs it), float32 loss, backward (scaled for float16), optimizer."""
    model = build_model(cfg).to(device).train()
    optimizer = instantiate(cfg.model.optimizer)(params=model.parameters())
    loader = DataLoader(Repeated(batches, steps), batch_size=None)
    dtype = autocast_dtype(str(cfg.trainer.precision))
    scaler = torch.amp.GradScaler(device.type, enabled=dtype is torch.float16)
    start = clock(device)
    for batch in loader:
        batch = {key: value.to(device, non_blocking=True) for key, value in batch.items()}
        with torch.autocast(device.type, dtype=dtype, enabled=dtype is not None):
            features, outputs = model._network(model.normalize(batch["image"]))
        targets = model._targets(outputs, batch, model.codec)
        loss = model.loss_fn(outputs, targets, batch["keypoint_weights"])
        optimizer.zero_grad(set_to_none=True)
        scaler.scale(loss).backward()
        scaler.step(optimizer)
        scaler.update()
    return clock(device) - start


def overhead_rows(args: DictConfig) -> list[Row]:
    """Median and spread of (trainer - bare) ms per step, each a slope over two step counts."""
    device = torch.device("cuda" if torch.cuda.is_available() else "cpu")
    overrides = [*args.overrides, f"data.input_size=[{OVERHEAD_INPUT[0]},{OVERHEAD_INPUT[1]}]",
                 "data.photometric=null",
                 f"trainer.accelerator={device.type}"]
    cfg = compose_config(overrides)
    batches_iter = endless(train_loader(cfg, 0, args.overhead_batch_size))
    batches = [next(batches_iter) for _ in range(4)]
    few, many = args.overhead_steps
    quiet = [logging.getLogger(name) for name in ("lightning.pytorch", "lightning.fabric")]
    levels = [logger.level for logger in quiet]
    for logger in quiet:
        logger.setLevel(logging.ERROR)
    slopes: dict[str, list[float]] = {"trainer": [], "bare": []}
    # one intra-op thread: the process CPU time then counts no spinning of idle pool threads
    try:
        with warnings.catch_warnings(), torch_threads(1):
            warnings.simplefilter("ignore")
            for _ in range(args.repeats):
                for name, run in (("trainer", trainer_seconds), ("bare", bare_seconds)):
                    seconds = run(cfg, batches, many, device) - run(cfg, batches, few, device)
                    slopes[name].append(seconds / (many - few) * 1000)
    finally:  # Lightning's lines are printed again after the measurement (in-process callers)
        for logger, level in zip(quiet, levels):
            logger.setLevel(level)
    overhead = [t - b for t, b in zip(slopes["trainer"], slopes["bare"])]
    clock_name = "wall time" if device.type == "cuda" else "process CPU time"
    note = (f"default callbacks + csv logger vs bare loop, both {cfg.trainer.precision}; slope "
            f"{few}->{many} steps, {args.repeats} repeats, {clock_name}, 1 thread; batch "
            f"{args.overhead_batch_size} at {OVERHEAD_INPUT[1]}x{OVERHEAD_INPUT[0]}")
    return [
        Row("trainer overhead", f"{device.type}, trainer - bare", statistics.median(overhead),
            unit="ms/step", spread=f"{min(overhead):.2f} to {max(overhead):.2f}", note=note),
        Row("trainer overhead", f"{device.type}, bare step", statistics.median(slopes["bare"]),
            unit="ms/step",
            spread=f"{min(slopes['bare']):.2f} to {max(slopes['bare']):.2f}"),
    ]
