"""The shared record store and the column-by-column COCO reader hold exactly the records of the
per-annotation reader (every field of every record); the record cache is keyed by the file and
the settings, invalidated by an edit and read without pickles."""

from __future__ import annotations

import json
import logging
import os
from pathlib import Path

import numpy as np
import pytest

from posekit.core import json_stream
from posekit.core.boxes import clip_bbox
from posekit.core.spec import KeypointSpec
from posekit.data.formats import coco as coco_format
from posekit.data.formats.coco import load_coco_records
from posekit.data.keypoint_mapping import KeypointMapping
from posekit.data.records import PersonRecord, RecordStore

SAMPLE = Path(__file__).resolve().parents[2] / "data" / "sample" / "annotations"
FIELDS = ("image_path", "image_id", "bbox", "keypoints", "bbox_score", "area", "ann_id")


def reference_records(ann_file: Path, image_dir: str, k: int, in_file: int) -> list[PersonRecord]:
    """The per-annotation reading (posekit a80c25e's loop): one record at a time, in file order."""
    data = json.loads(Path(ann_file).read_text())
    images = {image["id"]: image for image in data["images"]}
    records = []
    for i, ann in enumerate(data["annotations"]):
        keypoints = np.asarray(ann["keypoints"], dtype=np.float32).reshape(in_file, 3)[:k]
        if ann.get("iscrowd", 0) or not (keypoints[:, 2] > 0).any():
            continue
        image = images[ann["image_id"]]
        bbox, _ = clip_bbox(ann["bbox"], image.get("width"), image.get("height"))
        if bbox is None:
            continue
        records.append(
            PersonRecord(
                image_path=str(Path(image_dir) / image["file_name"]),
                image_id=int(ann["image_id"]),
                bbox=bbox,
                keypoints=keypoints,
                area=float(ann.get("area", bbox[2] * bbox[3])),
                ann_id=int(ann.get("id", i)),
            )
        )
    return records


def assert_same_records(expected, actual) -> None:
    assert len(actual) == len(expected)
    for i, (a, b) in enumerate(zip(expected, actual)):
        for field in FIELDS:
            x, y = getattr(a, field), getattr(b, field)
            if isinstance(x, np.ndarray):
                assert x.dtype == y.dtype and x.shape == y.shape, (i, field)
                np.testing.assert_array_equal(x, y, err_msg=f"record {i} {field}")
            else:
                assert type(x) is type(y) and x == y, (i, field, x, y)


def fixture_files(fixtures_dir: Path) -> list[tuple[Path, int, int]]:
    return [
        (fixtures_dir / "coco" / "test_coco.json", 17, 17),
        (fixtures_dir / "aic" / "test_aic.json", 14, 14),
        (fixtures_dir / "crowdpose" / "test_crowdpose.json", 14, 14),
        (fixtures_dir / "halpe" / "test_halpe.json", 26, 136),
        (SAMPLE / "train.json", 17, 17),
        (SAMPLE / "val.json", 17, 17),
    ]


@pytest.mark.parametrize("window", [7, 1 << 22])
def test_columns_hold_the_per_annotation_records_of_every_fixture(
    fixtures_dir, monkeypatch, window
):
    monkeypatch.setattr(json_stream, "CHUNK", window)  # the file read a few characters at a time
    for ann_file, k, in_file in fixture_files(fixtures_dir):
        expected = reference_records(ann_file, "/images", k, in_file)
        parsed = load_coco_records(ann_file, "/images", k, in_file, cache=False)
        assert isinstance(parsed, RecordStore)
        assert_same_records(expected, parsed)
        assert_same_records(expected, RecordStore.from_records(expected))
        assert_same_records(expected, list(parsed))  # iteration as a list


def write_people(path: Path, annotations: list[dict], images: list[dict] | None = None) -> Path:
    images = images or [
        {"id": 1, "file_name": "a.jpg", "width": 100, "height": 100},
        {"id": 2, "file_name": "b.jpg"},  # no size: only the box's own size is checked
    ]
    path.write_text(json.dumps({"images": images, "annotations": annotations, "categories": []}))
    return path


