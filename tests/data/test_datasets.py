"""The benchmark data sets on the official-format fixtures: keypoint specs, DataModules, custom
sets from a json and a keypoint yaml, and the failures on bad input."""

import json
import shutil
from pathlib import Path

import numpy as np
import pytest
import yaml
from helpers import CONF, compose_config
from hydra.utils import instantiate

from posekit.codecs import SimCCCodec
from posekit.core.spec import KeypointSpec, load_keypoint_spec
from posekit.data.formats.coco import load_coco_records, load_detection_records
from posekit.engine.tasks import train
from posekit.metrics import CrowdPoseAP

SPECS = {p.stem: KeypointSpec.from_yaml(p) for p in (CONF / "keypoints").glob("*.yaml")}
COUNTS = {"coco": 17, "mpii": 16, "crowdpose": 14, "aic": 14, "halpe26": 26, "halpe136": 136}


def swapped(name: str) -> str:
    return name.replace("left", "@").replace("right", "left").replace("@", "right")


@pytest.mark.parametrize("name", sorted(COUNTS))
def test_keypoint_specs(name):
    spec = SPECS[name]
    assert spec.num_keypoints == COUNTS[name]
    index = spec.flip_index
    assert [index[i] for i in index] == list(range(spec.num_keypoints))
    for a, b in spec.flip_pairs:  # left/right names swap; the face points mirror by position
        if "left" in spec.names[a] or "right" in spec.names[a]:
            assert swapped(spec.names[a]) == spec.names[b]
    # every named left keypoint has its right partner in a pair, and the reverse
    for i, keypoint in enumerate(spec.names):
        if "left" in keypoint or "right" in keypoint:
            assert spec.names[index[i]] == swapped(keypoint), keypoint
    assert set(spec.upper_body_ids).isdisjoint(spec.lower_body_ids)


def test_halpe26_is_the_first_26_of_halpe136():
    h26, h136 = SPECS["halpe26"], SPECS["halpe136"]
    assert h136.names[:26] == h26.names and h136.sigmas[:26] == h26.sigmas
    assert [p for p in h136.flip_pairs if max(p) < 26] == list(h26.flip_pairs)
    # the face mirrors jaw point 0 to 16 and the eye corners 36 <-> 45 (iBUG order)
    assert h136.flip_index[26 + 0] == 26 + 16 and h136.flip_index[26 + 36] == 26 + 45
    assert h136.flip_index[94] == 115  # left hand root <-> right hand root


def test_asymmetric_swap_pairs_are_refused_naming_the_file(tmp_path):
    path = tmp_path / "mine.yaml"
    path.write_text(
        "name: mine\nnames: [head, left_hand, right_hand]\nflip_pairs: [[1, 2], [2, 0]]\n"
        "skeleton: []\nsigmas: [0.1, 0.1, 0.1]\n"
    )
    with pytest.raises(ValueError, match=r"mine.yaml.*keypoint 2 \(right_hand\).*symmetric"):
        load_keypoint_spec(path)
    with pytest.raises(ValueError, match=r"data.keypoints.path="):
        load_keypoint_spec("")


def codec():
    return SimCCCodec((96, 128))


def data_module(name: str, tmp_path: Path, **values):
    """The DataModule of ``conf/data/<name>.yaml`` (its metrics too) at 96x128, with
    ``data.<key>=value`` overrides."""
    overrides = [f"data={name}", "data.input_size=[96,128]", "data.batch_size=2", "data.val_batch_size=2",
                 "data.num_workers=0", *(f"data.{k}={v}" for k, v in values.items())]
    return instantiate(compose_config("train", overrides, tmp_path).data)


