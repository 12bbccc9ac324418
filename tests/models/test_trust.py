"""A checkpoint or a run folder is data: the config saved in it never runs code.

Each crafted file would create a marker file if its config were instantiated or resolved; the
marker must never appear, from any entry point that reads a checkpoint or a run folder, and the
refusal names the file, the offending key and value and how to opt in.
"""

from __future__ import annotations

import copy
import io
import json
from pathlib import Path
from typing import Any, Callable

import numpy as np
import pytest
import torch
from helpers import REPO, compose_config
from helpers.tiny_models import TINY, load_script, save_tiny_checkpoint

from posekit.analysis import compare_runs, load_run
from posekit.deploy.predictor import Predictor
from posekit.engine import evaluate_many
from posekit.models.checkpoint import (
    build_model,
    load_model,
    read_checkpoint,
    run_config,
    save_checkpoint,
)
from posekit.models.heads.distill import TeacherFeatures
from posekit.models.trust import UntrustedConfigError, is_trusted
from posekit.runs.folders import describe_run

BUILDER = "posekit.models.backbone_weights.build_backbone"


def payloads(marker: Path) -> dict[str, Callable[[dict], None]]:
    """Ways a saved config could create ``marker``: each changes a run config in place."""

    def backbone(node: dict) -> Callable[[dict], None]:
        return lambda config: config["model"].__setitem__("backbone", node)

    def interpolation(config: dict) -> None:
        config["evil"] = {"_target_": "logging.FileHandler", "filename": str(marker)}
        config["model"]["backbone"]["name"] = "${joint_weights:${evil}}"

    return {
        # the case: the custom-backbone builder importing a class named by the file
        "builder module": backbone({"_target_": BUILDER, "module": "logging.FileHandler",
                                    "filename": str(marker)}),
        "target": backbone({"_target_": "logging.FileHandler", "filename": str(marker)}),
        "posekit function": backbone({"_target_": "posekit.core.io.write_atomic",
                                      "path": str(marker), "data": "x"}),
        # an import chain through an allowed module to a function defined elsewhere
        "import chain": backbone({"_target_": "posekit.models.checkpoint.torch.save",
                                  "_args_": [1, str(marker)]}),
        "interpolation": interpolation,
    }


CASES = ["builder module", "target", "posekit function", "import chain", "interpolation"]
REFUSED = r"was refused: .*(not one of posekit's own classes|interpolation)"


@pytest.fixture(scope="module")
def clean(tmp_path_factory) -> dict[str, Any]:
    folder = tmp_path_factory.mktemp("clean")
    return read_checkpoint(save_tiny_checkpoint(folder / "clean.ckpt"))


def crafted(clean: dict[str, Any], case: str, path: Path, marker: Path) -> Path:
    checkpoint = copy.deepcopy(clean)
    payloads(marker)[case](checkpoint["posekit_config"])
    path.parent.mkdir(parents=True, exist_ok=True)
    buffer = io.BytesIO()
    torch.save(checkpoint, buffer)
    path.write_bytes(buffer.getvalue())
    return path


def eval_py(path: Path, out: Path) -> Any:
    return evaluate_many.evaluate_all(compose_config("eval", [f"ckpt_path={path}"], out))


def refusal_of(command: Callable[[list[str]], Any], argv: list[str]) -> Any:
    """Run a script's ``main(argv)``; a refusal (exit status 1 with the message) raises the
    error it was made from, so that the test sees which error refused the file."""
    try:
        return command(argv)
    except SystemExit as stop:
        if isinstance(stop.__cause__, Exception):
            raise stop.__cause__ from None
        raise


def infer_py(path: Path, out: Path) -> Any:
    image = out / "image.jpg"
    out.mkdir(parents=True, exist_ok=True)
    import cv2

    cv2.imwrite(str(image), np.zeros((64, 48, 3), np.uint8))
    return refusal_of(load_script("infer").main,
                      [f"ckpt_path={path}", f"input={image}", f"out={out / 'infer'}"])


ENTRY_POINTS: dict[str, Callable[[Path, Path], Any]] = {
    "load_model": lambda path, out: load_model(path),
    "load_run": lambda path, out: load_run(path),
    "Predictor": lambda path, out: Predictor.from_checkpoint(path),
    "infer.py": infer_py,
    "export.py": lambda path, out: refusal_of(
        load_script("export").main, [f"ckpt_path={path}", f"out={out / 'model.onnx'}"]),
    "eval.py": eval_py,
    "eval.py run folder": lambda path, out: eval_py(path.parent.parent, out),
    "teacher": lambda path, out: TeacherFeatures(str(path), stride=8, channels=128),
}


@pytest.mark.parametrize("case", CASES)
@pytest.mark.parametrize("entry", list(ENTRY_POINTS))
def test_no_entry_point_runs_code_from_a_checkpoint(clean, tmp_path, entry, case):
    marker = tmp_path / "marker"
    path = crafted(clean, case, tmp_path / "run" / "checkpoints" / "best.ckpt", marker)
    with pytest.raises(UntrustedConfigError, match=REFUSED) as refused:
        ENTRY_POINTS[entry](path, tmp_path / "out")
    assert not marker.exists()
    assert str(path) in str(refused.value)


def test_the_refusal_names_the_file_the_key_the_target_and_the_opt_in(clean, tmp_path):
    path = crafted(clean, "builder module", tmp_path / "sent.ckpt", tmp_path / "marker")
    with pytest.raises(UntrustedConfigError) as refused:
        load_model(path)
    message = str(refused.value)
    assert f"checkpoint {path} was refused" in message
    assert "model.backbone.module='logging.FileHandler'" in message
    assert "'trusted_modules=[logging]'" in message and "scripts/infer.py" in message
    assert not (tmp_path / "marker").exists()


