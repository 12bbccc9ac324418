"""Checking a downloaded data set folder against the layout its data config reads, and
converting MPII's official annotation file into that layout."""

from __future__ import annotations

import json
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Iterable

import numpy as np
import scipy.io
from omegaconf import DictConfig

from posekit.core.io import read_json
from posekit.core.mpii_gt import NUM_JOINTS, write_mpii_gt_mat

ANNOTATION_KEYS = ("train_ann", "val_ann", "gt_val_mat")
FOLDER_KEYS = ("train_images", "val_images", "images")


@dataclass
class LayoutReport:
    """What a folder has and lacks; ``ok`` when nothing required is missing."""

    root: Path
    found: list[str] = field(default_factory=list)
    missing: list[str] = field(default_factory=list)
    notes: list[str] = field(default_factory=list)

    @property
    def ok(self) -> bool:
        return not self.missing

    def lines(self) -> list[str]:
        out = [f"{self.root}:"]
        out += [f"  ok       {line}" for line in self.found]
        out += [f"  MISSING  {line}" for line in self.missing]
        out += [f"  note     {line}" for line in self.notes]
        return out


def check_layout(data_cfg: DictConfig, max_image_checks: int = 200) -> LayoutReport:
    """Check ``data_cfg.root`` against the file names of a composed data config.

    Annotation files are parsed and counted; the first ``max_image_checks`` images each json
    lists are looked up in its image folder.
    """
    root = Path(data_cfg.root)
    report = LayoutReport(root)
    if not root.is_dir():
        report.missing.append(f"{root} (the folder itself)")
        return report
    folders = {key: data_cfg.get(key) for key in FOLDER_KEYS if data_cfg.get(key)}
    for key, name in folders.items():
        split_ann = key.replace("_images", "_ann")
        if split_ann != key and split_ann in data_cfg and not data_cfg.get(split_ann):
            continue  # a split the config does not have (OCHuman: no training set)
        path = root / name
        (report.found if path.is_dir() else report.missing).append(f"{name}/  (data.{key})")
    for key in ANNOTATION_KEYS:
        name = data_cfg.get(key)
        if not name:
            continue
        path = root / name
        if not path.is_file():
            report.missing.append(f"{name}  (data.{key})")
            continue
        report.found.append(f"{name}  (data.{key}){_describe(path)}")
        image_key = key.replace("_ann", "_images") if key.endswith("_ann") else "images"
        image_dir = root / folders.get(image_key, folders.get("images", ""))
        if path.suffix == ".json" and image_dir.is_dir():
            absent = _absent_images(path, image_dir, max_image_checks)
            if absent:
                report.missing.append(
                    f"{len(absent)} of the first {max_image_checks} images of {name} in "
                    f"{image_dir.relative_to(root)}/, e.g. {absent[0]}"
                )
    det = data_cfg.get("val_det_file")
    if det:
        exists = (root / det).is_file()
        needed = bool(data_cfg.get("use_det_boxes"))
        target = report.found if exists else report.missing if needed else report.notes
        when = "" if needed else ", for data.use_det_boxes=true"
        target.append(f"{det}  (data.val_det_file{when})")
    return report


def _describe(path: Path) -> str:
    if path.suffix != ".json":
        return ""
    data = read_json(path, "annotation file")
    if isinstance(data, dict):
        return f": {len(data.get('images', []))} images, {len(data.get('annotations', []))} people"
    return f": {len(data)} people"


def _image_names(data: Any) -> Iterable[str]:
    if isinstance(data, dict):
        return (image.get("file_name", "") for image in data.get("images", []))
    return dict.fromkeys(person.get("image", "") for person in data)


def _absent_images(ann_file: Path, image_dir: Path, limit: int) -> list[str]:
    names = list(_image_names(read_json(ann_file, "annotation file")))[:limit]
    return [name for name in names if not (image_dir / name).is_file()]


# --- MPII: mpii_human_pose_v1_u12_1.mat -> the JSON layout ---------------------------------
def _items(value: Any) -> list:
    """The elements of a MATLAB struct array / cell as loaded with squeeze_me (0, 1 or more)."""
    if isinstance(value, np.ndarray):
        return list(value.ravel())
    return [value]


def _field(struct: Any, name: str) -> Any:
    value = getattr(struct, name, None)
    if value is None or (isinstance(value, np.ndarray) and value.size == 0):
        return None
    return value


