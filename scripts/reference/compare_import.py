"""Imported published-format files against their reference code: same inputs, same outputs?

Two steps, each in its own interpreter:

    # 1. in the mmpose reference environment (README "Performance"), AlphaPose's code beside it:
    /path/to/mmpose-env/bin/python scripts/reference/compare_import.py reference \\
        --alphapose /tmp/AlphaPose --dir /tmp/compare_import
    # 2. in posekit's environment: import each file with the documented command, compare
    python scripts/reference/compare_import.py posekit --dir /tmp/compare_import

Step 1 builds each family with the reference's own classes and random weights (every weight
matrix ~ N(0, 1/fan_in), BatchNorm statistics random), saves it in the reference's format
(mmpose: ``{"meta", "state_dict"}``; AlphaPose: the bare state dict) with a batch of random
uint8 crops, and records the reference's raw head outputs on the ImageNet-normalised crops and,
for mmpose, its ``head.predict`` keypoints and scores in crop pixels with flip test off and on.
Step 2 runs ``scripts/import_checkpoint.py`` (source told from the keys) and posekit's
``predict_crops`` on the same crops and prints the largest differences as a markdown table.
"""

from __future__ import annotations

import argparse
import importlib.util
import json
import sys
from pathlib import Path

import torch

REPO = Path(__file__).resolve().parents[2]
# name -> (capture family of scripts/capture_reference_keys.py, posekit experiment, input (W, H))
FAMILIES = {
    "RTMPose-m": ("mmpose_rtmpose_m", "cspnext_rtmcc_coco", (192, 256)),
    "SimCC-res50": ("mmpose_simcc_res50", "resnet50_simcc_coco", (192, 256)),
    "RLE-res50": ("mmpose_rle_res50", "resnet50_rle_coco", (192, 256)),
    "IPR-res50": ("mmpose_ipr_res50", "resnet50_ipr_coco_256x256", (256, 256)),
    "UDP-HRNet-W32": ("mmpose_udp_hrnet_w32", "hrnet_udp_coco", (192, 256)),
    "AlphaPose FastPose-res50": ("alphapose_fastpose_res50_coco", "resnet50_fastpose_coco",
                                 (192, 256)),
    "AlphaPose FastPose-res50 Halpe-136": ("alphapose_fastpose_res50_halpe136",
                                           "resnet50_fastpose_halpe136", (192, 256)),
}  # fmt: skip
# the reference's flip rule for maps / vectors: mirror, swap left and right, then shift the
# mirrored map right by this many columns (mmpose SimCC and UDP: none; AlphaPose: one)
REFERENCE_FLIP_SHIFT = {"RTMPose-m": 0, "SimCC-res50": 0, "UDP-HRNet-W32": 0,
                        "AlphaPose FastPose-res50": 1}  # fmt: skip
# overrides giving posekit the reference's rule where posekit has it as an option (the
# RTMPose recipe's own score rule is a matter of its protocol, not of the import)
OVERRIDES = {"RTMPose-m": ["++model.codec.score_rule=raw"]}
MEAN = torch.tensor([123.675, 116.28, 103.53]).view(1, 3, 1, 1)  # ImageNet x 255, both codes
STD = torch.tensor([58.395, 57.12, 57.375]).view(1, 3, 1, 1)
COCO_FLIP = [0, 2, 1, 4, 3, 6, 5, 8, 7, 10, 9, 12, 11, 14, 13, 16, 15]
BATCH = 4


def _capture_module():  # noqa: ANN202 - scripts/capture_reference_keys.py as a module
    spec = importlib.util.spec_from_file_location(
        "capture_reference_keys", REPO / "scripts" / "capture_reference_keys.py"
    )
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def randomise(model: torch.nn.Module, seed: int) -> None:
    """Weights ~ N(0, 1/fan_in) (the heads' 0.001-std inits would make every output flat) and
    random BatchNorm statistics, so that the comparison sees every tensor."""
    generator = torch.Generator().manual_seed(seed)
    with torch.no_grad():
        for name, param in model.named_parameters():
            if param.dim() > 1 and param.requires_grad:  # not mmpose's fixed integral grids
                fan_in = param[0].numel()
                param.copy_(torch.randn(param.shape, generator=generator) / fan_in**0.5)
        for module in model.modules():
            if isinstance(module, torch.nn.modules.batchnorm._BatchNorm):
                size = module.num_features
                module.running_mean.copy_(torch.rand(size, generator=generator) - 0.5)
                module.running_var.copy_(torch.rand(size, generator=generator) + 0.5)


def peaked(model: torch.nn.Module, final: torch.nn.Conv2d, inputs: torch.Tensor) -> None:
    """Scale the heatmap head's last conv so the maps lie within [-1, 1]: random weights give
    maps in the thousands, flat after DARK-UDP's clip to [0.001, 50], where its Taylor step
    divides by a zero Hessian."""
    with torch.no_grad():
        out = model(inputs) if final is getattr(model, "conv_out", None) else model.head.forward(
            model.extract_feat(inputs))
        factor = 1.0 / out.abs().max()
        final.weight.mul_(factor)
        final.bias.mul_(factor)


