"""The official MPII PCKh, computed against ``mpii_gt_val.mat`` as the MATLAB evaluation does.

The file's layout is in :mod:`posekit.core.mpii_gt`. Column i belongs to record i of the
validation annotation list, which is the ``sample_idx``.
"""

from __future__ import annotations

import math
from pathlib import Path
from typing import Any, ClassVar

import numpy as np
from torch import Tensor

from posekit.core.mpii_gt import NUM_JOINTS, read_mpii_gt_mat
from posekit.core.spec import KeypointSpec
from posekit.metrics.base import KeypointMetric

EXCLUDED_FROM_MEAN = (6, 7)  # pelvis, thorax
# The published "Mean@0.1" of the HRNet and SimCC code bases is pckAll[11] of the thresholds
# np.arange(0, 0.51, 0.01), i.e. PCKh at 0.11: reported as "PCKh@0.1/hrnet" to compare with them.
HRNET_LOW_THRESHOLD = float(np.arange(0, 0.5 + 0.01, 0.01)[11])
PARTS: dict[str, tuple[int, ...]] = {
    "Head": (9,),
    "Shoulder": (12, 13),
    "Elbow": (11, 14),
    "Wrist": (10, 15),
    "Hip": (2, 3),
    "Knee": (1, 4),
    "Ankle": (0, 5),
}


class MPIIPCKh(KeypointMetric):
    """MPII PCKh@threshold (percent), as the official MATLAB / HRNet evaluation.

    Predictions (0-based image coordinates) are shifted by +1 to MATLAB's 1-based coordinates and
    compared with ``pos_gt_src``; a joint with ``jnt_missing == 0`` is correct when
    ``error / (0.6 * head box diagonal) <= threshold``. Only the records named by ``sample_idx``
    are evaluated (all M for a full validation run).

    ``compute()`` returns ``PCKh/Head`` (head_top), ``PCKh/Shoulder``, ``PCKh/Elbow``,
    ``PCKh/Wrist``, ``PCKh/Hip``, ``PCKh/Knee``, ``PCKh/Ankle`` (left/right means),
    ``PCKh`` (mean over joints weighted by their labelled counts, pelvis and thorax left out)
    and ``f"PCKh@{low_threshold:g}"`` (the same mean at ``low_threshold``), all in [0, 100].
    ``PCKh@0.1/hrnet`` is the same mean at 0.11, the threshold behind the "Mean@0.1" that the
    HRNet and SimCC code bases print (and their papers publish).
    """

    meta_keys: ClassVar[tuple[str, ...]] = ()

    def __init__(
        self,
        gt_mat_path: str,
        threshold: float = 0.5,
        low_threshold: float = 0.1,
        spec: KeypointSpec | None = None,
        **kwargs: Any,
    ) -> None:
        if spec is not None and spec.num_keypoints != NUM_JOINTS:  # the protocol's joints
            raise ValueError(
                f"MPIIPCKh needs the {NUM_JOINTS} MPII joints, keypoint spec '{spec.name}' "
                f"has {spec.num_keypoints}"
            )
        super().__init__(num_keypoints=NUM_JOINTS, spec=spec, **kwargs)
        self.gt_mat_path = Path(gt_mat_path)
        self.threshold = float(threshold)
        self.low_threshold = float(low_threshold)
        self._visible, self._gt_pos, self._head_sizes = read_mpii_gt_mat(self.gt_mat_path)

    @property
    def num_records(self) -> int:
        """M, the number of person records (columns) in the ground-truth mat."""
        return self._head_sizes.shape[0]

    def _per_joint(
        self, error: np.ndarray, visible: np.ndarray, threshold: float
    ) -> tuple[np.ndarray, np.ndarray]:
        """PCKh per joint in percent (16,) and labelled counts (16,)."""
        count = visible.sum(axis=1)
        correct = ((error <= threshold) & visible).sum(axis=1)
        return 100.0 * correct / np.maximum(count, 1), count

    @staticmethod
    def _mean(pckh: np.ndarray, count: np.ndarray) -> float:
        weights = count.astype(np.float64)
        weights[list(EXCLUDED_FROM_MEAN)] = 0.0
        total = weights.sum()
        return float((pckh * weights).sum() / total) if total > 0 else float("nan")

    def compute(self) -> dict[str, Tensor]:
        low_key = f"PCKh@{self.low_threshold:g}"
        states = self._collect()
        if states is None:
            return {}  # nothing evaluated: absent, never 0
        columns = states["sample_idx"].cpu().numpy()
        if columns.min() < 0 or columns.max() >= self.num_records:
            raise IndexError(
                f"MPIIPCKh: sample_idx out of range [0, {self.num_records}) of {self.gt_mat_path} "
                f"(got min {columns.min()}, max {columns.max()})"
            )
        pred = states["pred_keypoints"].double().cpu().numpy() + 1.0  # (N, 16, 2), 1-based
        gt = self._gt_pos[:, :, columns]  # (16, 2, N)
        visible = self._visible[:, columns]  # (16, N)
        head = self._head_sizes[columns]  # (N,)
        distance = np.linalg.norm(pred.transpose(1, 2, 0) - gt, axis=1)  # (16, N)
        with np.errstate(divide="ignore", invalid="ignore"):
            error = (
                distance / head[None, :]
            )  # (16, N); a zero head box counts as wrong, as officially
        pckh, count = self._per_joint(error, visible, self.threshold)
        values = {
            f"PCKh/{part}": float(np.mean(pckh[list(joints)])) for part, joints in PARTS.items()
        }
        values["PCKh"] = self._mean(pckh, count)
        low_pckh, low_count = self._per_joint(error, visible, self.low_threshold)
        values[low_key] = self._mean(low_pckh, low_count)
        values["PCKh@0.1/hrnet"] = self._mean(*self._per_joint(error, visible, HRNET_LOW_THRESHOLD))
        # nothing labelled (NaN): absent, never 0
        return self._scalars({key: v for key, v in values.items() if not math.isnan(v)})
