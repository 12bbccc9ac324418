"""Reproduce a recipe's published number from the published checkpoint, in one command.

    python scripts/reproduce.py experiment=hrnet_udp_coco \\
        checkpoint=td-hm_hrnet-w32_udp-8xb64-210e_coco-256x192-73ede547_20220914.pth \\
        data.root=/data/coco [source=mmpose] [out=reproductions/hrnet_udp_coco] [key=value ...]

1. imports ``checkpoint`` (any source ``scripts/import_checkpoint.py`` reads; ``source=`` only
   when its detection from the file's keys should be overridden) into ``<out>/imported.ckpt``;
2. evaluates it under the recipe's protocol: the boxes the paper used (the detections file the
   data config names, e.g. COCO_val2017_detections_AP_H_56_person.json), flip test, the
   recipe's score, flip and decode rules, rescoring and OKS-NMS (conf/protocol);
3. prints and writes the card ``<out>/card.json`` and ``<out>/card.md``: metric, published
   (the experiment's ``published`` node), obtained, difference, and the protocol stamp
   (boxes, rules, thresholds, input normalisation, posekit commit).

Other ``key=value`` arguments are config overrides for both the import and the evaluation
(``data.root=...``, ``data.use_det_boxes=false`` for ground-truth boxes, ...).
"""

from __future__ import annotations

import importlib.util
import sys
from pathlib import Path

from omegaconf import open_dict

REPO = Path(__file__).resolve().parents[1]
OWN_KEYS = ("experiment", "checkpoint", "source", "out", "flip_test")


def _import_script():
    """``scripts/import_checkpoint.py`` as a module (scripts are not a package)."""
    spec = importlib.util.spec_from_file_location("import_checkpoint", REPO / "scripts" /
                                                  "import_checkpoint.py")
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def parse(argv: list[str]) -> tuple[dict[str, str], list[str]]:
    """(this script's own ``key=value`` arguments, the config overrides)."""
    own, overrides = {}, []
    for arg in argv:
        key, sep, value = arg.partition("=")
        if not sep:
            raise SystemExit(f"reproduce.py: arguments are key=value, got {arg!r}\n{__doc__}")
        if key in OWN_KEYS:
            own[key] = value
        else:
            overrides.append(arg)
    missing = [key for key in ("experiment", "checkpoint") if key not in own]
    if missing:
        needed = " and ".join(f"{key}=..." for key in missing)
        raise SystemExit(f"reproduce.py: give {needed}\n{__doc__}")
    return own, overrides


def main(argv: list[str] | None = None) -> dict:
    """Import, evaluate, write the card; returns the card."""
    from posekit.config import compose, set_repo_root
    from posekit.engine.reproduction import (
        card_markdown,
        make_card,
        posekit_commit,
        protocol_stamp,
        write_card,
    )
    from posekit.engine.tasks import evaluate

    set_repo_root(REPO)
    own, overrides = parse(sys.argv[1:] if argv is None else argv)
    experiment = own["experiment"]
    out_dir = Path(own.get("out", f"reproductions/{experiment}")).resolve()
    imported = out_dir / "imported.ckpt"
    source = ["--source", own["source"]] if "source" in own else []
    _import_script().main([*source, "--checkpoint", own["checkpoint"], "--experiment",
                           experiment, "--out", str(imported), *overrides])

    # the recipe's own config (data, boxes, protocol) around the imported model; no training
    # callbacks or loggers (EMA would swap weights)
    cfg = compose("train", [f"experiment={experiment}", *overrides], output_dir=out_dir)
    with open_dict(cfg):
        cfg.ckpt_path = str(imported)
        cfg.flip_test = own.get("flip_test", "true").lower() != "false"
        cfg.callbacks, cfg.logger = None, None
    metrics = evaluate(cfg)
    card = make_card(experiment, own["checkpoint"], cfg.get("published"), metrics,
                     protocol_stamp(cfg, str(metrics.get("val/boxes"))), posekit_commit(REPO))
    json_path, md_path = write_card(card, out_dir)
    print(card_markdown(card))
    print(f"card written to {json_path} and {md_path}")
    return card


if __name__ == "__main__":
    from posekit.data.datamodule import DataLayoutError
    from posekit.models.checkpoint import CheckpointError
    from posekit.models.state_mapping import ConversionError

    try:
        main()
    except (ConversionError, CheckpointError, DataLayoutError) as err:  # bad input: the reason
        sys.exit(f"reproduce.py: {err}")
