"""Run configs saved by earlier posekit versions, brought to the current layout on load.

posekit 0.1 checkpoints name ``posekit.data.spec`` (now ``posekit.core.spec``) and the
``CrowdPoseDataModule`` (now the COCO-format module with a CrowdPose metric), keep the gallery
size in the model config, and let each DataModule choose its metrics from ``pck_thresholds``
and protocol options; the data config now names its metrics. :func:`migrate_run_config` maps
the old layout onto the new one so that old checkpoints still evaluate and load for analysis.
"""

from __future__ import annotations

import copy
from typing import Any

from posekit.config import path_join

MOVED_TARGETS = {
    "posekit.data.spec.": "posekit.core.spec.",
    "posekit.data.crowdpose.CrowdPoseDataModule": "posekit.data.coco.CocoDataModule",
}
# 0.1 data-config keys that configured metrics: now options of the metric nodes
_OLD_METRIC_KEYS = (
    "pck_thresholds", "use_area", "ap_parts", "crowd_easy_below", "crowd_hard_from",
)  # fmt: skip


def _rename_targets(node: Any) -> Any:
    if isinstance(node, dict):
        return {key: _rename_targets(value) for key, value in node.items()}
    if isinstance(node, list):
        return [_rename_targets(value) for value in node]
    if isinstance(node, str):
        for old, new in MOVED_TARGETS.items():
            if node.startswith(old):
                return new + node[len(old) :]
    return node


def _metric_nodes(data: dict[str, Any]) -> dict[str, Any]:
    """The ``metrics:`` of a 0.1 data config, as its DataModule built them."""
    partial = {"_partial_": True}
    metrics = {
        "pck": {"_target_": "posekit.metrics.PCKMetric", **partial,
                "thresholds": list(data.get("pck_thresholds", (0.05, 0.1, 0.2)))},
    }  # fmt: skip
    target = data.get("_target_", "")
    if target.endswith("MpiiDataModule"):
        metrics["pckh"] = {"_target_": "posekit.metrics.MPIIPCKh", **partial,
                           "gt_mat_path": path_join(data["root"], data["gt_val_mat"])}  # fmt: skip
        return metrics
    ap = {
        "_target_": "posekit.metrics.CocoKeypointAP", **partial,
        "ann_file": path_join(data["root"], data["val_ann"]),
        "use_detections": bool(data.get("use_det_boxes", False)),
        "use_area": bool(data.get("use_area", True)),
    }  # fmt: skip
    if data.get("keypoints_in_file"):
        ap["keypoints_in_file"] = data["keypoints_in_file"]
    if data.get("ap_parts"):
        ap["parts"] = data["ap_parts"]
    if target.endswith("CrowdPoseDataModule"):
        ap.update(_target_="posekit.metrics.CrowdPoseAP", use_area=bool(data.get("use_area", False)),
                  easy_below=data.get("crowd_easy_below", 0.2),
                  hard_from=data.get("crowd_hard_from", 0.8))  # fmt: skip
    metrics["ap"] = ap
    return metrics


def migrate_run_config(config: dict[str, Any]) -> dict[str, Any]:
    """A resolved run config (``posekit_config`` of a checkpoint) in the current layout; a
    current config comes back unchanged (as a copy)."""
    config = copy.deepcopy(config)
    model, data = config.get("model", {}), config.get("data", {})
    # (a mixture has no metrics of its own: each source brings its data config's)
    if data and "metrics" not in data and "sources" not in data:
        data["metrics"] = _metric_nodes(data)
        for key in _OLD_METRIC_KEYS:
            data.pop(key, None)
    model.pop("gallery_size", None)
    for key, default in (("neck", None), ("aux_heads", {}), ("aux_codecs", {})):
        model.setdefault(key, default)
    if data:
        data.setdefault("aux_codecs", {})
    return _rename_targets(config)
