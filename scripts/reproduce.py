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

Other ``key=value`` arguments are train.py overrides for both the import and the evaluation
(``data.root=...``, ``data.use_det_boxes=false`` for ground-truth boxes, ...). Options:
conf/reproduce.yaml.
"""

from __future__ import annotations

from pathlib import Path

from omegaconf import DictConfig, open_dict

from posekit.cli import choice, command, task_overrides
from posekit.engine.checkpoint_import import import_checkpoint, import_config
from posekit.engine.reproduction import (
    card_markdown,
    make_card,
    posekit_commit,
    protocol_stamp,
    write_card,
)
from posekit.engine.tasks import evaluate

REPO = Path(__file__).resolve().parents[1]
# this command's options; the other overrides given are train.py's
OWN_KEYS = ("checkpoint", "source", "out", "flip_test")


# bad input (ConversionError and CheckpointError are ValueErrors, DataLayoutError a
# FileNotFoundError): its message, no traceback
@command("reproduce", refuse=(ValueError, FileNotFoundError))
def main(cfg: DictConfig) -> dict:
    """Import, evaluate, write the card; returns the card."""
    experiment = choice("experiment")
    if experiment is None:
        raise ValueError("give experiment=<name> (a config of conf/experiment), the recipe "
                         "whose published number to reproduce, e.g. experiment=hrnet_udp_coco")
    out_dir = Path(cfg.out).resolve()
    # the recipe's own config (data, boxes, protocol) around the imported model; no training
    # callbacks or loggers (EMA would swap weights)
    run_cfg = import_config(task_overrides(exclude=OWN_KEYS), out_dir)
    imported = import_checkpoint(run_cfg, cfg.checkpoint, out_dir / "imported.ckpt", cfg.source)
    with open_dict(run_cfg):
        run_cfg.ckpt_path = str(imported)
        run_cfg.flip_test = cfg.flip_test
        run_cfg.callbacks, run_cfg.logger = None, None
    metrics = evaluate(run_cfg)
    card = make_card(experiment, cfg.checkpoint, run_cfg.get("published"), metrics,
                     protocol_stamp(run_cfg, str(metrics.get("val/boxes"))), posekit_commit(REPO))
    json_path, md_path = write_card(card, out_dir)
    print(card_markdown(card))
    print(f"card written to {json_path} and {md_path}")
    return card


if __name__ == "__main__":
    main()
