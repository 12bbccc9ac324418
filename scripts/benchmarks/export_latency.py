"""Deployment latency on the CPU: one image's people through onnxruntime, crops cut outside
the graph (cv2, the Predictor's crop) against the crop inside it (``crop_in_graph``, OpenCV 4's
fixed-point warp in float64), and the crop alone both ways. The configured model, untrained
(weights do not change the time), with flip test."""

from __future__ import annotations

import statistics
import tempfile
import time
from pathlib import Path
from typing import Callable

import cv2
import numpy as np
import torch
from omegaconf import DictConfig

from benchmarks.common import Row, compose_config, size_label
from posekit.core.geometry import bbox_to_center_scale, crop_affine_matrix
from posekit.core.warp import opencv_warp_affine
from posekit.deploy.export import export, run_exported
from posekit.deploy.predictor import Predictor, clip_boxes
from posekit.models.checkpoint import build_model

IMAGE_SIZE = (1280, 720)  # (W, H)
PEOPLE = 10
TIMED_CALLS = 10


def scene(seed: int = 0) -> tuple[np.ndarray, np.ndarray]:
    """A smooth RGB image (H, W, 3) uint8 and PEOPLE boxes (PEOPLE, 4) xywh across it."""
    width, height = IMAGE_SIZE
    noise = np.random.default_rng(seed).random((height // 8, width // 8, 3)) * 255
    image = cv2.resize(noise.astype(np.uint8), IMAGE_SIZE, interpolation=cv2.INTER_LINEAR)
    boxes = np.array([[40 + 120 * i, 60 + 20 * (i % 3), 110, 300] for i in range(PEOPLE)],
                     np.float32)
    return image, boxes


def median_ms(run: Callable[[], object], repeats: int) -> tuple[float, str]:
    """Median and spread (ms) of ``repeats`` timed calls after one warm-up call."""
    run()
    times = []
    for _ in range(repeats):
        start = time.perf_counter()
        run()
        times.append((time.perf_counter() - start) * 1000)
    return statistics.median(times), f"{min(times):.1f} - {max(times):.1f}"


def export_rows(args: DictConfig) -> list[Row]:
    """Per image of PEOPLE people, median of TIMED_CALLS: crop outside + ONNX, crop in the
    graph, and the crops alone."""
    cfg = compose_config(args.overrides)
    model = build_model(cfg).eval()
    folder = Path(tempfile.mkdtemp(prefix="posekit-export-"))
    outside, inside = folder / "crops.onnx", folder / "image.onnx"
    padding = float(cfg.data.get("bbox_padding", 1.25))
    export(model, outside, "onnx", with_decode=True, flip_test=True)
    export(model, inside, "onnx", flip_test=True, crop_in_graph=True, bbox_padding=padding)
    image, boxes = scene()
    predictor = Predictor(model, bbox_padding=padding)
    input_size = predictor.input_size

    def crops_outside() -> None:  # the README's deployment: cv2 crops, ONNX, back to the image
        crops, _, _ = predictor.crop(image, clip_boxes(boxes, *IMAGE_SIZE))
        run_exported(outside, "onnx", torch.from_numpy(crops).permute(0, 3, 1, 2).contiguous())

    image_tensor, box_tensor = torch.from_numpy(image), torch.from_numpy(boxes)
    matrices = [
        crop_affine_matrix(*bbox_to_center_scale(box, predictor.aspect_ratio, padding), 0.0,
                           input_size)
        for box in clip_boxes(boxes, *IMAGE_SIZE)
    ]
    stacked = torch.from_numpy(np.stack(matrices))
    timings = {
        "crops cut outside (cv2) + ONNX": median_ms(crops_outside, TIMED_CALLS),
        "crop_in_graph ONNX": median_ms(
            lambda: run_exported(inside, "onnx", image_tensor, box_tensor), TIMED_CALLS),
        "the crops alone, cv2.warpAffine": median_ms(
            lambda: [cv2.warpAffine(image, m, input_size, flags=cv2.INTER_LINEAR)
                     for m in matrices], TIMED_CALLS),
        "the crops alone, opencv_warp_affine (torch)": median_ms(
            lambda: opencv_warp_affine(image_tensor, stacked, input_size), TIMED_CALLS),
    }
    label = f"{PEOPLE} people, {IMAGE_SIZE[0]}x{IMAGE_SIZE[1]} image, {size_label(cfg)}, flip"
    base = timings["crops cut outside (cv2) + ONNX"][0]
    return [
        Row("export", f"{name}, {label}", ms, "ms", spread=spread,
            note=f"x{ms / base:.2f} of crops cut outside" if name.endswith("ONNX") else "")
        for name, (ms, spread) in timings.items()
    ]

