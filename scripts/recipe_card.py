"""Print a recipe's effective training settings beside its reference's, flagging differences.

    python scripts/recipe_card.py experiment=cspnext_rtmcc_coco [trainer=ddp trainer.devices=8 ...]
    python scripts/recipe_card.py experiment=hrnet_heatmap_coco --no-model   # skip the optimizer groups

Any train.py override applies. The reference's values are the recipe's ``recipe.reference``
entries (config key -> value, file and line of the reference); every difference is flagged
DIFFERS, and the script exits 0 (it reports, it does not judge); ``--strict`` exits 1 when any
row differs.
"""

from __future__ import annotations

import argparse
import sys

from rich.console import Console

from posekit.config import compose
from posekit.engine.recipe_card import card_rows, render


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("overrides", nargs="*", help="train.py overrides, e.g. experiment=hrnet_heatmap_coco")
    parser.add_argument("--no-model", action="store_true", help="do not build the model (no optimizer groups)")
    parser.add_argument("--strict", action="store_true", help="exit 1 when any row differs")
    args = parser.parse_args(argv)
    cfg = compose("train", args.overrides)
    rows = card_rows(cfg, with_optimizer_groups=not args.no_model)
    source = cfg.get("recipe", {}).get("source", "no reference recorded")
    console = Console(width=200)
    console.print(render(rows, f"{' '.join(args.overrides) or 'default'} -- reference: {source}"))
    differing = [row.key for row in rows if row.differs]
    console.print(f"{len(differing)} difference(s) from the reference: {', '.join(differing) or 'none'}")
    unknown = [row.key for row in rows if row.unknown]
    if unknown:
        console.print(f"not computed (set recipe.train_size): {', '.join(unknown)}")
    return 1 if args.strict and differing else 0


if __name__ == "__main__":
    sys.exit(main())
