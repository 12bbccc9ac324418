"""The person record: what every annotation format is read into."""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np


@dataclass
class PersonRecord:
    """One person to crop and estimate.

    ``keypoints`` is (K, 3): x, y in 0-based image pixels and a visibility flag (0 = unlabelled);
    all zeros for a detected box without ground truth. ``bbox`` is (4,) x, y, w, h in pixels.
    ``image_size`` is the (W, H) the annotation file gives, checked against the decoded image
    when it is read (None: the file gives none).
    """

    image_path: str
    image_id: int
    bbox: np.ndarray
    keypoints: np.ndarray
    bbox_score: float = 1.0
    area: float = 0.0
    ann_id: int = -1
    image_size: tuple[int, int] | None = None

    @property
    def num_visible(self) -> int:
        return int((self.keypoints[:, 2] > 0).sum())


class SkipCounter:
    """Counts records dropped by the field's conventions, to report them once per file."""

    def __init__(self, source: str) -> None:
        self.source = source
        self.reasons: dict[str, list] = {}

    def skip(self, reason: str, record_id) -> None:
        self.reasons.setdefault(reason, []).append(record_id)

    def summary(self) -> str:
        parts = [
            f"{len(ids)} {reason} (e.g. {', '.join(map(str, ids[:3]))})"
            for reason, ids in self.reasons.items()
        ]
        return f"{self.source}: skipped " + "; ".join(parts) if parts else ""