# --- the data sets ---------------------------------------------------------------------------
def test_crowdpose_module_gt_and_detected_boxes(fixtures_dir, tmp_path):
    root = fixtures_dir / "crowdpose"
    files = dict(train_ann="test_crowdpose.json", val_ann="test_crowdpose.json",
                 train_images=".", val_images=".")
    gt = data_module("crowdpose", tmp_path, root=root, **files)
    gt.setup("fit")
    assert gt.boxes == "gt" and len(gt.val_set) == 4  # 5 people, one without keypoints
    assert [type(m).__name__ for m in gt.build_metrics()] == ["PCKMetric", "CrowdPoseAP"]
    det = data_module("crowdpose", tmp_path, root=root,
                      val_det_file="test_crowdpose_det_AP_40.json", use_det_boxes=True,
                      det_score_threshold=0.5, **files)
    det.setup("validate")
    scores = [d["score"] for d in json.loads((root / "test_crowdpose_det_AP_40.json").read_text())]
    assert det.boxes == "detections" and len(det.val_set) == sum(s >= 0.5 for s in scores)
    batch = next(iter(det.val_dataloader()))
    assert batch["image"].shape == (2, 3, 128, 96) and batch["simcc_x"].shape == (2, 14, 192)
    # a detections file of other images is refused, naming it and the record
    wrong = tmp_path / "dets.json"
    wrong.write_text(json.dumps([{"image_id": 785, "bbox": [0, 0, 9, 9], "score": 1.0}]))
    with pytest.raises(ValueError, match=r"dets.json: detection \[0\]: image_id 785 is not in"):
        load_detection_records(wrong, root / "test_crowdpose.json", root, 14)


def test_crowdpose_metric_needs_the_crowd_index(fixtures_dir, tmp_path):
    data = json.loads((fixtures_dir / "crowdpose" / "test_crowdpose.json").read_text())
    del data["images"][1]["crowdIndex"]
    path = tmp_path / "no_index.json"
    path.write_text(json.dumps(data))
    image_id = data["images"][1]["id"]
    with pytest.raises(ValueError, match=rf"no_index.json: images\[1\] \(id {image_id}\) has no 'crowdIndex'"):
        CrowdPoseAP(ann_file=str(path), spec=SPECS["crowdpose"])


def test_aic_records_and_metric(fixtures_dir, tmp_path):
    root = fixtures_dir / "aic"
    module = data_module("aic", tmp_path, root=root, train_ann="test_aic.json",
                         val_ann="test_aic.json", train_images=".", val_images=".")
    module.setup("fit")
    raw = json.loads((root / "test_aic.json").read_text())["annotations"]
    assert len(module.train_set) == sum(a["num_keypoints"] > 0 for a in raw)
    record = module.train_set.records[0]
    np.testing.assert_allclose(record.keypoints.ravel(), np.array(raw[0]["keypoints"], float))
    metric = module.build_metrics()[1]
    # AIC has no 'area' and no 'iscrowd': OKS area is 0.53 x the box, nobody is a crowd
    ann = metric._coco.dataset["annotations"][0]
    assert ann["area"] == pytest.approx(0.53 * raw[0]["bbox"][2] * raw[0]["bbox"][3])
    assert ann["iscrowd"] == 0


def test_aic_file_read_with_the_coco_spec_names_the_record(fixtures_dir):
    root = fixtures_dir / "aic"
    with pytest.raises(ValueError, match=r"test_aic.json: annotations\[0\] \(id 4\): 42 keypoint values, expected 51"):
        load_coco_records(root / "test_aic.json", root, 17)


def test_halpe26_takes_the_first_26_of_136(fixtures_dir, tmp_path):
    module = data_module("halpe26", tmp_path, root=fixtures_dir,
                         train_ann="halpe/test_halpe.json", val_ann="halpe/test_halpe.json",
                         train_images="coco", val_images="coco")
    module.setup("fit")
    raw = json.loads((fixtures_dir / "halpe" / "test_halpe.json").read_text())["annotations"]
    first = np.array(raw[0]["keypoints"], dtype=np.float32).reshape(136, 3)[:26]
    np.testing.assert_allclose(module.val_set.records[0].keypoints, first)
    assert module.val_set[0]["simcc_x"].shape == (26, 192)
    with pytest.raises(ValueError, match=r"408 keypoint values, expected 78 .*keypoints_in_file"):
        load_coco_records(fixtures_dir / "halpe" / "test_halpe.json", fixtures_dir / "coco", 26)


def test_halpe136_module_and_part_metrics(fixtures_dir, tmp_path):
    module = data_module("halpe136", tmp_path, root=fixtures_dir,
                         train_ann="halpe/test_halpe.json", val_ann="halpe/test_halpe.json",
                         train_images="coco", val_images="coco")
    module.setup("validate")
    assert module.val_set[0]["keypoint_weights"].shape == (136,)
    assert set(module.build_metrics()[1].parts) == {"body", "foot", "face", "hand"}


