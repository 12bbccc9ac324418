"""Data loading: samples/s per worker count, and the data path beside the decode bound on
COCO-size JPEGs (with the share of samples decoded at reduced scale)."""

from __future__ import annotations

import json
import statistics
import subprocess
import tempfile
import time
from functools import partial
from pathlib import Path
from typing import Callable

import cv2
from omegaconf import DictConfig
from torch.utils.data import DataLoader

from benchmarks.common import (
    Row,
    coco_fixture,
    coco_fixture_overrides,
    compose_config,
    endless,
    one_image_per_person,
    size_label,
    torch_threads,
    train_loader,
)
from posekit.data.decode import REDUCED_MODES

GROUP = "COCO-size JPEGs (1 core)"


def loader_rate(loader: DataLoader, seconds: float) -> float:
    """Samples/s over about ``seconds``, after one warm-up batch (which starts the workers)."""
    batches = endless(loader)
    next(batches)
    samples, start = 0, time.perf_counter()
    while (elapsed := time.perf_counter() - start) < seconds or samples == 0:
        samples += len(next(batches)["keypoints"])
    return samples / elapsed


def decode_rate(paths: list[str], seconds: float, factor: int = 1) -> float:
    """Images/s of cv2.imread alone (to RGB, as the data path), cycling through ``paths``."""
    mode = cv2.IMREAD_COLOR if factor == 1 else REDUCED_MODES[factor]
    images, start = 0, time.perf_counter()
    while (elapsed := time.perf_counter() - start) < seconds or images == 0:
        image = cv2.imread(paths[images % len(paths)], mode)
        if image is None:
            raise FileNotFoundError(paths[images % len(paths)])
        cv2.cvtColor(image, cv2.COLOR_BGR2RGB)
        images += 1
    return images / elapsed


def mmpose_rate(python: str, root: Path, size: tuple[int, int], args: DictConfig) -> dict:
    """mmpose's training data path on ``root`` (mmpose_data_path.py run by ``python``, an
    interpreter with mmpose): {"samples_per_s": ..., "mmpose": version}."""
    script = Path(__file__).with_name("mmpose_data_path.py")
    command = [python, str(script), str(root), "--seconds", str(args.seconds),
               "--batch-size", str(args.batch_size), "--input-size", *map(str, size)]
    done = subprocess.run(command, capture_output=True, text=True)
    lines = [line for line in done.stdout.splitlines() if line.startswith("{")]
    if done.returncode != 0 or not lines:
        raise SystemExit(
            f"mmpose_python={python}: the mmpose measurement failed (exit {done.returncode}); "
            f"its last output:\n{(done.stderr or done.stdout)[-2000:]}\nREADME's Performance "
            "section says how to make an environment with mmpose."
        )
    return json.loads(lines[-1])


def loader_rows(configs: list[DictConfig], args: DictConfig) -> list[Row]:
    """The sample's training loader per worker count, at each input size."""
    rows = []
    for cfg in configs:
        for workers in args.workers:
            rate = loader_rate(train_loader(cfg, workers, args.batch_size), args.seconds)
            where = f"{workers} workers" if workers else "main process"
            rows.append(Row("data loading", f"sample {size_label(cfg)}, {where}", rate,
                            per_worker=rate / max(workers, 1)))
    return rows


def coco_rows(args: DictConfig) -> list[Row]:
    """Main process, one thread (as one worker): decoding alone vs the whole training sample,
    with reduced decoding off and on, and grouped by image (data.group_by_image: one decode for
    an image's people; COCO's training set has 2.6 people per image), on the
    COCO fixture's 640x480 JPEGs."""
    folder = coco_fixture()
    if folder is None:
        print("COCO fixture not found (POSEKIT_FIXTURES): the COCO-size rows are left out")
        return []
    paths = sorted(str(p) for p in folder.glob("*.jpg"))
    full = decode_rate(paths, args.seconds)
    rows = [Row(GROUP, "decode only, cv2.imread full", full, unit="images/s"),
            Row(GROUP, "decode only, cv2.imread at 1/2", decode_rate(paths, args.seconds, 2),
                unit="images/s")]
    with tempfile.TemporaryDirectory(prefix="posekit-coco-") as scratch:
        rows += path_rows(folder, Path(scratch), full, args)
    return rows


