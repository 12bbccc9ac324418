"""Print a recipe's effective training settings beside its reference's, flagging differences.

    python scripts/recipe_card.py experiment=cspnext_rtmcc_coco [trainer=ddp trainer.devices=8 ...]
    python scripts/recipe_card.py experiment=hrnet_heatmap_coco optimizer_groups=false  # no model

Any train.py override applies. The reference's values are the recipe's ``recipe.reference``
entries (config key -> value, file and line of the reference); every difference is flagged
DIFFERS, and the script exits 0 (it reports, it does not judge); ``strict=true`` exits 1 when
any row differs. Options: conf/recipe_card.yaml.
"""

from __future__ import annotations

from omegaconf import DictConfig
from rich.console import Console

from posekit.cli import command, exit_with, task_overrides
from posekit.config import compose
from posekit.engine.recipe_card import card_rows, render

# this command's options; the other overrides given are train.py's
OWN_KEYS = ("optimizer_groups", "strict")


@command("recipe_card")
def main(cfg: DictConfig) -> int:
    overrides = task_overrides(exclude=OWN_KEYS)
    train_cfg = compose("train", overrides)
    rows = card_rows(train_cfg, with_optimizer_groups=cfg.optimizer_groups)
    source = train_cfg.get("recipe", {}).get("source", "no reference recorded")
    console = Console(width=200)
    console.print(render(rows, f"{' '.join(overrides) or 'default'} -- reference: {source}"))
    differing = [row.key for row in rows if row.differs]
    console.print(
        f"{len(differing)} difference(s) from the reference: {', '.join(differing) or 'none'}"
    )
    unknown = [row.key for row in rows if row.unknown]
    if unknown:
        console.print(f"not computed (set recipe.train_size): {', '.join(unknown)}")
    return 1 if cfg.strict and differing else 0


if __name__ == "__main__":
    exit_with(main())
