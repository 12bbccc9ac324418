"""The MPII PCKh ground-truth file (``mpii_gt_val.mat``): its layout, a reader and a writer.

The mat (MATLAB layout, M = number of evaluated person records) holds
  * ``dataset_joints``: 1 x 16 cell of joint short names (``rank``, ``rkne``, ..., ``lwri``),
  * ``jnt_missing``: (16, M), non-zero where the joint is not annotated,
  * ``pos_gt_src``: (16, 2, M) 1-based joint positions (x, y); (2, 16, M) is accepted too,
  * ``headboxes_src``: (2, 2, M) head boxes, ``[corner (top-left, bottom-right), xy, record]``.
Data preparation writes it (``scripts/prepare_data.py``); the PCKh metric reads it.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np
import scipy.io

JOINT_SHORT_NAMES = (
    "rank", "rkne", "rhip", "lhip", "lkne", "lank", "pelv", "thor",
    "neck", "head", "rwri", "relb", "rsho", "lsho", "lelb", "lwri",
)  # fmt: skip
NUM_JOINTS = len(JOINT_SHORT_NAMES)  # the official protocol's joint list
SC_BIAS = 0.6  # head size = 0.6 * head box diagonal
MAT_KEYS = ("dataset_joints", "jnt_missing", "pos_gt_src", "headboxes_src")
# joints the official evaluation looks up by name in dataset_joints; checked against this order
CHECKED_JOINTS = (0, 1, 2, 3, 4, 5, 9, 10, 11, 12, 13, 14, 15)


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


def read_mpii_gt_mat(path: Path) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
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
