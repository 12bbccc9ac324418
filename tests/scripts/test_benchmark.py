"""scripts/benchmark.py runs end to end and reports every group with positive figures."""

from __future__ import annotations

import importlib.util
import json
import logging
import re
import sys
from itertools import islice
from pathlib import Path

import pytest
import torch
from helpers import REPO
from omegaconf import OmegaConf

SCRIPT = REPO / "scripts" / "benchmark.py"


@pytest.mark.slow
def test_benchmark_reports_every_group(tmp_path: Path, capsys, monkeypatch, fixtures_dir) -> None:
    spec = importlib.util.spec_from_file_location("benchmark", SCRIPT)
    benchmark = importlib.util.module_from_spec(spec)
    monkeypatch.setitem(sys.modules, "benchmark", benchmark)  # dataclasses look it up
    spec.loader.exec_module(benchmark)
    out = tmp_path / "figures.json"
    lightning_logger = logging.getLogger("lightning.pytorch")
    level = lightning_logger.level
    benchmark.main(["seconds=0.2", "workers=[0]", "steps=1", "repeats=1", "overhead_steps=[1,2]",
                    "batch_size=4", f"json={out}"])

    result = json.loads(out.read_text())
    rows = result["rows"]
    groups = [row["group"] for row in rows]
    assert groups.count("data loading") == 2  # the sample at 128x96 and 256x192
    # decode only; 2 sizes x (reduced off, on, grouped by image)
    assert groups.count("COCO-size JPEGs (1 core)") == 2 + 6
    assert groups.count("trainer overhead") == 2
    assert groups.count("training step") == 4 + (5 if result["machine"]["cuda"] else 0)
    assert groups.count("memory") == 4 + (2 if result["machine"]["cuda"] else 0)
    for row in rows:
        if row["group"] != "trainer overhead":  # a difference of two timings may be negative
            assert row["value"] > 0, row
    paths = {row["setting"]: row["note"] for row in rows if "data path" in row["setting"]}
    share = {setting: int(re.search(r"(\d+)% of samples reduced", note).group(1))
             for setting, note in paths.items()}
    assert share["data path 128x96, reduced decode off"] == 0
    assert share["data path 128x96, reduced decode on"] > 0
    per_decode = {setting: float(re.search(r"([\d.]+) samples per decode", note).group(1))
                  for setting, note in paths.items()}
    assert per_decode["data path 256x192, reduced decode off"] == 1.0  # an image per person
    assert per_decode["data path 256x192, grouped by image"] > 2  # 12 people in 4 images
    memory = {row["setting"]: row["value"] for row in rows if row["group"] == "memory"}
    # 17 keypoints x (192 x 2 + 256 x 2) bins vs 17 x 48 x 64 cells, float32, plus 17 weights
    assert memory["simcc targets per person, 256x192"] == pytest.approx((17 * 896 + 17) * 4 / 1024)
    assert memory["heatmap targets per person, 256x192"] == pytest.approx(
        (17 * 48 * 64 + 17) * 4 / 1024)
    printed = capsys.readouterr().out
    assert "trainer - bare" in printed and "cv2.imread full" in printed
    assert lightning_logger.level == level  # the overhead rows silence Lightning only meanwhile


@pytest.mark.slow
def test_the_export_group_times_both_crops(monkeypatch) -> None:
    """groups=[export]: crops outside + ONNX against crop_in_graph on the same image, and the two
    crops alone; the notes give each ONNX time as a ratio to the first, computed from them."""
    export_latency = benchmark_module(monkeypatch, "export_latency")
    monkeypatch.setattr(export_latency, "TIMED_CALLS", 2)
    rows = export_latency.export_rows(OmegaConf.create({"overrides": ["data.input_size=[48,64]"]}))
    assert [row.setting.split(",")[0] for row in rows] == [
        "crops cut outside (cv2) + ONNX", "crop_in_graph ONNX", "the crops alone",
        "the crops alone"]
    assert all(row.group == "export" and row.unit == "ms" and row.value > 0 for row in rows)
    assert "10 people, 1280x720 image, 64x48" in rows[0].setting
    assert rows[1].note == f"x{rows[1].value / rows[0].value:.2f} of crops cut outside"


def benchmark_module(monkeypatch, name: str):
    """scripts/benchmarks/<name>.py, imported as the benchmark script imports it."""
    monkeypatch.syspath_prepend(str(REPO / "scripts"))
    return importlib.import_module(f"benchmarks.{name}")


def fake_interpreter(path: Path, body: str) -> str:
    path.write_text(f"#!/bin/sh\n{body}\n")
    path.chmod(0o755)
    return str(path)


