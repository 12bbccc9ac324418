"""The backbone protocol: checked at construction; a user's own module (examples/) trains."""

from __future__ import annotations

import shutil

import pytest
import torch
from helpers import REPO, compose_config
from helpers.tiny_run import run_script
from hydra.errors import InstantiationException
from hydra.utils import instantiate
from omegaconf import OmegaConf, open_dict
from torch import nn

from posekit.engine.tasks import train
from posekit.models.backbone_protocol import Backbone, check_backbone
from posekit.models.backbone_weights import build_backbone
from posekit.models.checkpoint import load_model

# the example backbone on the sample at 48x64, two batches of 4, one epoch, on the CPU
FAST = [
    "model/backbone=example_custom",
    "data.input_size=[48,64]",
    "data.num_workers=0",
    "data.batch_size=4",
    "data.val_batch_size=4",
    "trainer.accelerator=cpu",
    "trainer.max_epochs=1",
    "trainer.limit_train_batches=2",
    "trainer.limit_val_batches=2",
    "trainer.log_every_n_steps=1",
    "validate_best=false",
]


@pytest.fixture
def examples_on_path(monkeypatch):
    """The repository root on sys.path, as `python train.py` has it."""
    monkeypatch.syspath_prepend(str(REPO))


class NoMultiple(nn.Module):
    def __init__(self) -> None:
        super().__init__()
        self.strides, self.channels = (8,), (16,)

    def forward(self, x):
        return [x]


def test_a_module_without_the_protocol_is_refused_naming_module_attribute_and_fix(tmp_path):
    cfg = compose_config("train", [], tmp_path)
    model_cfg = OmegaConf.to_container(cfg.model, resolve=True)
    model_cfg.pop("backbone")
    with pytest.raises(InstantiationException) as info:  # Hydra wraps the TypeError
        instantiate(model_cfg, backbone=NoMultiple())
    message = str(info.value)
    assert "model.backbone: NoMultiple (from test_backbone_protocol)" in message
    assert "no attribute 'input_multiple'" in message
    assert "set self.input_multiple = <the largest stride> in __init__" in message
    with pytest.raises(TypeError, match=r"'strides' \[8\] and 'channels' \[16, 32\]"):
        bad = NoMultiple()
        bad.channels, bad.input_multiple = (16, 32), 8
        check_backbone(bad)
    with pytest.raises(TypeError, match="not a torch.nn.Module"):
        check_backbone(object())


def test_example_backbone_follows_the_protocol(examples_on_path):
    from examples.custom_backbone import TinyBackbone

    backbone = TinyBackbone(width=8, out_stride=8, extra_strides=(4, 16))
    assert isinstance(backbone, Backbone)
    assert check_backbone(backbone) == ((8, 4, 16), (16, 8, 32))
    features = backbone(torch.randn(2, 3, 64, 48))
    assert [tuple(f.shape) for f in features] == [(2, 16, 8, 6), (2, 8, 16, 12), (2, 32, 4, 3)]
    assert len(backbone.stages()) == 4  # stem + strides 4, 8, 16
    with pytest.raises(ValueError, match=r"no feature of stride \[32\]"):
        TinyBackbone(out_stride=32)


def test_any_module_works_through_its_target(examples_on_path, tmp_path):
    """The plain form: `_target_: <your class>` and its arguments, without the builder."""
    cfg = compose_config("train", ["model/backbone=example_custom"], tmp_path)
    with open_dict(cfg):
        cfg.model.backbone = {"_target_": "examples.custom_backbone.TinyBackbone",
                              "width": 8, "out_stride": 8}
    model = instantiate(cfg.model)
    assert type(model.backbone).__name__ == "TinyBackbone"
    assert model(torch.zeros(1, 3, 128, 96))["simcc_x"].shape == (1, 17, 192)