def alphapose_outputs(
    model: torch.nn.Module, inputs: torch.Tensor, input_size: tuple[int, int]
) -> dict:
    """AlphaPose's raw heatmaps and its ``heatmap_to_coord_simple`` keypoints / scores in crop
    pixels, flip test off and on (``flip_heatmap(shift=True)``, as its validation)."""
    from alphapose.utils.transforms import flip_heatmap, heatmap_to_coord_simple

    width, height = input_size
    pairs = [[COCO_FLIP[i], i] for i in range(1, len(COCO_FLIP), 2)]
    out = {}
    with torch.no_grad():
        heatmaps = model(inputs)
        flipped = flip_heatmap(model(inputs.flip(-1)), pairs, shift=True)  # (used for COCO)
    out["raw"] = {"heatmaps": heatmaps}
    # the flip test with COCO's pairs only (Halpe-136: keypoints without flip)
    for flip in (False, True) if heatmaps.shape[1] == len(COCO_FLIP) else (False,):
        results = [
            heatmap_to_coord_simple(heatmaps[i], [0, 0, width, height],
                                    hms_flip=flipped[i] if flip else None)
            for i in range(inputs.shape[0])
        ]  # fmt: skip
        out[f"flip={flip}"] = {
            "keypoints": torch.stack([torch.as_tensor(p).float() for p, _ in results]),
            "scores": torch.stack([torch.as_tensor(v).float().reshape(-1) for _, v in results]),
        }
    return out


def reference(args: argparse.Namespace) -> None:
    capture = _capture_module()
    capture.ALPHAPOSE_ROOT = args.alphapose
    args.dir.mkdir(parents=True, exist_ok=True)
    for index, (name, (family, _, (width, height))) in enumerate(FAMILIES.items()):
        if args.only and name not in args.only:
            continue
        generator = torch.Generator().manual_seed(100 + index)
        crops = torch.randint(0, 256, (BATCH, 3, height, width), generator=generator,
                              dtype=torch.uint8)  # fmt: skip
        inputs = (crops.float() - MEAN) / STD
        record = {"crops": crops}
        if family.startswith("alphapose"):
            model = capture.alphapose_model(capture.ALPHAPOSE_MODELS[family]).eval()
            randomise(model, index)
            peaked(model, model.conv_out, inputs)
            record.update(alphapose_outputs(model, inputs, (width, height)))
            torch.save(model.state_dict(), args.dir / f"{family}.pth")
        else:
            model = capture.mmpose_model(capture.MMPOSE_CONFIGS[family]).eval()
            randomise(model, index)
            if family.endswith("hrnet_w32"):
                peaked(model, model.head.final_layer, inputs)
            record.update(mmpose_outputs(model, inputs, (width, height)))
            torch.save({"meta": {"mmpose_version": "1.3.2"}, "state_dict": model.state_dict()},
                       args.dir / f"{family}.pth")  # fmt: skip
        torch.save(record, args.dir / f"{family}.reference.pt")
        print(f"{name}: saved {family}.pth and the reference's outputs")


def mmpose_outputs(
    model: torch.nn.Module, inputs: torch.Tensor, input_size: tuple[int, int]
) -> dict:
    """mmpose's raw head outputs and ``head.predict`` keypoints / scores, flip test off and on."""
    from mmpose.structures import PoseDataSample

    width, height = input_size
    samples = [
        PoseDataSample(metainfo={
            "flip_indices": COCO_FLIP, "input_size": (width, height),
            "input_center": (width / 2, height / 2), "input_scale": (width, height),
        })
        for _ in range(inputs.shape[0])
    ]  # fmt: skip
    out = {}
    with torch.no_grad():
        feats = model.extract_feat(inputs)
        raw = model.head.forward(feats)
        out["raw"] = {str(i): t for i, t in enumerate(raw)} if isinstance(raw, tuple) else {
            "0": raw}
        flipped = model.extract_feat(inputs.flip(-1))
        for flip in (False, True):
            cfg = dict(model.test_cfg, flip_test=flip)
            preds = model.head.predict([feats, flipped] if flip else feats, samples, test_cfg=cfg)
            preds = preds[0] if isinstance(preds, tuple) else preds
            keypoints = torch.stack([torch.as_tensor(p.keypoints[0]) for p in preds])
            scores = torch.stack([torch.as_tensor(p.keypoint_scores[0]) for p in preds])
            out[f"flip={flip}"] = {"keypoints": keypoints.float(), "scores": scores.float()}
    return out