def path_rows(folder: Path, scratch: Path, full: float, args: DictConfig) -> list[Row]:
    """The training data path at 256x192 and 128x96: shuffled with reduced decoding off and on,
    and grouped by image; ``full``: the full-decode rate the notes compare with."""
    rows = []
    # the shuffled rows read a copy with an image per person, as a shuffle of a large set does
    copies = one_image_per_person(folder, scratch)
    settings = [("reduced decode off", copies, ["data.reduced_decode=false"]),
                ("reduced decode on", copies, ["data.reduced_decode=true"]),
                ("grouped by image", folder, ["data.reduced_decode=true",
                                              "data.group_by_image=true"])]
    for size in ((192, 256), (96, 128)):
        for name, root, options in settings:
            overrides = [*coco_fixture_overrides(root, size), *options]
            loader = train_loader(compose_config([*args.overrides, *overrides]), 0,
                                  args.batch_size)
            rate = loader_rate(loader, args.seconds)
            dataset = loader.dataset
            samples = sum(dataset.decode_factors.values())
            share = 1 - dataset.decode_factors[1] / max(samples, 1)
            note = (f"{rate / full:.2f} x full decode; {share:.0%} of samples reduced; "
                    f"{samples / max(dataset.reader.decodes, 1):.1f} samples per decode")
            if name == "grouped by image":
                images = dataset.records.num_images
                note += f" ({len(dataset) / images:.1f} people per image here)"
            rows.append(Row(GROUP, f"data path {size[1]}x{size[0]}, {name}", rate, note=note))
            if name == "reduced decode on" and args.mmpose_python:
                again = partial(loader_rate, loader, args.seconds)
                rows.append(mmpose_row(copies, size, again, full, args))
    return rows


def versions() -> str:
    """The packages of this environment that the data path's speed depends on."""
    import albumentations
    import numpy
    import torch

    return (f"torch {torch.__version__}, numpy {numpy.__version__}, OpenCV {cv2.__version__}, "
            f"albumentations {albumentations.__version__}")


def mmpose_row(root: Path, size: tuple[int, int], posekit: Callable[[], float], full: float,
               args: DictConfig) -> Row:
    """mmpose's data path on the same shuffled copies, beside posekit's: ``args.mmpose_rounds``
    interleaved rounds (``posekit()`` measures posekit's rate once, then mmpose's once), so that
    a busy machine slows both alike; the ratio's median and spread over the rounds."""
    ours, theirs = [], []
    for _ in range(max(1, getattr(args, "mmpose_rounds", 1))):
        ours.append(posekit())
        measured = mmpose_rate(args.mmpose_python, root, size, args)
        theirs.append(measured["samples_per_s"])
    ratios = sorted(a / b for a, b in zip(ours, theirs))
    rate = statistics.median(theirs)
    mmpose_versions = ", ".join(f"{k} {v}" for k, v in measured.get("versions", {}).items())
    return Row(GROUP, f"mmpose {measured['mmpose']} data path {size[1]}x{size[0]}, shuffled",
               rate, spread=f"{min(theirs):,.0f} - {max(theirs):,.0f}",
               note=f"{rate / full:.2f} x full decode; posekit's shuffled path (reduced decode "
                    f"on) is {statistics.median(ratios):.2f} x this (median of {len(ratios)} "
                    f"interleaved rounds, {ratios[0]:.2f} - {ratios[-1]:.2f}); posekit: "
                    f"{versions()}; mmpose: {mmpose_versions or 'versions not reported'}")


def data_rows(configs: list[DictConfig], args: DictConfig) -> list[Row]:
    # one torch thread in the main process, as in a worker: with 2 intra-op threads on a busy
    # machine, default_collate's torch.stack alone can be 10x slower
    with torch_threads(1):
        return loader_rows(configs, args) + coco_rows(args)
