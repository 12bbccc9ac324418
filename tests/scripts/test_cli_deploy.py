"""infer.py, export.py, check_export.py, domain_report.py and prepare_data.py take Hydra's
key=value (conf/<command>.yaml), from the shell as from a list; their defaults are the ones
the argparse versions had."""

from __future__ import annotations

import os
import re
import subprocess
import sys

import pytest
from helpers import CONF, REPO
from helpers.tiny_models import load_script

from posekit.config import compose

COMMANDS = ("infer", "export", "check_export", "domain_report", "prepare_data")
SAMPLE_IMAGE = REPO / "data" / "sample" / "images" / "000570_1.jpg"


def run_script(name: str, *args: str) -> subprocess.CompletedProcess:
    env = {**os.environ, "PYTHONPATH": os.pathsep.join([str(REPO / "src"),
                                                        os.environ.get("PYTHONPATH", "")])}
    return subprocess.run([sys.executable, str(REPO / "scripts" / f"{name}.py"), *args],
                          capture_output=True, text=True, timeout=300, env=env)


def test_help_lists_the_options():
    done = run_script("infer", "--help")
    assert done.returncode == 0, done.stderr[-2000:]
    for option in ("ckpt_path: ???", "input: ???", "detections: null", "detector: null",
                   "annotations: null", "flip_test: true", "box_threshold: 0.3",
                   "batch_size: 64", "trusted_modules: []", "maps: false"):
        assert option in done.stdout, option


def test_a_misspelt_option_gets_a_suggestion():
    done = run_script("export", "ckpt_path=x.ckpt", "out=m.onnx", "with_decod=true")
    assert done.returncode == 1 and "Traceback" not in done.stderr
    assert "Did you mean with_decode=true?" in done.stderr


@pytest.mark.parametrize("name", COMMANDS)
def test_every_option_has_a_comment_above_it(name):
    """The comment is the option's documentation: each top-level key of conf/<name>.yaml and
    each key inside a mapping (check_export's data.*) follows a comment line."""
    lines = (CONF / f"{name}.yaml").read_text().splitlines()
    assert lines[0] == "# @package _global_" and lines[1].startswith(f"# `python scripts/{name}")
    body = lines[lines.index("  - _self_") + 1:]
    for number, line in enumerate(body):
        if re.match(r"^\s*[a-z_]+:", line) and not line.rstrip().endswith(":"):
            above = body[number - 1].strip()
            assert above.startswith("#"), f"conf/{name}.yaml: no comment above {line!r}"


# the argparse versions' defaults (and the flags they replace)
DEFAULTS = {
    "infer": (["ckpt_path=a.ckpt", "input=x.jpg"], {
        "detections": None, "detector": None, "annotations": None,
        "flip_test": True,  # --no-flip
        "score_threshold": 0.0, "box_threshold": 0.3, "batch_size": 64, "device": "cpu",
        "maps": False, "trusted_modules": [],  # --trust
    }),
    "export": (["ckpt_path=a.ckpt", "out=m.onnx"], {
        "format": "onnx", "with_decode": False, "flip_test": False, "input_dtype": "uint8",
        "trusted_modules": [],
    }),
    "check_export": (["exported=m.onnx", "ckpt_path=a.ckpt"], {
        "samples": None, "tolerance": 0.5,
        "data": {"root": None, "val_ann": None, "val_images": None, "num_workers": None},
    }),
    "domain_report": (["ckpt_path=a.ckpt", "+sets.a=[a.json,images]"], {
        "flip_test": True, "sets": {"a": ["a.json", "images"]},
    }),
    "prepare_data": (["data=mpii"], {"mpii_mat": None, "mpii_val_images": None}),
}


@pytest.mark.parametrize("name", COMMANDS)
def test_defaults_are_the_old_flags(name):
    overrides, expected = DEFAULTS[name]
    cfg = compose(name, overrides)
    for key, value in expected.items():
        assert cfg[key] == value, key


def test_output_folders_default_under_logs():
    infer = compose("infer", DEFAULTS["infer"][0])
    assert re.fullmatch(re.escape(str(REPO / "logs" / "infer" / "runs")) + r"/\d{4}-\d\d-\d\d_"
                        r"\d\d-\d\d-\d\d", infer.out)
    report = compose("domain_report", DEFAULTS["domain_report"][0])
    assert report.out.startswith(str(REPO / "logs" / "domain" / ""))
    assert report.data.val_ann == "ochuman_coco_format_val_range_0.00_1.00.json"  # data=ochuman


@pytest.mark.parametrize("given, message", [
    (["detections=boxes.json", "detector=hog"], "give detections=<boxes.json> or detector=..."),
    (["detector=yolo"], "detector=yolo: expected one of hog, torchvision"),
    (["input=nowhere.jpg"], "input not found: nowhere.jpg"),
])
def test_infer_refuses_conflicting_or_unknown_choices(given, message):
    with pytest.raises(SystemExit, match=re.escape(f"infer: {message}")):
        load_script("infer").main(["ckpt_path=a.ckpt", f"input={SAMPLE_IMAGE}", *given])


def test_prepare_data_needs_a_set_and_its_folder():
    with pytest.raises(SystemExit, match=re.escape("prepare_data: give data=<set>")):
        load_script("prepare_data").main([])
    with pytest.raises(SystemExit, match=re.escape("give data.root=<the downloaded folder>")):
        load_script("prepare_data").main(["data=custom"])


@pytest.mark.parametrize("name, given, missing", [
    ("export", ["out=m.onnx"], "ckpt_path"),
    ("domain_report", ["ckpt_path=a.ckpt"], "sets"),
])
def test_an_option_without_default_is_asked_for(name, given, missing):
    """Options marked ??? in conf/<name>.yaml: the command names the one not given (exit 1),
    no omegaconf traceback."""
    with pytest.raises(SystemExit, match=re.escape(f"{name}: give {missing}=... (--help")):
        load_script(name).main(given)