def test_ochuman_config_has_no_training_split(fixtures_dir, tmp_path):
    cfg = compose_config("train", ["data=ochuman", f"data.root={fixtures_dir / 'coco'}",
                                   "data.val_ann=test_coco.json", "data.val_images=."], tmp_path)
    module = instantiate(cfg.data, codec=codec(), input_size=[96, 128])
    module.setup("validate")
    assert len(module.val_set) > 0 and module.boxes == "gt"
    with pytest.raises(ValueError, match=r"no training split \(data.train_ann is null\).*eval.py"):
        module.setup("fit")


def test_missing_image_names_the_record(fixtures_dir, tmp_path):
    shutil.copy(fixtures_dir / "crowdpose" / "test_crowdpose.json", tmp_path / "val.json")
    module = data_module("crowdpose", tmp_path, root=tmp_path, train_ann="val.json",
                         val_ann="val.json", train_images=".", val_images=".")
    data = json.loads((tmp_path / "val.json").read_text())
    labelled = [a for a in data["annotations"] if a["num_keypoints"] > 0]
    # the example named: the first missing file by name, by its first person
    image = min((i for i in data["images"] if any(a["image_id"] == i["id"] for a in labelled)),
                key=lambda i: i["file_name"])
    first = next(a for a in labelled if a["image_id"] == image["id"])
    with pytest.raises(FileNotFoundError, match=rf"validation images are missing, e.g. .*{image['file_name']} \(image id {image['id']}, annotation id {first['id']}\)"):
        module.setup("validate")


def test_invalid_json_and_missing_keys_name_the_file(tmp_path):
    (tmp_path / "broken.json").write_text('{"images": [')
    with pytest.raises(ValueError, match=r"broken.json is not valid JSON"):
        load_coco_records(tmp_path / "broken.json", tmp_path, 14)
    (tmp_path / "keys.json").write_text(json.dumps({
        "images": [{"id": 1, "file_name": "a.jpg"}],
        "annotations": [{"id": 3, "image_id": 1, "keypoints": [0] * 42}]}))
    with pytest.raises(ValueError, match=r"keys.json: annotations\[0\] \(id 3\): missing required keys \['bbox'\]"):
        load_coco_records(tmp_path / "keys.json", tmp_path, 14)


# --- a custom data set: a json and a keypoint yaml, no code ----------------------------------
def write_custom_set(root: Path, sample_dir: Path) -> Path:
    """5 keypoints (head, hands, feet) on real pedestrian crops of the bundled sample."""
    coco = json.loads((sample_dir / "annotations" / "val.json").read_text())
    keep = [0, 9, 10, 15, 16]  # nose, wrists, ankles of COCO-17
    for ann in coco["annotations"]:
        kpts = np.array(ann["keypoints"]).reshape(17, 3)[keep]
        ann["keypoints"] = kpts.ravel().tolist()
        ann["num_keypoints"] = int((kpts[:, 2] > 0).sum())
        ann.pop("area")
    coco["annotations"] = coco["annotations"][:12]
    coco["images"] = [im for im in coco["images"]
                      if im["id"] in {a["image_id"] for a in coco["annotations"]}]
    (root / "annotations").mkdir(parents=True)
    for split in ("train", "val"):
        (root / "annotations" / f"{split}.json").write_text(json.dumps(coco))
    (root / "images").symlink_to(sample_dir / "images")
    spec = {
        "name": "five", "names": ["head", "left_hand", "right_hand", "left_foot", "right_foot"],
        "flip_pairs": [[1, 2], [3, 4]], "skeleton": [[0, 1], [0, 2], [0, 3], [0, 4]],
        "sigmas": [0.026, 0.062, 0.062, 0.089, 0.089],
        "upper_body_ids": [0, 1, 2], "lower_body_ids": [3, 4],
    }
    path = root / "five.yaml"
    path.write_text(yaml.safe_dump(spec))
    return path


def test_custom_set_trains_one_step(tmp_path):
    sample = CONF.parent / "data" / "sample"
    spec_file = write_custom_set(tmp_path / "mine", sample)
    cfg = compose_config("train", [
        "data=custom", f"data.root={tmp_path / 'mine'}", f"data.keypoints.path={spec_file}",
        "data.input_size=[96,128]", "debug=fast_dev_run", "data.batch_size=4",
        "data.val_batch_size=4", "logger=csv",
    ], tmp_path / "run")
    assert cfg.model.keypoints.path == str(spec_file)
    metrics = train(cfg)
    assert metrics["train/loss"] > 0 and "val/AP" in metrics and "val/PCK@0.1" in metrics