def test_mmpose_row_reads_the_companion_s_json_line(tmp_path, monkeypatch) -> None:
    data_path = benchmark_module(monkeypatch, "data_path")
    record = tmp_path / "arguments.txt"
    python = fake_interpreter(
        tmp_path / "python",
        f'echo "$@" > {record}\necho "loading annotations into memory..."\n'
        """echo '{"samples_per_s": 250.0, "mmpose": "1.3.2"}'""",
    )
    args = OmegaConf.create(
        dict(mmpose_python=python, seconds=0.5, batch_size=16, mmpose_rounds=3))
    posekit = iter([500.0, 400.0, 750.0])  # the rounds' posekit rates, interleaved
    row = data_path.mmpose_row(tmp_path, (192, 256), posekit=posekit.__next__, full=1000.0,
                               args=args)
    assert (row.setting, row.value) == ("mmpose 1.3.2 data path 256x192, shuffled", 250.0)
    assert "0.25 x full decode" in row.note
    assert "is 2.00 x this (median of 3 interleaved rounds, 1.60 - 3.00)" in row.note
    assert "posekit: torch " in row.note and "mmpose: versions not reported" in row.note
    script, root, *options = record.read_text().split()
    assert script.endswith("mmpose_data_path.py") and root == str(tmp_path)
    assert options == ["--seconds", "0.5", "--batch-size", "16", "--input-size", "192", "256"]


def test_a_failing_mmpose_interpreter_is_named_with_its_output(tmp_path, monkeypatch) -> None:
    data_path = benchmark_module(monkeypatch, "data_path")
    python = fake_interpreter(tmp_path / "python",
                              "echo \"ModuleNotFoundError: No module named 'mmpose'\" >&2; exit 1")
    args = OmegaConf.create(dict(mmpose_python=python, seconds=0.5, batch_size=16))
    with pytest.raises(SystemExit, match=r"(?s)python: the mmpose measurement failed \(exit 1\)"
                                         r".*No module named 'mmpose'.*README"):
        data_path.mmpose_rate(python, tmp_path, (192, 256), args)


@pytest.mark.parametrize("precision, expected", [("32-true", None), ("bf16-mixed", torch.bfloat16)])
def test_the_bare_loop_runs_at_the_trainer_s_precision(monkeypatch, precision, expected) -> None:
    """The overhead row compares like with like: a float32 bare loop against a bf16 trainer
    once measured the trainer 1 ms/step faster than the loop."""
    overhead = benchmark_module(monkeypatch, "trainer_overhead")
    cfg = overhead.compose_config(["data.input_size=[24,32]", "data.photometric=null",
                                   f"trainer.precision={precision}"])
    batches = list(islice(overhead.endless(overhead.train_loader(cfg, 0, 1)), 1))
    seen = []
    build = overhead.build_model

    def recording_model(cfg):
        model = build(cfg)
        network = model._network

        def recorded(images):
            on = torch.is_autocast_enabled("cpu")
            seen.append(torch.get_autocast_dtype("cpu") if on else None)
            return network(images)

        model._network = recorded
        return model

    monkeypatch.setattr(overhead, "build_model", recording_model)
    overhead.bare_seconds(cfg, batches, 2, torch.device("cpu"))
    assert seen == [expected, expected]


def test_scale_files_are_coco_people_the_loader_reads_whole(tmp_path, monkeypatch) -> None:
    """The scale group's writer: every person is labelled, inside its image and kept by the
    loader; segmentation polygons and the COCO fields are there."""
    scale = benchmark_module(monkeypatch, "scale")
    from posekit.data.formats.coco import load_coco_records

    path = scale.write_people_file(tmp_path / "people.json", 260,
                                  [("a.jpg", 640, 480), ("b.jpg", 500, 333)])
    data = json.loads(path.read_text())
    assert len(data["images"]) == 100 and len(data["annotations"]) == 260
    ann = data["annotations"][0]
    assert len(ann["segmentation"][0]) == 48 and len(ann["keypoints"]) == 51
    assert ann["num_keypoints"] == sum(v > 0 for v in ann["keypoints"][2::3])
    records = load_coco_records(path, tmp_path, 17, cache=False)
    assert len(records) == 260
    assert {Path(r.image_path).name for r in records} == {"a.jpg", "b.jpg"}
    # each image carries its file's size, and its people lie inside it
    size = {i["id"]: (i["width"], i["height"]) for i in data["images"]}
    assert {size[1], size[2]} == {(640, 480), (500, 333)}
    for a in data["annotations"]:
        x, y, w, h = a["bbox"]
        assert x + w <= size[a["image_id"]][0] and y + h <= size[a["image_id"]][1]