def person(ann_id, image_id=1, bbox=(10, 10, 50, 80), visible=2, **extra) -> dict:
    keypoints = [v for i in range(17) for v in (20.5 + i, 30 + 2 * i, visible)]
    seg = [[10.0, 10.0, 60.0, 10.0, 60.0, 90.0]]
    return {"id": ann_id, "image_id": image_id, "bbox": list(bbox), "keypoints": keypoints,
            "segmentation": seg, **extra}


def test_skips_boxes_areas_and_ids_match_the_per_annotation_rule(tmp_path, caplog):
    annotations = [
        person(1, area=1234.5),
        person(2, iscrowd=1),
        person(3, visible=0),
        person(4, bbox=(150, 10, 50, 80)),  # outside the image
        person(5, bbox=(10, 10, 0, 80)),
        person(6, bbox=(10, 10, -5, 80)),
        person(7, image_id=2, bbox=(-20.5, 5, 3000, 80)),  # clipped at 0 only: no image size
        person(8, bbox=(90.25, 95, 50, 80)),  # clipped to the image
        {k: v for k, v in person(9).items() if k != "id"},  # id from the position
    ]
    path = write_people(tmp_path / "people.json", annotations)
    with caplog.at_level(logging.INFO):
        parsed = load_coco_records(path, tmp_path, 17, cache=False)
    assert_same_records(reference_records(path, str(tmp_path), 17, 17), parsed)
    assert [r.ann_id for r in parsed] == [1, 7, 8, 8]
    summary = caplog.text
    assert "1 crowd annotations (e.g. 2)" in summary
    assert "1 people without labelled keypoints (e.g. 3)" in summary
    assert "1 boxes outside the image (e.g. 4)" in summary


def test_store_slices_selects_and_maps_keypoints(fixtures_dir):
    records = reference_records(fixtures_dir / "coco" / "test_coco.json", "/i", 17, 17)
    store = RecordStore.from_records(records)
    assert_same_records(records[2:5], store[2:5])
    assert_same_records(records[-1:], [store[-1]])
    keep = np.arange(len(store)) % 2 == 0
    assert_same_records(records[::2], store.select(keep))
    with pytest.raises(IndexError):
        store[len(store)]
    # mapping into another set (by name): the same as mapping record by record
    root = Path(__file__).resolve().parents[2] / "conf" / "keypoints"
    coco, halpe = (KeypointSpec.from_yaml(root / f"{n}.yaml") for n in ("coco", "halpe26"))
    mapping = KeypointMapping(coco, halpe, None, source="coco")
    mapped = mapping.map_records(store)
    for record, got in zip(records, mapped):
        assert got.keypoints.shape == (26, 3)
        np.testing.assert_array_equal(got.keypoints, mapping.map_keypoints(record.keypoints))
        assert got.image_path == record.image_path and got.ann_id == record.ann_id


def test_store_holds_no_python_object_per_record(fixtures_dir):
    """What forked workers read is numpy memory only (PyTorch issue 13246)."""
    store = load_coco_records(SAMPLE / "train.json", "/i", 17, cache=False)
    arrays = store.arrays()
    assert set(arrays) == {*RecordStore.columns, "path_bytes", "path_offsets"}
    assert all(a.dtype != object for a in arrays.values())
    assert {k for k, v in vars(store).items() if not isinstance(v, np.ndarray)} == set()


def count_parses(monkeypatch) -> list:
    calls = []
    real = coco_format.parse_coco_people

    def counting(*args, **kwargs):
        calls.append(args)
        return real(*args, **kwargs)

    monkeypatch.setattr(coco_format, "parse_coco_people", counting)
    return calls


def test_cache_is_reused_and_invalidated_by_an_edit(tmp_path, monkeypatch):
    monkeypatch.delenv("POSEKIT_CACHE_DIR", raising=False)
    calls = count_parses(monkeypatch)
    path = write_people(tmp_path / "people.json", [person(1), person(2)])
    first = load_coco_records(path, tmp_path, 17)
    caches = list(tmp_path.glob("people.json.*.posekit-records.npz"))
    assert len(caches) == 1  # beside the file
    again = load_coco_records(path, tmp_path, 17)
    assert len(calls) == 1
    assert_same_records(list(first), again)
    # other settings: another cache, parsed once
    load_coco_records(path, tmp_path / "other", 17)
    assert len(calls) == 2
    # an edit of the same size (a moved keypoint), with a new modification time
    edited = path.read_text().replace("20.5", "21.5", 1)
    assert len(edited) == len(path.read_text())
    path.write_text(edited)
    stat = path.stat()
    os.utime(path, ns=(stat.st_atime_ns, stat.st_mtime_ns + 1_000_000))
    reparsed = load_coco_records(path, tmp_path, 17)
    assert len(calls) == 3
    assert reparsed[0].keypoints[0, 0] == 21.5
    # a person added (another size)
    write_people(path, [person(1), person(2), person(3)])
    assert len(load_coco_records(path, tmp_path, 17)) == 3 and len(calls) == 4


