"""The official MPII PCKh, computed against ``mpii_gt_val.mat`` as the MATLAB evaluation does.

The mat (MATLAB layout, M = number of evaluated person records) holds
  * ``dataset_joints``: 1 x 16 cell of joint short names (``rank``, ``rkne``, ..., ``lwri``),
  * ``jnt_missing``: (16, M), non-zero where the joint is not annotated,
  * ``pos_gt_src``: (16, 2, M) 1-based joint positions (x, y); (2, 16, M) is accepted too,
  * ``headboxes_src``: (2, 2, M) head boxes, ``[corner (top-left, bottom-right), xy, record]``.
Column i belongs to record i of the validation annotation list, which is the ``sample_idx``.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any, ClassVar

import numpy as np
import scipy.io
from torch import Tensor

from posekit.data.spec import KeypointSpec
from posekit.metrics.base import KeypointMetric

NUM_JOINTS = 16
SC_BIAS = 0.6  # head size = 0.6 * head box diagonal
MAT_KEYS = ("dataset_joints", "jnt_missing", "pos_gt_src", "headboxes_src")
JOINT_SHORT_NAMES = (
    "rank", "rkne", "rhip", "lhip", "lkne", "lank", "pelv", "thor",
    "neck", "head", "rwri", "relb", "rsho", "lsho", "lelb", "lwri",
)  # fmt: skip
# joints the official evaluation looks up by name in dataset_joints; checked against this order
CHECKED_JOINTS = (0, 1, 2, 3, 4, 5, 9, 10, 11, 12, 13, 14, 15)
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


def write_mpii_gt_mat(
    path: str | Path, joints: np.ndarray, missing: np.ndarray, headboxes: np.ndarray
) -> None:
    """Write a PCKh ground-truth mat with the structure of the official ``mpii_gt_val.mat``.

    Args:
        path: output ``.mat`` file.
        joints: (M, 16, 2) joint positions x, y, 1-based (MATLAB) image coordinates.
        missing: (M, 16), truthy where the joint is not annotated.
        headboxes: (M, 2, 2) head boxes ``[[x1, y1], [x2, y2]]``, 1-based.
    """
    joints = np.asarray(joints, dtype=np.float64)
    missing = np.asarray(missing)
    headboxes = np.asarray(headboxes, dtype=np.float64)
    m = joints.shape[0]
    for label, array, shape in (
        ("joints", joints, (m, NUM_JOINTS, 2)),
        ("missing", missing, (m, NUM_JOINTS)),
        ("headboxes", headboxes, (m, 2, 2)),
    ):
        if array.shape != shape:
            raise ValueError(
                f"write_mpii_gt_mat: {label} must have shape {shape}, got {array.shape}"
            )
    names = np.empty((1, NUM_JOINTS), dtype=object)
    names[0, :] = JOINT_SHORT_NAMES
    scipy.io.savemat(
        str(path),
        {
            "dataset_joints": names,
            "jnt_missing": (missing != 0).astype(np.float64).T,  # (16, M)
            "pos_gt_src": joints.transpose(1, 2, 0),  # (16, 2, M)
            "headboxes_src": headboxes.transpose(1, 2, 0),  # (2, 2, M)
        },
    )


def _load_gt(path: Path) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Visible mask (16, M) bool, 1-based positions (16, 2, M), head sizes (M,) from the mat."""
    if not path.is_file():
        raise FileNotFoundError(f"MPII PCKh ground truth not found: {path}")
    data = scipy.io.loadmat(str(path))
    missing_keys = [key for key in MAT_KEYS if key not in data]
    if missing_keys:
        raise KeyError(
            f"{path}: MPII PCKh ground truth lacks {missing_keys} (needs {list(MAT_KEYS)})"
        )
    names = [
        str(np.asarray(x).ravel()[0]) if np.asarray(x).size else ""
        for x in data["dataset_joints"].ravel()
    ]
    if len(names) != NUM_JOINTS or any(names[j] != JOINT_SHORT_NAMES[j] for j in CHECKED_JOINTS):
        raise ValueError(
            f"{path}: dataset_joints {names} is not the MPII joint order {list(JOINT_SHORT_NAMES)}"
        )
    jnt_missing = np.asarray(data["jnt_missing"])
    pos = np.asarray(data["pos_gt_src"], dtype=np.float64)
    headboxes = np.asarray(data["headboxes_src"], dtype=np.float64)
    m = jnt_missing.shape[-1]
    if pos.shape == (2, NUM_JOINTS, m):  # tolerate the (xy, joint, record) ordering
        pos = pos.transpose(1, 0, 2)
    for key, array, shape in (
        ("jnt_missing", jnt_missing, (NUM_JOINTS, m)),
        ("pos_gt_src", pos, (NUM_JOINTS, 2, m)),
        ("headboxes_src", headboxes, (2, 2, m)),
    ):
        if array.shape != shape:
            raise ValueError(f"{path}: '{key}' has shape {array.shape}, expected {shape}")
    head_sizes = SC_BIAS * np.linalg.norm(headboxes[1] - headboxes[0], axis=0)  # (M,)
    return jnt_missing == 0, pos, head_sizes


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
        super().__init__(num_keypoints=NUM_JOINTS, **kwargs)
        if spec is not None and spec.num_keypoints != NUM_JOINTS:
            raise ValueError(
                f"MPIIPCKh needs the 16 MPII joints, keypoint spec '{spec.name}' "
                f"has {spec.num_keypoints}"
            )
        self.gt_mat_path = Path(gt_mat_path)
        self.threshold = float(threshold)
        self.low_threshold = float(low_threshold)
        self._visible, self._gt_pos, self._head_sizes = _load_gt(self.gt_mat_path)

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
        return float((pckh * weights).sum() / total) if total > 0 else 0.0

    def compute(self) -> dict[str, Tensor]:
        low_key = f"PCKh@{self.low_threshold:g}"
        states = self._collect()
        if states is None:
            return self._scalars(
                {
                    **{f"PCKh/{part}": 0.0 for part in PARTS},
                    "PCKh": 0.0,
                    low_key: 0.0,
                    "PCKh@0.1/hrnet": 0.0,
                }
            )
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
        return self._scalars(values)
