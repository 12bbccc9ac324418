"""The person-box rule shared by the data loader and the metrics, so that a person the loader
skips is not counted as a miss by the metric."""

from __future__ import annotations

import math
from numbers import Real
from typing import Any, Sequence

import numpy as np
import torch

# the reasons :func:`clip_bbox` gives, as counted in the loaders' skip summaries
ZERO_SIZE = "boxes of zero width or height"
NEGATIVE_SIZE = "boxes of negative width or height"
OUTSIDE = "boxes outside the image"


_PLAIN_NUMBERS = frozenset({int, float})


def finite_numbers(values: Sequence[Any]) -> bool:
    """All items are finite real numbers (no NaN, inf, strings, None or bools)."""
    try:  # the common case in C: plain ints and floats whose sum is finite (NaN, inf propagate)
        if _PLAIN_NUMBERS.issuperset(map(type, values)) and math.isfinite(sum(values)):
            return True
    except OverflowError:  # an integer beyond float range: decided value by value
        pass
    return all(
        isinstance(v, Real) and not isinstance(v, bool) and math.isfinite(v) for v in values
    )


def clip_bbox(
    bbox: Sequence[float], width: float | None, height: float | None
) -> tuple[np.ndarray | None, str | None]:
    """Clip an xywh box to the image (the COCO / HRNet convention).

    Returns ``(box (4,) float32, None)``, or ``(None, reason)`` with one of ``ZERO_SIZE``,
    ``NEGATIVE_SIZE``, ``OUTSIDE`` when nothing of the box is left; ``width``/``height`` None:
    the image size is unknown and only the size is checked.
    """
    x, y, w, h = (float(v) for v in bbox)
    if w < 0 or h < 0:
        return None, NEGATIVE_SIZE
    if w == 0 or h == 0:
        return None, ZERO_SIZE
    x1, y1 = max(0.0, x), max(0.0, y)
    x2, y2 = x + w, y + h
    if width is not None and height is not None:
        x2, y2 = min(width - 1.0, x2), min(height - 1.0, y2)
    if x2 <= x1 or y2 <= y1:
        return None, OUTSIDE
    return np.array([x1, y1, x2 - x1, y2 - y1], dtype=np.float32), None


def clip_boxes_batch(
    boxes: torch.Tensor, width: int, height: int
) -> tuple[torch.Tensor, torch.Tensor]:
    """:func:`clip_bbox` for a batch in torch, to the bit (float64, then float32 as it
    returns): boxes (N, 4) xywh -> (clipped boxes (N, 4), kept (N,) bool). A box that
    :func:`clip_bbox` refuses (no size, nothing inside the image) is not kept; its clipped box
    is meaningless."""
    x, y, w, h = boxes.double().unbind(-1)  # each (N,)
    x1, y1 = x.clamp(min=0.0), y.clamp(min=0.0)
    x2, y2 = (x + w).clamp(max=width - 1.0), (y + h).clamp(max=height - 1.0)
    kept = (w > 0) & (h > 0) & (x2 > x1) & (y2 > y1)
    return torch.stack([x1, y1, x2 - x1, y2 - y1], dim=-1).float(), kept