def test_unreadable_or_pickled_cache_is_parsed_again(tmp_path, monkeypatch, caplog):
    monkeypatch.delenv("POSEKIT_CACHE_DIR", raising=False)
    calls = count_parses(monkeypatch)
    path = write_people(tmp_path / "people.json", [person(1)])
    load_coco_records(path, tmp_path, 17)
    (cache,) = tmp_path.glob("*.posekit-records.npz")
    cache.write_bytes(b"not a zip")
    assert len(load_coco_records(path, tmp_path, 17)) == 1 and len(calls) == 2
    assert "unreadable" in caplog.text
    # a swapped cache holding object arrays (a pickle) is never unpickled
    with np.load(cache) as arrays:
        content = dict(arrays)
    content["image_id"] = np.array([object()], dtype=object)
    with open(cache, "wb") as f:
        np.savez(f, **content)
    assert len(load_coco_records(path, tmp_path, 17)) == 1 and len(calls) == 3


def test_unwritable_folder_caches_in_the_user_cache(tmp_path, monkeypatch):
    """Where the cache cannot be written beside the file (here a folder is in its way, which
    stops root too), it goes to $XDG_CACHE_HOME/posekit."""
    monkeypatch.delenv("POSEKIT_CACHE_DIR", raising=False)
    monkeypatch.setenv("XDG_CACHE_HOME", str(tmp_path / "xdg"))
    calls = count_parses(monkeypatch)
    path = write_people(tmp_path / "people.json", [person(1)])
    load_coco_records(path, tmp_path, 17)
    (beside,) = tmp_path.glob("*.posekit-records.npz")
    beside.unlink()
    beside.mkdir()
    load_coco_records(path, tmp_path, 17)
    load_coco_records(path, tmp_path, 17)
    assert len(calls) == 2  # the first beside, then once more into the user cache
    assert len(list((tmp_path / "xdg" / "posekit").glob("*.npz"))) == 1


def test_bad_values_found_by_the_columns_name_the_record(tmp_path):
    good = person(1)
    late_nan = person(2)
    late_nan["bbox"][3] = float("nan")
    path = write_people(tmp_path / "ann.json", [good, late_nan])
    with pytest.raises(ValueError, match=r"annotations\[1\] \(id 2\): 'bbox' holds nan"):
        load_coco_records(path, tmp_path, 17, cache=False)
    path = write_people(tmp_path / "ann.json", [good, person(3, image_id=7)])
    with pytest.raises(ValueError, match=r"annotations\[1\] \(id 3\): image_id 7 is not in"):
        load_coco_records(path, tmp_path, 17, cache=False)
    flagged = person(4)
    flagged["keypoints"][2] = True
    path = write_people(tmp_path / "ann.json", [good, flagged])
    with pytest.raises(ValueError, match=r"annotations\[1\] \(id 4\): 'keypoints' holds True"):
        load_coco_records(path, tmp_path, 17, cache=False)
    huge = person(6)
    huge["keypoints"][3] = 1e39  # finite, but inf once in float32
    path = write_people(tmp_path / "ann.json", [good, huge])
    beyond = r"annotations\[1\] \(id 6\): 'keypoints' holds 1e\+39, beyond 1e\+06 pixels"
    with pytest.raises(ValueError, match=beyond):
        load_coco_records(path, tmp_path, 17, cache=False)
    path = write_people(tmp_path / "ann.json", [good, {"id": 5, "bbox": [1, 1, 2, 2]}])
    with pytest.raises(ValueError, match=r"annotations\[1\] \(id 5\): missing required keys"):
        load_coco_records(path, tmp_path, 17, cache=False)
