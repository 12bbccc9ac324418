"""infer.py on a COCO-format set: images matched to the annotation file's ids by file name
(sub-folders too), detections refused or warned about when they name no / some input image,
and results.json scored by evaluate_results.py against the set's annotations."""

from __future__ import annotations

import json
import shutil
from pathlib import Path

import pytest
from helpers import REPO
from helpers.tiny_models import load_script, save_tiny_checkpoint
from pycocotools.coco import COCO
from pycocotools.cocoeval import COCOeval

from posekit.deploy.image_ids import NameIndex

SAMPLE = REPO / "data" / "sample"
# HumanArt's layout: file names carry the images/ prefix and a sub-folder per domain
LAYOUT = {"000570_0.jpg": "cartoon", "000570_1.jpg": "cartoon", "000573_0.jpg": "sketch"}


@pytest.fixture(scope="module")
def tiny_set(tmp_path_factory) -> Path:
    """Three sample images under images/<domain>/, their annotations and a COCO detections file
    (the annotated boxes, image_id the annotation file's ids)."""
    root = tmp_path_factory.mktemp("humanart_like")
    val = json.loads((SAMPLE / "annotations" / "val.json").read_text())
    images = [dict(i, file_name=f"images/{LAYOUT[i['file_name']]}/{i['file_name']}")
              for i in val["images"] if i["file_name"] in LAYOUT]
    ids = {i["id"] for i in images}
    annotations = [a for a in val["annotations"] if a["image_id"] in ids]
    for image in images:
        (root / image["file_name"]).parent.mkdir(parents=True, exist_ok=True)
        shutil.copy(SAMPLE / "images" / Path(image["file_name"]).name, root / image["file_name"])
    truth = {**val, "images": images, "annotations": annotations}
    (root / "val.json").write_text(json.dumps(truth))
    detections = [{"image_id": a["image_id"], "bbox": a["bbox"], "score": 1.0, "category_id": 1}
                  for a in annotations]
    (root / "detections.json").write_text(json.dumps(detections))
    return root


@pytest.fixture(scope="module")
def checkpoint(tmp_path_factory) -> Path:
    return save_tiny_checkpoint(tmp_path_factory.mktemp("ckpt") / "simcc.ckpt")


def infer(checkpoint: Path, tiny_set: Path, out: Path, *extra: str) -> Path:
    return load_script("infer").main([
        f"ckpt_path={checkpoint}", f"input={tiny_set / 'images'}",
        f"detections={tiny_set / 'detections.json'}", f"out={out}", "flip_test=false", *extra,
    ])


def test_infer_results_are_scored_by_evaluate_results(checkpoint, tiny_set, tmp_path):
    out = infer(checkpoint, tiny_set, tmp_path / "out", f"annotations={tiny_set / 'val.json'}")
    results = json.loads((out / "results.json").read_text())
    detections = json.loads((tiny_set / "detections.json").read_text())
    assert sorted(r["image_id"] for r in results) == sorted(d["image_id"] for d in detections)
    assert sorted(r["bbox"] for r in results) == sorted(d["bbox"] for d in detections)
    assert (out / "overlays" / "cartoon" / "000570_1.png").is_file()  # sub-folders kept

    metrics = load_script("evaluate_results").main([
        "data=sample", f"annotations={tiny_set / 'val.json'}",
        f"results={out / 'results.json'}",
    ])
    truth = COCO(str(tiny_set / "val.json"))  # the oracle: pycocotools on the same two files
    evaluator = COCOeval(truth, truth.loadRes(str(out / "results.json")), "keypoints")
    evaluator.evaluate(), evaluator.accumulate(), evaluator.summarize()
    assert metrics["AP"] == pytest.approx(evaluator.stats[0], abs=1e-9)
    # every annotated image was scored with its own detections (an untrained model's AP is 0)
    scored = {e["image_id"] for e in evaluator.evalImgs if e and e["dtIds"] and e["gtIds"]}
    assert scored == {5700, 5701, 5730}


def test_detections_naming_no_input_image_are_refused(checkpoint, tiny_set, tmp_path):
    # without annotations= an image's id is its position: COCO ids match nothing; refused
    # with the message, exit status 1
    with pytest.raises(SystemExit, match=r"infer: .*names image_id \[5700, 5701, 5730\]; the "
                                         r"images are positions \[0, 1, 2\].*annotations="):
        infer(checkpoint, tiny_set, tmp_path / "out")


def test_detections_naming_some_images_are_warned_about(checkpoint, tiny_set, tmp_path):
    detections = json.loads((tiny_set / "detections.json").read_text())
    partial = tmp_path / "partial.json"
    partial.write_text(json.dumps([*detections, {**detections[0], "image_id": 99}]))
    with pytest.warns(UserWarning, match=r"1 of 4 images it names are not in the input \(\[99\]"):
        load_script("infer").main([
            f"ckpt_path={checkpoint}", f"input={tiny_set / 'images'}",
            f"annotations={tiny_set / 'val.json'}", f"detections={partial}",
            f"out={tmp_path / 'out'}", "flip_test=false",
        ])


def test_names_match_by_their_longest_unique_tail():
    index = NameIndex({"images/cartoon/a.jpg": 1, "images/sketch/a.jpg": 2, "images/b.jpg": 3})
    assert index.find("cartoon/a.jpg") == 1  # the input folder below the file's prefix
    assert index.find("HumanArt/images/sketch/a.jpg") == 2  # the input folder above it
    assert index.find("b.jpg") == 3 and index.find("elsewhere/b.jpg") == 3
    assert index.find("a.jpg") is None  # two images end so: neither
    assert index.find("c.jpg") is None
    assert index.find("images\\b.jpg") == 3  # Windows separators