def posekit(args: argparse.Namespace) -> None:
    sys.path.insert(0, str(REPO / "scripts"))
    import import_checkpoint

    from posekit.models.checkpoint import load_model
    from posekit.models.predict import identity_crops, predict_crops

    rows = []
    for name, (family, experiment, _) in FAMILIES.items():
        file = args.dir / f"{family}.pth"
        if not file.is_file() or (args.only and name not in args.only):
            continue
        ref = torch.load(args.dir / f"{family}.reference.pt", weights_only=True)
        out = import_checkpoint.main([f"checkpoint={file}", f"experiment={experiment}",
                                      f"out={args.dir / f'{family}.ckpt'}",
                                      *OVERRIDES.get(name, [])])  # fmt: skip
        model = load_model(out).eval()
        crops = ref["crops"]
        with torch.no_grad():
            raw = model(model.normalize(crops))
        row = {"family": name, "raw": raw_difference(raw, ref["raw"])}
        center, scale = identity_crops(crops.shape[0], tuple(model.codec.input_size), crops.device)
        for flip in (False, True):
            if f"flip={flip}" not in ref:
                continue
            with torch.no_grad():
                pred = predict_crops(model, crops, center, scale, flip)
            expected = ref[f"flip={flip}"]
            distance = (pred.crop_keypoints - expected["keypoints"]).norm(dim=-1)  # (N, K)
            row[f"flip={flip}"] = {
                "keypoints_px": f"{distance.median().item():.2g} / {distance.max().item():.2g}",
                "scores": f"{(pred.scores - expected['scores']).abs().max().item():.1e}",
            }
        if name in REFERENCE_FLIP_SHIFT:
            keypoints = reference_flip(model, crops, REFERENCE_FLIP_SHIFT[name])
            distance = (keypoints - ref["flip=True"]["keypoints"]).norm(dim=-1)
            row["flip=True"]["reference_rule_px"] = (
                f"{distance.median().item():.2g} / {distance.max().item():.2g}"
            )
        rows.append(row)
    print(json.dumps(rows, indent=1))
    print(table(rows))


def reference_flip(model, crops: torch.Tensor, shift: int) -> torch.Tensor:  # noqa: ANN001
    """posekit's outputs flip-averaged by the reference's rule (mirror, swap, shift ``shift``
    columns right, mean), decoded by posekit's codec: (N, K, 2) crop pixels."""
    with torch.no_grad():
        images = model.normalize(crops)
        outputs, flipped = model(images), model(images.flip(-1))
    flip_index = list(model.flip_index)
    averaged = {}
    for key, value in outputs.items():
        mirrored = flipped[key][:, flip_index]
        if key != "simcc_y":  # x vectors and maps are mirrored along their last axis
            mirrored = mirrored.flip(-1)
        if shift and key == "heatmaps":
            mirrored[..., shift:] = mirrored[..., :-shift].clone()
        averaged[key] = (value + mirrored) / 2
    keypoints, _ = model.codec.decode(averaged)
    return keypoints


def raw_difference(raw: dict[str, torch.Tensor], ref: dict[str, torch.Tensor]) -> float:
    """The largest absolute difference between posekit's head outputs and the reference's
    over the largest absolute reference output, paired in order (SimCC x, y; RLE coords +
    sigma as one (N, K, 4); heatmaps; IPR coords)."""
    ours = list(raw.values())
    theirs = list(ref.values())
    if len(theirs) == 1 and len(ours) > 1 and theirs[0].shape[-1] == 4:  # RLE: (N, K, 4)
        theirs = [theirs[0][..., :2], theirs[0][..., 2:]]
    worst = 0.0
    for a, b in zip(ours, theirs):
        if a.shape != b.shape:
            b = b.reshape(a.shape)
        worst = max(worst, ((a - b).abs().max() / b.abs().max()).item())
    return worst


def table(rows: list[dict]) -> str:
    def cell(row: dict, flip: bool, what: str) -> str:
        return row.get(f"flip={flip}", {}).get(what, "-")

    lines = ["| family | raw head outputs (relative) | keypoints, no flip: median / max (px) | "
             "scores, no flip | keypoints, flip: median / max (px) | scores, flip | "
             "keypoints, flip by the reference's rule (px) |", "|---|---|---|---|---|---|---|"]
    for row in rows:
        lines.append(
            f"| {row['family']} | {row['raw']:.1e} | {cell(row, False, 'keypoints_px')} | "
            f"{cell(row, False, 'scores')} | {cell(row, True, 'keypoints_px')} | "
            f"{cell(row, True, 'scores')} | {cell(row, True, 'reference_rule_px')} |"
        )
    return "\n".join(lines)


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__,
                                     formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("step", choices=["reference", "posekit"])
    parser.add_argument("--dir", type=Path, default=Path("/tmp/compare_import"))
    parser.add_argument("--alphapose", type=Path, default=Path("AlphaPose"),
                        help="folder holding the alphapose package (step reference)")
    parser.add_argument("--only", nargs="*", help="these families (names of FAMILIES)")
    args = parser.parse_args(argv)
    reference(args) if args.step == "reference" else posekit(args)


if __name__ == "__main__":
    main()
