"""Evaluate a checkpoint: `python eval.py ckpt_path=<run>/checkpoints/best_*.ckpt [data=...]`.

The model comes from the checkpoint; data.root=... evaluates another folder of the same layout.
Flip test is on unless flip_test=false. Prints the metrics and writes metrics.json.

Several checkpoints: `ckpt_path=[a.ckpt,b.ckpt]`, a run folder (its best checkpoint) or a sweep
folder (each job's best checkpoint): each is evaluated into its own sub-folder, and one table
is printed and written to comparison.csv.
"""

from pathlib import Path

import hydra
from omegaconf import DictConfig

from posekit.config import run_with_key_hints, set_repo_root  # registers the resolvers

set_repo_root(Path(__file__).resolve().parent)


@hydra.main(version_base="1.3", config_path="conf", config_name="eval")
def main(cfg: DictConfig) -> None:
    from posekit.engine.evaluate_many import evaluate_all

    evaluate_all(cfg)


if __name__ == "__main__":
    run_with_key_hints(main, "eval")
