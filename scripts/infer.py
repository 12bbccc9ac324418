r"""Run a trained model on an image, a folder of images or a video.

    python scripts/infer.py ckpt_path=<run folder | file.ckpt> input=<image | folder | video> \
        [detections=boxes.json | detector=hog|torchvision] [annotations=val.json] [out=DIR] \
        [flip_test=false] [score_threshold=0] [box_threshold=0.3] [batch_size=64] \
        [device=cpu] [maps=true] [trusted_modules=[mypkg.backbones]]

A folder is read with its sub-folders (HumanArt's layout). ``annotations=`` (a COCO-format
json) gives each image its id in that file, matched by file name (the longest common tail of
path components: ``input=HumanArt/images`` finds ``images/2D_virtual_human/...``); images it
does not name are skipped with a warning. Without it an image's id is its 0-based position in
the path-sorted input (a video: the frame number).

Person boxes come from ``detections=`` (a COCO results list whose image_id is the image's id
as above; or a mapping ``{file name: [[x, y, w, h(, score)], ...]}``; see
``posekit/deploy/detections.py``; a file none of whose entries names an input image is refused,
one that names some only is warned about), from
OpenCV's HOG pedestrian detector (``detector=hog``: no download; OpenCV 4 ships it), from
torchvision's COCO Faster R-CNN (``detector=torchvision``; when its weights can be neither
found in the torch hub cache nor downloaded, this says so and tries HOG), or else, with a loud
warning, the whole image is one person box.

Writes into ``out=`` (default ``logs/infer/runs/<date>_<time>``):
  results.json         COCO keypoint results (image_id, file_name, category_id, keypoints,
                       score, bbox), image_id as above: with annotations= a results file
                       that scripts/evaluate_results.py scores against those annotations
  overlays/<name>.png  skeletons (left orange, right blue) and boxes on each image
  <video>_overlay.mp4  the same for a video (mp4v)
  maps/                with maps=true (images only): per person, the heatmaps (or SimCC's
                       2-D maps) over the crop, and for SimCC the 1-D distributions

Options: conf/infer.yaml (``--help`` lists them).
"""

from __future__ import annotations

import json
import sys
import warnings
from pathlib import Path
from typing import Callable, Iterable, Iterator

import numpy as np
from omegaconf import DictConfig
from rich.progress import track

from posekit.cli import command
from posekit.core.io import read_rgb_image
from posekit.deploy.detections import (
    DetectionsFile,
    DetectorUnavailable,
    HogPersonDetector,
    load_torchvision_detector,
)
from posekit.deploy.image_ids import annotation_image_ids, preview
from posekit.deploy.media import VideoReader, VideoWriter, is_video, list_images
from posekit.deploy.predictor import (
    PosePrediction,
    Predictor,
    coco_results,
    whole_image_box,
)
from posekit.viz import draw_skeleton, make_grid, save_image
from posekit.viz.overlays import (
    draw_boxes,
    heatmap_overlay,
    simcc_distribution_plot,
    simcc_to_heatmap,
)

# image -> person boxes (M, 4) xywh and their scores (M,)
BoxSource = Callable[[int, str, np.ndarray], tuple[np.ndarray, np.ndarray]]