def mpii_people(mat_path: str | Path) -> tuple[list[dict], dict[str, int]]:
    """People with joint annotations in the training images of the official MPII release.

    Returns the people in the JSON format of the HRNet / mmpose conversion (``image``,
    ``center`` = ``objpos``, ``scale``, ``joints`` (16, 2) and ``joints_vis`` (16,), MATLAB's
    1-based pixels as in the .mat), each with its ``headbox`` [[x1, y1], [x2, y2]] (or None), in
    file order; and counts of the people skipped, by reason.
    """
    mat_path = Path(mat_path)
    try:
        mat = scipy.io.loadmat(str(mat_path), struct_as_record=False, squeeze_me=True)
        release = mat["RELEASE"]
    except (KeyError, ValueError, OSError) as err:
        raise ValueError(
            f"{mat_path} is not the official MPII annotation file (a MATLAB struct RELEASE with "
            f"annolist and img_train, as in mpii_human_pose_v1_u12_1.mat): {err}"
        ) from err
    annolist = _items(release.annolist)
    img_train = np.atleast_1d(np.asarray(release.img_train)).ravel()
    if len(img_train) != len(annolist):
        raise ValueError(
            f"{mat_path}: RELEASE.img_train has {len(img_train)} entries for {len(annolist)} images"
        )
    people: list[dict] = []
    skipped = {"test images": 0, "people without joints, centre or scale": 0}
    for i, (entry, is_train) in enumerate(zip(annolist, img_train)):
        rects = _items(_field(entry, "annorect")) if _field(entry, "annorect") is not None else []
        if not is_train:
            skipped["test images"] += len(rects)
            continue
        name = str(entry.image.name)
        for j, rect in enumerate(rects):
            annopoints, objpos, scale = (_field(rect, k) for k in ("annopoints", "objpos", "scale"))
            points = _field(annopoints, "point") if annopoints is not None else None
            if points is None or objpos is None or scale is None:
                skipped["people without joints, centre or scale"] += 1
                continue
            joints = np.zeros((NUM_JOINTS, 2))
            visible = np.zeros(NUM_JOINTS, dtype=int)
            for point in _items(points):
                k = int(point.id)
                if not 0 <= k < NUM_JOINTS:
                    raise ValueError(
                        f"{mat_path}: annolist({i + 1}).annorect({j + 1}) has joint id {k}, "
                        f"outside 0..15"
                    )
                joints[k] = float(point.x), float(point.y)
                visible[k] = 1
            corners = [_field(rect, k) for k in ("x1", "y1", "x2", "y2")]
            headbox = None
            if all(c is not None for c in corners):
                x1, y1, x2, y2 = (float(c) for c in corners)
                headbox = [[x1, y1], [x2, y2]]
            people.append(
                {
                    "image": name,
                    "center": [float(objpos.x), float(objpos.y)],
                    "scale": float(scale),
                    "joints": joints.tolist(),
                    "joints_vis": visible.tolist(),
                    "headbox": headbox,
                }
            )
    return people, skipped


def convert_mpii(
    mat_path: str | Path, out_dir: str | Path, val_images: Iterable[str] = ()
) -> dict[str, int]:
    """Write ``mpii_train.json`` (and, for the people of ``val_images``, ``mpii_val.json`` and
    ``mpii_gt_val.mat`` with their head boxes) into ``out_dir``; returns the counts written and
    skipped. Without ``val_images`` every annotated training person goes to ``mpii_train.json``.
    """
    people, skipped = mpii_people(mat_path)
    val_names = set(val_images)
    val = [p for p in people if p["image"] in val_names]
    train = [p for p in people if p["image"] not in val_names]
    no_head = [p["image"] for p in val if p["headbox"] is None]
    if no_head:
        raise ValueError(
            f"{mat_path}: {len(no_head)} validation people have no head box (x1, y1, x2, y2), "
            f"e.g. in {no_head[0]}; PCKh needs one per person: choose other mpii_val_images="
        )
    out_dir = Path(out_dir)
    out_dir.mkdir(parents=True, exist_ok=True)

    def strip(person: dict) -> dict:
        return {key: value for key, value in person.items() if key != "headbox"}

    (out_dir / "mpii_train.json").write_text(json.dumps([strip(p) for p in train]))
    if val:
        (out_dir / "mpii_val.json").write_text(json.dumps([strip(p) for p in val]))
        write_mpii_gt_mat(
            out_dir / "mpii_gt_val.mat",
            np.array([p["joints"] for p in val]),
            1 - np.array([p["joints_vis"] for p in val]),
            np.array([p["headbox"] for p in val]),
        )
    counts = {"train people": len(train), "val people": len(val)}
    return {**counts, **{f"skipped {reason}": n for reason, n in skipped.items()}}
