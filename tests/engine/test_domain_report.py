"""scripts/domain_report.py: one checkpoint over several COCO-format sets, per set and per
keypoint, a prefixed layout (HumanArt's) read where it is."""

from __future__ import annotations

import json
import shutil
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
from helpers import REPO
from helpers.tiny_models import load_script, save_tiny_checkpoint

from posekit.core.io import read_json
from posekit.engine.results import score_results
from posekit.metrics import CocoKeypointAP
from posekit.metrics.per_person import person_scores

SAMPLE = REPO / "data" / "sample"
COCO_SIGMAS = [0.026, 0.025, 0.025, 0.035, 0.035, 0.079, 0.079, 0.072, 0.072, 0.062, 0.062,
               0.107, 0.107, 0.087, 0.087, 0.089, 0.089]


def small_set(folder: Path, prefix: str) -> Path:
    """Three sample images copied under ``folder/<prefix>``, their annotations naming them
    ``<prefix>/<file>``; returns the annotation file."""
    val = json.loads((SAMPLE / "annotations" / "val.json").read_text())
    images = val["images"][:3]
    ids = {image["id"] for image in images}
    (folder / prefix).mkdir(parents=True)
    for image in images:
        shutil.copy(SAMPLE / "images" / image["file_name"], folder / prefix / image["file_name"])
    named = [dict(image, file_name=f"{prefix}/{image['file_name']}") for image in images]
    people = [a for a in val["annotations"] if a["image_id"] in ids]
    path = folder / "val.json"
    path.write_text(json.dumps({**val, "images": named, "annotations": people}))
    return path


@pytest.mark.slow  # two evaluations through eval.py's path (10-40 s)
def test_one_checkpoint_over_two_layouts_per_set_and_per_keypoint(tmp_path, capsys):
    checkpoint = save_tiny_checkpoint(tmp_path / "tiny.ckpt")
    plain = small_set(tmp_path / "plain", "images")
    prefixed = small_set(tmp_path / "humanart", "images/cartoon")
    out = load_script("domain_report").main([
        f"ckpt_path={checkpoint}", f"out={tmp_path / 'report'}",
        f"+sets.plain=[{plain},{tmp_path / 'plain'}]",
        f"+sets.humanart=[{prefixed},{tmp_path / 'humanart'}]",
        "data.num_workers=0",
    ])
    printed = capsys.readouterr().out
    assert "boxes: gt; flip test: on; keypoint score:" in printed
    table = json.loads((out / "plain" / "metrics.json").read_text())
    report = pd.read_csv(out / "domain_report.csv", index_col="set")
    people = sum(1 for a in json.loads(plain.read_text())["annotations"] if a["num_keypoints"])
    assert list(report.index) == ["plain", "humanart"] and list(report["people"]) == [people] * 2
    # the same images and people in both layouts: the same numbers
    assert report.loc["humanart", "val/AP"] == pytest.approx(report.loc["plain", "val/AP"])
    rescored = score_results("ochuman", out / "humanart" / "predictions.json", annotations=prefixed)
    assert report.loc["humanart", "val/AP"] == pytest.approx(rescored["AP"], abs=1e-9)
    assert report.loc["plain", "val/AP"] == pytest.approx(table["val/AP"])
    keypoints = pd.read_csv(out / "domain_keypoints.csv", index_col="keypoint")
    assert list(keypoints.index)[:3] == ["nose", "left_eye", "right_eye"] and len(keypoints) == 17
    np.testing.assert_allclose(keypoints["humanart"], keypoints["plain"], equal_nan=True)


@pytest.mark.parametrize("given", [["+sets.art=[only.json]"], ["sets=[a.json,images]"]])
def test_a_set_without_its_image_folder_is_refused(tmp_path, given):
    with pytest.raises(SystemExit, match=r"domain_report: (set art=\['only.json'\]: expected "
                                         r"\+sets.art=\[|sets=\['a.json', 'images'\]: expected)"):
        load_script("domain_report").main([f"ckpt_path={tmp_path}", *given])


def test_per_keypoint_terms_average_to_pycocotools_oks(tmp_path):
    """Each person's mean keypoint term over its labelled keypoints is pycocotools' OKS."""
    annotations = SAMPLE / "annotations" / "val.json"
    truth = read_json(annotations, "annotations")
    rng = np.random.default_rng(0)
    results = []
    for person in truth["annotations"]:
        keypoints = np.array(person["keypoints"], dtype=float).reshape(-1, 3)
        keypoints[:, :2] += rng.normal(0, 3, (17, 2))
        keypoints[:, 2] = 1
        results.append({"image_id": person["image_id"], "category_id": 1,
                        "keypoints": keypoints.ravel().tolist(), "score": float(rng.uniform())})
    scores = person_scores(CocoKeypointAP(str(annotations), COCO_SIGMAS), results)
    assert len(scores.ids) == 121 and 0.2 < scores.oks.mean() < 1.0
    np.testing.assert_allclose(np.nanmean(scores.keypoint_oks, axis=1), scores.oks, atol=1e-12)