def test_a_module_elsewhere_is_found_through_pythonpath(tmp_path, monkeypatch):
    """README: PYTHONPATH=/path/to/my_project python train.py model/backbone=example_custom
    model.backbone.module=my_backbone.TinyBackbone (PYTHONPATH enters sys.path as here)."""
    project = tmp_path / "my_project"
    project.mkdir()
    shutil.copy(REPO / "examples" / "custom_backbone.py", project / "my_backbone.py")
    monkeypatch.syspath_prepend(str(project))
    cfg = compose_config("train", ["model/backbone=example_custom",
                                   "model.backbone.module=my_backbone.TinyBackbone"], tmp_path)
    backbone = instantiate(cfg.model).backbone
    assert type(backbone).__module__ == "my_backbone" and backbone.strides == (8,)


def test_the_builder_names_the_import_path_when_the_module_is_not_found():
    with pytest.raises(ImportError, match=r"(?s)examples.nowhere.Net.*repository root.*PYTHONPATH"):
        build_backbone("examples.nowhere.Net")


def test_example_backbone_trains_on_the_sample(examples_on_path, tmp_path):
    cfg = compose_config("train", FAST, tmp_path)
    assert cfg.model.backbone.module == "examples.custom_backbone.TinyBackbone"
    metrics = train(cfg)
    assert metrics["train/loss"] > 0 and "val/PCK@0.05" in metrics


@pytest.mark.slow
def test_train_py_finds_the_example_from_the_repository_root(tmp_path, examples_on_path):
    """README: `python train.py model/backbone=example_custom`, from a clean environment
    (no PYTHONPATH entry for the repository root): train.py's folder is on the import path."""
    env = {"PYTHONPATH": str(REPO / "src")}  # posekit only, as an installed package would be
    result = run_script("train.py", *FAST, f"hydra.run.dir={tmp_path}", env=env)
    assert (tmp_path / "metrics.json").is_file(), result.stdout[-2000:]
    config = OmegaConf.load(tmp_path / ".hydra" / "config.yaml")
    assert config.model.backbone.module == "examples.custom_backbone.TinyBackbone"
    # eval.py, the Predictor and export rebuild it from the run's config the same way
    model = load_model(tmp_path / "checkpoints" / "last.ckpt", ["examples.custom_backbone"])
    assert type(model.backbone).__name__ == "TinyBackbone"


class Promising(nn.Module):
    """Promises one 16-channel stride-8 map and returns what ``kind`` says instead."""

    def __init__(self, kind: str) -> None:
        super().__init__()
        self.strides, self.channels, self.input_multiple = (8,), (16,), 8
        self.kind = kind
        self.conv = nn.Conv2d(3, 16, 8, stride=8)

    def forward(self, images):
        feature = self.conv(images)
        return {"empty": [], "tensor": feature, "dict": {0: feature},
                "channels": [feature[:, :8]], "stride": [images[:, :1].repeat(1, 16, 1, 1)],
                "good": [feature]}[self.kind]


@pytest.mark.parametrize(("kind", "found"), [
    ("empty", r"returned 0 feature maps"),
    ("tensor", r"returned a Tensor, not a list of tensors"),
    ("dict", r"returned a dict, not a list of tensors"),
    ("channels", r"returned feature 0 of shape \(2, 8, 8, 6\)"),
    ("stride", r"returned feature 0 of shape \(2, 16, 64, 48\)"),
])
def test_a_backbone_output_that_breaks_its_promise_is_named(tmp_path, kind, found):
    """Checked on the first forward: without it, IndexError, 'mat1 and mat2 shapes' or
    KeyError: 0 deep inside the head."""
    cfg = compose_config("train", ["data.input_size=[48,64]"], tmp_path)
    model = instantiate(cfg.model, backbone=Promising(kind))
    promise = (r"strides \[8\] and channels \[16\] promise a list of 1 feature maps "
               r"\(2, 16, 8, 6\) for images \(2, 3, 64, 48\)")
    named = rf"model.backbone: Promising \(from \S+\) {found}.*{promise}"
    with pytest.raises(TypeError, match=named):
        model(torch.zeros(2, 3, 64, 48))
    good = instantiate(cfg.model, backbone=Promising("good"))
    assert good(torch.zeros(2, 3, 64, 48))["simcc_x"].shape[:2] == (2, 17)
