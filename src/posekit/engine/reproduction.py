"""The reproduction card: a published number beside the one obtained, with the protocol stamp.

``scripts/reproduce.py`` imports a published checkpoint, evaluates it under its recipe's
protocol and writes the card that :func:`make_card` builds (``card.json`` and ``card.md``).
The stamp reads the evaluated config, never a hand-written description: boxes, score rule,
flip rule, decode rule, rescoring, thresholds, input normalisation and the posekit commit.
"""

from __future__ import annotations

import subprocess
from pathlib import Path
from typing import Any, Mapping

from omegaconf import DictConfig, OmegaConf

from posekit.core.io import write_json


def posekit_commit(repo: Path) -> str:
    """The git commit of the posekit checkout (with ``+dirty`` for local changes), or
    ``"unknown"`` outside a git checkout."""
    try:
        commit = subprocess.run(["git", "rev-parse", "HEAD"], cwd=repo, capture_output=True,
                                text=True, check=True, timeout=10).stdout.strip()
        dirty = subprocess.run(["git", "status", "--porcelain", "--untracked-files=no"],
                               cwd=repo, capture_output=True, text=True, timeout=10).stdout
    except (OSError, subprocess.SubprocessError):
        return "unknown"
    return commit + ("+dirty" if dirty.strip() else "")


def _codec_rules(codec: Mapping[str, Any]) -> dict[str, str]:
    """Score, flip and decode rules of a codec config node (``model.codec``)."""
    family = str(codec.get("_target_", "")).rsplit(".", 1)[-1]
    if family == "SimCCCodec":
        return {
            "score_rule": f"SimCC {codec.get('score_rule', 'mean')} of the x/y peaks",
            "flip_rule": f"average {codec.get('flip_average_of', 'logits')}, x bins reversed, "
                         f"shift {codec.get('flip_shift', 'exact')}",
            "decode_rule": f"argmax / k; score <= 0: {codec.get('nonpositive_keypoints', 'keep')}",
        }
    if family == "UDPHeatmapCodec":
        return {
            "score_rule": "heatmap peak",
            "flip_rule": "columns reversed (exact under UDP)",
            "decode_rule": f"DARK-UDP, scale {codec.get('decode_scale', 'udp')}",
        }
    if family == "MSRAHeatmapCodec":
        return {
            "score_rule": "heatmap peak",
            "flip_rule": "columns reversed, shifted one column (HRNet, AlphaPose)",
            "decode_rule": "DARK" if codec.get("unbiased") else "argmax + quarter pixel",
        }
    if family == "RLECodec":
        return {"score_rule": "mean of 1 - sigma", "flip_rule": "coordinates mirrored exactly",
                "decode_rule": "coordinates x input size"}
    if family == "AlphaPoseIntegralCodec":
        return {"score_rule": "sigmoid map peak",
                "flip_rule": f"coordinates mirrored: {codec.get('flip_rule', 'exact')}",
                "decode_rule": "sigmoid integral"}
    return {"score_rule": "1 (no confidence)" if family == "RegressionCodec" else "head scores",
            "flip_rule": "coordinates mirrored exactly", "decode_rule": "coordinates x input size"}


def protocol_stamp(cfg: DictConfig, boxes: str) -> dict[str, Any]:
    """What the evaluation of ``cfg`` (a composed config with ``model``, ``data``,
    ``protocol``) did, as plain values; ``boxes`` is the data module's ``"gt"`` /
    ``"detections"``."""
    model = OmegaConf.to_container(cfg.model, resolve=True)
    data = cfg.data
    metrics = OmegaConf.to_container(data.metrics, resolve=True) if "metrics" in data else {}
    ap = metrics.get("ap", {})
    stamp: dict[str, Any] = {"boxes": boxes}
    if boxes == "detections":
        stamp["detections_file"] = str(data.get("val_det_file"))
    stamp["flip_test"] = bool(cfg.get("flip_test", model.get("flip_test", True)))
    stamp.update(_codec_rules(model["codec"]))
    if ap:
        stamp["rescoring"] = ap.get("rescoring", "bbox_keypoint")
        stamp["keypoint_score_threshold"] = ap.get("score_threshold", 0.2)
        stamp["oks_nms"] = (
            f"threshold {ap.get('nms_threshold', 0.9)}, area {ap.get('nms_area', 'box')}"
        )
    stamp["input_normalisation"] = {
        "mean": model.get("pixel_mean", [0.485, 0.456, 0.406]),
        "std": model.get("pixel_std", [0.229, 0.224, 0.225]),
    }
    stamp["input_size"] = list(data.input_size)
    return stamp


def make_card(
    experiment: str,
    checkpoint: str,
    published: Mapping[str, Any] | None,
    metrics: Mapping[str, Any],
    stamp: Mapping[str, Any],
    commit: str,
) -> dict[str, Any]:
    """The card: metric, published, obtained, difference (obtained - published), all metrics
    and the stamp. Without a published number (``published`` None), or when the metric was not
    computed, ``published`` / ``obtained`` / ``difference`` are absent, never 0."""
    card: dict[str, Any] = {"experiment": experiment, "checkpoint": checkpoint}
    if published:
        metric = str(published["metric"])
        card["metric"] = metric
        card["published"] = float(published["value"])
        card["published_source"] = published.get("source")
        card["weights"] = published.get("weights")
        if isinstance(metrics.get(metric), float):
            card["obtained"] = metrics[metric]
            card["difference"] = metrics[metric] - card["published"]
    card["metrics"] = dict(metrics)
    card["protocol"] = {**stamp, "posekit_commit": commit}
    return card


def card_markdown(card: Mapping[str, Any]) -> str:
    """The card as a markdown table (what ``reproduce.py`` prints and writes to card.md)."""
    def shown(value: Any) -> str:
        return f"{value:.4f}" if isinstance(value, float) else str(value)

    lines = [f"## {card['experiment']}", "", "| metric | published | obtained | difference |",
             "|---|---|---|---|"]
    if "metric" in card:
        lines.append("| {} | {} | {} | {} |".format(
            card["metric"], shown(card["published"]), shown(card.get("obtained", "absent")),
            f"{card['difference']:+.4f}" if "difference" in card else "absent"))
    else:
        lines.append("| (no published number for this recipe) | | | |")
    lines += ["", "| protocol | |", "|---|---|"]
    lines += [f"| {key} | {value} |" for key, value in card["protocol"].items()]
    if card.get("published_source"):
        lines += ["", f"Published: {card['published_source']}; weights: {card.get('weights')}"]
    return "\n".join(lines) + "\n"


def write_card(card: Mapping[str, Any], out_dir: Path) -> tuple[Path, Path]:
    """``card.json`` and ``card.md`` in ``out_dir``."""
    out_dir.mkdir(parents=True, exist_ok=True)
    markdown = out_dir / "card.md"
    markdown.write_text(card_markdown(card))
    return write_json(out_dir / "card.json", dict(card)), markdown
