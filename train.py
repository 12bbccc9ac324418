"""Train a top-down keypoint model: `python train.py [experiment=...] [key=value ...]`.

With no arguments it trains the default model on the bundled sample (data/sample).
`python train.py --help` lists the config groups and their options.
"""

import os
from pathlib import Path

os.environ.setdefault("POSEKIT_ROOT", str(Path(__file__).resolve().parent))

import hydra  # noqa: E402
from omegaconf import DictConfig  # noqa: E402


@hydra.main(version_base="1.3", config_path="conf", config_name="train")
def main(cfg: DictConfig) -> float | None:
    from posekit.pipeline import train
    from posekit.sweep import objective_value

    metrics = train(cfg)
    # a Hydra sweeper (e.g. Optuna) optimises the value returned here: cfg.optimized_metric
    return objective_value(cfg, metrics)


if __name__ == "__main__":
    main()