def test_a_custom_backbone_loads_once_its_module_is_trusted(tmp_path, monkeypatch):
    monkeypatch.syspath_prepend(str(REPO))  # as train.py and eval.py have it
    cfg = compose_config("train", [*TINY, "model/backbone=example_custom",
                                   "model.backbone.width=8"], tmp_path)
    path = save_checkpoint(build_model(cfg), tmp_path / "custom.ckpt")
    with pytest.raises(UntrustedConfigError, match=r"'examples.custom_backbone.TinyBackbone'"):
        load_model(path)
    assert type(load_model(path, ["examples.custom_backbone"]).backbone).__name__ == "TinyBackbone"
    trusted = ["ckpt_path=" + str(path), "trusted_modules=[examples.custom_backbone]"]
    cfg = compose_config("eval", trusted, tmp_path / "eval")
    assert cfg.trusted_modules == ["examples.custom_backbone"]  # what evaluate() passes on


def test_a_file_never_widens_what_the_user_trusts(clean, tmp_path):
    """A student's saved teacher node names the modules to trust: the caller's list wins."""
    config = copy.deepcopy(clean["posekit_config"])
    config["model"]["aux_heads"] = {"distill": {"targets": {
        "_target_": "posekit.models.heads.distill.TeacherFeatures", "checkpoint": "t.ckpt",
        "stride": 8, "channels": 128, "trusted_modules": ["subprocess"]}}}
    saved = run_config({"posekit_config": config}, "student.ckpt", ["mypkg"])
    assert list(saved.model.aux_heads.distill.targets.trusted_modules) == ["mypkg"]


def test_trust_is_decided_by_where_the_object_is_defined():
    assert is_trusted("posekit.models.heads.HeatmapHead")
    assert is_trusted("posekit.models.heads.heatmap.HeatmapHead")
    assert is_trusted("torch.optim.AdamW")
    assert is_trusted("posekit.core.spec.build_keypoint_spec")
    assert not is_trusted("posekit.models.checkpoint.save_checkpoint")  # writes a file
    assert not is_trusted("posekit.models.checkpoint.torch.save")
    assert not is_trusted("posekit.models.trust.inspect.isclass")
    assert not is_trusted("os.system") and not is_trusted("mypkg.Net")
    assert is_trusted("collections.OrderedDict", ["collections"])


def evil_run_folder(root: Path, marker: Path) -> Path:
    """A run folder whose .hydra/config.yaml resolves a resolver that would build the payload."""
    (root / ".hydra").mkdir(parents=True)
    (root / ".hydra" / "config.yaml").write_text(
        f"evil:\n  _target_: logging.FileHandler\n  filename: {marker}\n"
        "model:\n  backbone:\n    name: ${joint_weights:${evil}}\n    out_stride: 8\n"
        "  head:\n    _target_: ${joint_weights:${evil}}\n"
        "data:\n  input_size: ${joint_weights:${evil}}\n"
    )
    (root / ".hydra" / "hydra.yaml").write_text(
        "hydra:\n  runtime:\n    choices:\n      model: ${joint_weights:${evil}}\n"
        f"evil:\n  _target_: logging.FileHandler\n  filename: {marker}\n"
    )
    (root / ".hydra" / "overrides.yaml").write_text("- model=simcc\n")
    (root / "metrics.json").write_text(json.dumps({"val/PCK@0.05": 0.5}))
    return root


def test_a_run_folder_is_read_without_resolving_anything(clean, tmp_path, monkeypatch):
    marker = tmp_path / "marker"
    run = evil_run_folder(tmp_path / "run", marker)
    table = compare_runs([run]).table
    assert table["val/PCK@0.05"].tolist() == [0.5]
    assert table["backbone"].tolist() == ["${joint_weights:${evil}}/s8"]  # text, not resolved
    assert not marker.exists()
    # eval.py "ckpt_path=[RF,ref]" describes each run after evaluating it
    description = describe_run(run)
    assert description["overrides"] == ["model=simcc"]
    torch.save(clean, tmp_path / "ref.ckpt")
    monkeypatch.setattr(evaluate_many, "evaluate", lambda cfg: {})
    cfg = compose_config("eval", ["ckpt_path=x"], tmp_path / "eval")
    evaluate_many.evaluate_checkpoints(cfg, [run / "checkpoints" / "a.ckpt",
                                             tmp_path / "ref.ckpt"])
    assert not marker.exists()


def test_a_reference_in_a_run_folder_is_followed_as_text(tmp_path):
    (tmp_path / ".hydra").mkdir()
    (tmp_path / ".hydra" / "config.yaml").write_text(
        "data:\n  input_size: [48, 64]\nmodel:\n  codec:\n    input_size: ${data.input_size}\n"
        "  backbone:\n    name: ${model.codec.input_size}\n"
    )
    assert describe_run(tmp_path)["input (WxH)"] == "48x64"
    assert describe_run(tmp_path)["backbone"] == [48, 64]


def test_every_posekit_target_a_saved_model_or_data_config_names_is_trusted():
    """A builder added to conf/ must be added to the trust list too, or the checkpoints of the
    recipes that use it could not be evaluated (a scheduler once was not)."""
    import re

    from posekit.models.trust import is_trusted

    conf = Path(__file__).resolve().parents[2] / "conf"
    targets = set()
    for group in ("model", "data", "keypoints", "recipe", "experiment", "protocol"):
        for path in (conf / group).rglob("*.yaml"):
            targets.update(re.findall(r"_target_:\s*(posekit\.[\w.]+)", path.read_text()))
    assert len(targets) > 30
    untrusted = sorted(t for t in targets if not is_trusted(t))
    assert untrusted == []
