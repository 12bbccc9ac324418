"""Train a top-down keypoint model: `python train.py [experiment=...] [key=value ...]`.

With no arguments it trains the default model on the bundled sample (data/sample).
`python train.py --help` lists the config groups and their options.
"""

from pathlib import Path

import hydra
from omegaconf import DictConfig

from posekit.config import run_with_key_hints, set_repo_root  # registers the resolvers

set_repo_root(Path(__file__).resolve().parent)


@hydra.main(version_base="1.3", config_path="conf", config_name="train")
def main(cfg: DictConfig) -> float | None:
    from posekit.engine.tasks import train
    from posekit.engine.sweep import objective_value

    metrics = train(cfg)
    # a Hydra sweeper (e.g. Optuna) optimises the value returned here: cfg.optimized_metric
    return objective_value(cfg, metrics)


if __name__ == "__main__":
    run_with_key_hints(main, "train")