def whole_image(index: int, name: str, image: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    return whole_image_box(image), np.ones(1, dtype=np.float32)


WHOLE_IMAGE_WARNING = (
    "WARNING: NO PERSON DETECTOR: every image is taken as ONE person box covering the whole "
    "image. The skeletons are meaningless unless one person fills each image. Pass "
    "detector=hog (no download), detector=torchvision or detections=boxes.json."
)
DETECTORS = ("hog", "torchvision")


def input_images(source: Path, annotations: Path | None) -> list[tuple[int, str, Path]]:
    """(image id, name, path) of every input image: the name is the path below the input
    folder; the id comes from ``annotations`` (images it does not name are left out, with
    a warning) or is the position."""
    folder = source if source.is_dir() else source.parent
    paths = list_images(source, recursive=True) if source.is_dir() else [source]
    names = [path.relative_to(folder).as_posix() for path in paths]
    if annotations is None:
        return [(index, name, path) for index, (name, path) in enumerate(zip(names, paths))]
    ids = annotation_image_ids(annotations)
    found = [(ids.find(name), name, path) for name, path in zip(names, paths)]
    missing = [name for image_id, name, _ in found if image_id is None]
    if len(missing) == len(found):
        raise ValueError(
            f"none of the input images {preview(names)} is named in {annotations} "
            f"(its file names: {preview(ids.values)}); pass the folder its file names start from"
        )
    if missing:
        warnings.warn(
            f"{len(missing)} of {len(found)} input images are not in {annotations} and are "
            f"skipped: {preview(missing)}",
            stacklevel=2,
        )
    return [(image_id, name, path) for image_id, name, path in found if image_id is not None]


def box_source(cfg: DictConfig, images: list[tuple[int, str]] | None) -> BoxSource:
    """Person boxes per image (``cfg.detections``, ``cfg.detector`` or the whole image); a
    detections file is checked against ``images`` (id, name)."""
    if cfg.detections is not None:
        detections = DetectionsFile(Path(str(cfg.detections)), score_threshold=cfg.box_threshold)
        if images is not None:
            ids_from = "ids in " + str(cfg.annotations) if cfg.annotations else "positions"
            detections.check_matches(images, ids_from)
        return lambda index, name, image: detections.boxes(index, name)
    detector = None
    if cfg.detector == "torchvision":
        try:
            detector = load_torchvision_detector(cfg.box_threshold, device=cfg.device)
        except DetectorUnavailable as err:
            print(f"{err}\ntrying OpenCV's HOG people detector instead", file=sys.stderr)
    if cfg.detector is not None and detector is None:
        try:
            detector = HogPersonDetector(cfg.box_threshold)
        except DetectorUnavailable as err:
            print(err, file=sys.stderr)
    if detector is None:
        print(WHOLE_IMAGE_WARNING, file=sys.stderr)
        return whole_image
    return lambda index, name, image: detector(image)


def overlay(
    predictor: Predictor, image: np.ndarray, prediction: PosePrediction, score_threshold: float
) -> np.ndarray:
    """Boxes and skeletons of one image's people."""
    spec = predictor.spec
    canvas = draw_boxes(image, prediction.boxes)
    for keypoints, scores in zip(prediction.keypoints, prediction.scores):
        canvas = draw_skeleton(
            canvas,
            keypoints,
            scores,
            spec.skeleton,
            names=spec.names,
            score_threshold=score_threshold,
        )
    return canvas


def write_maps(predictor: Predictor, prediction: PosePrediction, stem: str, folder: Path) -> None:
    """Per person: every keypoint's map over the crop; for SimCC also the 1-D distributions of
    its best-scoring keypoint."""
    names = predictor.spec.names
    for person, crop in enumerate(prediction.crops):
        if "heatmaps" in prediction.outputs:
            maps = prediction.outputs["heatmaps"][person]  # (K, h, w)
        else:
            maps = [
                simcc_to_heatmap(x, y)
                for x, y in zip(
                    prediction.outputs["simcc_x"][person], prediction.outputs["simcc_y"][person]
                )
            ]
        panels = [heatmap_overlay(crop, heatmap) for heatmap in maps]
        save_image(folder / f"{stem}_person{person}.png", make_grid(panels, ncols=6))
        if "simcc_x" in prediction.outputs:
            best = int(prediction.scores[person].argmax())
            plot = simcc_distribution_plot(
                prediction.outputs["simcc_x"][person, best],
                prediction.outputs["simcc_y"][person, best],
                predictor.codec.split_ratio,
                keypoint=prediction.crop_keypoints[person, best],
                title=f"{names[best]} (score {prediction.scores[person, best]:.2f})",
            )
            save_image(folder / f"{stem}_person{person}_simcc.png", plot)


def run_frames(
    predictor: Predictor,
    frames: Iterable[tuple[int, str, np.ndarray]],
    boxes_of: BoxSource,
    cfg: DictConfig,
    keep_crops: bool = False,
) -> Iterator[tuple[list[dict], np.ndarray, PosePrediction, str]]:
    """For each (index, name, image): its COCO results, overlay, prediction and name."""
    for index, name, image in frames:
        boxes, box_scores = boxes_of(index, name, image)
        prediction = predictor.predict(image, boxes, cfg.batch_size, keep_crops=keep_crops)
        results = coco_results(prediction, box_scores, index, name)
        yield results, overlay(predictor, image, prediction, cfg.score_threshold), prediction, name


@command("infer", refuse=(ValueError, FileNotFoundError))
def main(cfg: DictConfig) -> Path:
    source = Path(str(cfg.input))
    if not source.exists():
        raise FileNotFoundError(f"input not found: {source}")
    if cfg.detections is not None and cfg.detector is not None:
        raise ValueError("give detections=<boxes.json> or detector=..., not both")
    if cfg.detector not in (None, *DETECTORS):
        raise ValueError(f"detector={cfg.detector}: expected one of {', '.join(DETECTORS)}")
    out = Path(str(cfg.out))
    out.mkdir(parents=True, exist_ok=True)
    predictor = Predictor.from_checkpoint(
        str(cfg.ckpt_path), device=cfg.device, flip_test=cfg.flip_test,
        trusted_modules=list(cfg.trusted_modules),
    )
    results: list[dict] = []
    if is_video(source):
        boxes_of = box_source(cfg, None)
        if cfg.maps:
            print("maps=true is for images; not written for a video")
        reader = VideoReader(source)
        frames = ((i, source.name, frame) for i, frame in enumerate(reader))
        video_path = out / f"{source.stem}_overlay.mp4"
        with VideoWriter(video_path, reader.fps) as writer:
            outputs = run_frames(predictor, frames, boxes_of, cfg)
            for frame_results, picture, _, _ in track(
                outputs, total=reader.num_frames or None, description=f"{source.name}"
            ):
                results.extend(frame_results)
                writer.write(picture)
        print(f"overlay video: {video_path}")
    else:
        annotations = Path(str(cfg.annotations)) if cfg.annotations is not None else None
        images = input_images(source, annotations)
        boxes_of = box_source(cfg, [(image_id, name) for image_id, name, _ in images])
        frames = ((i, name, read_rgb_image(str(path), f"input {name}")) for i, name, path in images)
        outputs = run_frames(predictor, frames, boxes_of, cfg, keep_crops=cfg.maps)
        if len(images) > 1:
            outputs = track(outputs, total=len(images), description=f"{source.name}/")
        for image_results, picture, prediction, name in outputs:
            results.extend(image_results)
            stem = Path(name).with_suffix("").as_posix()  # sub-folders kept: names stay apart
            save_image(out / "overlays" / f"{stem}.png", picture)
            if cfg.maps:
                write_maps(predictor, prediction, stem, out / "maps")
        print(f"overlays: {out / 'overlays'}")
    results_path = out / "results.json"
    results_path.write_text(json.dumps(results) + "\n")
    print(f"{len(results)} people; results: {results_path}")
    return out


if __name__ == "__main__":
    main()
