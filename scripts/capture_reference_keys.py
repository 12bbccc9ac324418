"""Capture the tensor names and shapes of each published checkpoint family from its reference code.

Run in the mmpose reference environment (README "Performance": mmpose 1.3.2 with mmcv-lite),
with AlphaPose's pure-PyTorch modules importable (``--alphapose`` names a folder holding the
``alphapose`` package of github.com/MVIG-SJTU/AlphaPose, e.g. a clone; none of its code is kept
here):

    /path/to/mmpose-env/bin/python scripts/capture_reference_keys.py \\
        --alphapose /tmp/AlphaPose --out tests/fixtures/published_keys

Each family's model is built by the reference's own classes with random weights and its
``state_dict`` written as ``{name: shape}`` to ``<family>.json``, under the names a published
file carries (mmpose: the ``state_dict`` of ``runner.save_checkpoint``; AlphaPose: the plain
``model.state_dict()`` of its ``train.py``). The CI tests (tests/deploy/test_published_keys.py)
check that every family maps onto its posekit experiment without the reference installed.
"""

from __future__ import annotations

import argparse
import importlib.abc
import importlib.machinery
import json
import sys
import types
from pathlib import Path

# family -> mmpose config under mmpose's configs/body_2d_keypoint
MMPOSE_CONFIGS = {
    "mmpose_rtmpose_t": "rtmpose/coco/rtmpose-t_8xb256-420e_coco-256x192.py",
    "mmpose_rtmpose_s": "rtmpose/coco/rtmpose-s_8xb256-420e_coco-256x192.py",
    "mmpose_rtmpose_m": "rtmpose/coco/rtmpose-m_8xb256-420e_coco-256x192.py",
    "mmpose_rtmpose_l": "rtmpose/coco/rtmpose-l_8xb256-420e_coco-256x192.py",
    "mmpose_simcc_res50": "simcc/coco/simcc_res50_8xb64-210e_coco-256x192.py",
    "mmpose_rle_res50": "topdown_regression/coco/td-reg_res50_rle-8xb64-210e_coco-256x192.py",
    "mmpose_ipr_res50": "integral_regression/coco/ipr_res50_8xb64-210e_coco-256x256.py",
    "mmpose_dsnt_res50": "integral_regression/coco/ipr_res50_dsnt-8xb64-210e_coco-256x256.py",
    "mmpose_debias_res50": "integral_regression/coco/ipr_res50_debias-8xb64-210e_coco-256x256.py",
    "mmpose_udp_hrnet_w32": "topdown_heatmap/coco/td-hm_hrnet-w32_udp-8xb64-210e_coco-256x192.py",
    "mmpose_hrnet_w32": "topdown_heatmap/coco/td-hm_hrnet-w32_8xb64-210e_coco-256x192.py",
}
# family -> AlphaPose FastPose config (MODEL and DATA_PRESET of its yaml)
ALPHAPOSE_MODELS = {
    # configs/coco/resnet/256x192_res50_lr1e-3_1x.yaml
    "alphapose_fastpose_res50_coco": {"NUM_LAYERS": 50, "NUM_JOINTS": 17},
    # configs/halpe_136/resnet/256x192_res50_lr1e-3_2x-regression.yaml
    "alphapose_fastpose_res50_halpe136": {"NUM_LAYERS": 50, "NUM_JOINTS": 136, "CONV_DIM": 256},
}


def _placeholder(attr: str) -> type:
    """Any public name of a stubbed module: a placeholder class (dunders stay missing)."""
    if attr.startswith("__"):
        raise AttributeError(attr)
    return type(attr, (), {})


class _StubFinder(importlib.abc.MetaPathFinder, importlib.abc.Loader):
    """Stands in for mmdet and mmcv's compiled ops, which mmpose's bottom-up and transformer
    heads import at module level (mmcv-lite has no compiled ops, mmdet needs them); top-down
    models never use them."""

    STUBBED = ("mmdet", "mmcv.ops")

    def find_spec(self, name, path, target=None):  # noqa: ANN001, ANN201
        if any(name == stub or name.startswith(stub + ".") for stub in self.STUBBED):
            return importlib.machinery.ModuleSpec(name, self, is_package=True)
        return None

    def create_module(self, spec):  # noqa: ANN001, ANN201
        module = types.ModuleType(spec.name)
        module.__path__ = []
        module.__getattr__ = _placeholder
        return module

    def exec_module(self, module):  # noqa: ANN001, ANN201
        return None

ALPHAPOSE_ROOT = Path("AlphaPose")  # the folder holding the alphapose package (--alphapose)


def mmpose_model(config: str):  # noqa: ANN201 - an mmpose TopdownPoseEstimator
    """The mmpose model of ``config`` (relative to body_2d_keypoint), random weights."""
    if not any(isinstance(finder, _StubFinder) for finder in sys.meta_path):
        sys.meta_path.insert(0, _StubFinder())
    import mmpose
    from mmengine.config import Config
    from mmengine.registry import init_default_scope
    from mmpose.models import build_pose_estimator  # registers mmpose's models

    init_default_scope("mmpose")
    root = Path(mmpose.__file__).parent / ".mim" / "configs" / "body_2d_keypoint"
    model = build_pose_estimator(Config.fromfile(str(root / config)).model)
    return model.eval()


def alphapose_model(cfg: dict):  # noqa: ANN201 - AlphaPose's FastPose
    """AlphaPose's FastPose built from its own module, its ImageNet loading switched off: it
    copies the tensors of ``torchvision.models.resnetN(pretrained=True)``, here a module
    without tensors (torchvision is not needed)."""
    from torch import nn

    vision = types.ModuleType("torchvision")
    vision.models = types.ModuleType("torchvision.models")
    for depth in (18, 34, 50, 101, 152):
        setattr(vision.models, f"resnet{depth}", lambda pretrained=False: nn.Module())
    sys.modules.setdefault("torchvision", vision)
    sys.modules.setdefault("torchvision.models", vision.models)
    for package in ("alphapose", "alphapose.models"):  # their __init__ import everything
        if package not in sys.modules:
            stub = types.ModuleType(package)
            stub.__path__ = [str(ALPHAPOSE_ROOT / package.replace(".", "/"))]
            sys.modules[package] = stub
    from alphapose.models.fastpose import FastPose

    model_cfg = {key: value for key, value in cfg.items() if key != "NUM_JOINTS"}
    return FastPose(PRESET={"NUM_JOINTS": cfg["NUM_JOINTS"]}, **model_cfg)


def shapes(model) -> dict[str, list[int]]:  # noqa: ANN001
    return {key: list(value.shape) for key, value in model.state_dict().items()}


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--out", type=Path, default=Path("tests/fixtures/published_keys"))
    parser.add_argument("--alphapose", type=Path, help="folder holding the alphapose package")
    args = parser.parse_args(argv)
    args.out.mkdir(parents=True, exist_ok=True)
    families = {name: (mmpose_model, config) for name, config in MMPOSE_CONFIGS.items()}
    if args.alphapose:
        global ALPHAPOSE_ROOT
        ALPHAPOSE_ROOT = args.alphapose
        families |= {name: (alphapose_model, cfg) for name, cfg in ALPHAPOSE_MODELS.items()}
    for name, (build, config) in families.items():
        keys = shapes(build(config))
        (args.out / f"{name}.json").write_text(json.dumps(keys, indent=0) + "\n")
        print(f"{name}: {len(keys)} tensors")


if __name__ == "__main__":
    main()
