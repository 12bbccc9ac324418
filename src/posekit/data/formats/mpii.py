"""MPII annotations in the JSON conversion of the HRNet and mmpose code bases.

Each record: ``image`` (file name), ``center`` (x, y), ``scale`` (box height / 200 px),
``joints`` (16, 2) and ``joints_vis`` (16,), in MATLAB's 1-based pixel coordinates.
"""

from __future__ import annotations

import zlib
from pathlib import Path

import numpy as np

from posekit.core.coco_checks import refuse_bad_coordinates
from posekit.core.io import read_json
from posekit.data.records import PersonRecord

MPII_PIXEL_STD = 200.0
MPII_CONTEXT = 1.25  # the box is enlarged by 1.25 to include limbs (HRNet, mmpose)


def mpii_center_scale_to_bbox(center, scale: float) -> np.ndarray:
    """The square box of an MPII person, in 0-based pixels, shape (4,) xywh.

    The centre moves down by 15 px x scale and the box grows by 1.25, as the official HRNet
    code does, so data configs for MPII use ``bbox_padding: 1.0``.
    """
    cx, cy = float(center[0]), float(center[1])
    cy += 15.0 * scale
    size = scale * MPII_CONTEXT * MPII_PIXEL_STD
    cx, cy = cx - 1.0, cy - 1.0  # MATLAB 1-based -> 0-based
    return np.array([cx - size / 2, cy - size / 2, size, size], dtype=np.float32)


def image_id_from_name(name: str) -> int:
    """MPII image names are numbers (``005808361.jpg``); use them as image ids."""
    stem = Path(name).stem
    return int(stem) if stem.isdigit() else zlib.crc32(stem.encode()) & 0x7FFFFFFF


def load_mpii_records(
    ann_file: str | Path, image_dir: str | Path, num_keypoints: int = 16
) -> list[PersonRecord]:
    """Person records of an MPII JSON file, in file order (the order of ``mpii_gt_val.mat``)."""
    data = read_json(ann_file, "MPII annotation file")
    if not isinstance(data, list):
        raise ValueError(f"MPII annotation file {ann_file}: expected a JSON list of people")
    records = []
    for i, ann in enumerate(data):
        where = f"{ann_file}: record [{i}] (image {ann.get('image', '?')})"  # joints, center, scale
        missing = [key for key in ("image", "center", "scale", "joints") if key not in ann]
        if missing:
            raise ValueError(f"{where}: missing required keys {missing}")
        joints_list = ann["joints"] if isinstance(ann["joints"], list) else [ann["joints"]]
        flat = [v for joint in joints_list for v in (joint if isinstance(joint, list) else [joint])]
        values = [*flat, *ann["center"], ann["scale"], *ann.get("joints_vis", [])]
        refuse_bad_coordinates(values, where)
        joints = np.asarray(ann["joints"], dtype=np.float32)
        if joints.shape != (num_keypoints, 2):
            raise ValueError(
                f"{where}: 'joints' has shape {list(joints.shape)}, expected [{num_keypoints}, 2]"
            )
        visible = np.asarray(ann.get("joints_vis", np.ones(num_keypoints)), dtype=np.float32)
        if visible.shape != (num_keypoints,):
            raise ValueError(f"{where}: 'joints_vis' must have {num_keypoints} values")
        scale = float(ann["scale"])
        if scale <= 0:
            raise ValueError(f"{where}: 'scale' is {scale}; the person box has zero size")
        keypoints = np.concatenate([joints - 1.0, visible[:, None]], axis=1)
        keypoints[visible <= 0, :2] = 0.0
        bbox = mpii_center_scale_to_bbox(ann["center"], scale)
        records.append(
            PersonRecord(
                image_path=str(Path(image_dir) / ann["image"]),
                image_id=image_id_from_name(ann["image"]),
                bbox=bbox,
                keypoints=keypoints.astype(np.float32),
                area=float(bbox[2] * bbox[3]),
                ann_id=i,
            )
        )
    return records
