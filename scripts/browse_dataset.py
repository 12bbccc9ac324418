"""Look at the data as the network gets it: `python scripts/browse_dataset.py data=<set> [n=16]
[split=train|val] [out=<folder>] [tile_height=256] [other overrides]`.

Writes browse_000.png, browse_001.png, ... (16 samples each) into `out` (the run folder by
default): each crop after augmentation (training split), with the labelled keypoints that carry
weight and the skeleton (left side orange, right side blue: after a flip the colours must stay on
the person's left and right) over the codec's targets (heatmap maximum, or the outer product of
the SimCC x and y labels). Crops smaller than ``tile_height`` are drawn enlarged by a whole
factor; each tile is captioned with its image id, person (annotation) id and sample index.
Options: conf/browse_dataset.yaml.
"""

import math
from pathlib import Path

from omegaconf import DictConfig

from posekit.cli import command

GRID = 16


@command("browse_dataset", refuse=(ValueError, FileNotFoundError))
def main(cfg: DictConfig) -> None:
    import torch
    from hydra.utils import instantiate

    from posekit.viz import make_grid, save_image
    from posekit.viz.targets import render_sample

    if cfg.split not in ("train", "val"):
        raise ValueError(f"split must be train or val, got {cfg.split}")
    torch.manual_seed(cfg.seed or 0)
    datamodule = instantiate(cfg.data)
    datamodule.setup("fit" if cfg.split == "train" else "validate")
    dataset = datamodule.train_set if cfg.split == "train" else datamodule.val_set
    count = min(int(cfg.n), len(dataset))
    order = torch.randperm(len(dataset))[:count].tolist() if cfg.split == "train" else range(count)
    height = int(datamodule.input_size[1])
    zoom = max(1, math.ceil(int(cfg.tile_height) / height))  # small inputs drawn larger
    pictures = []
    records = getattr(dataset, "records", None)  # a mixture's concatenation has none
    for i in order:
        sample = dataset[i]
        person = f" person {records[i].ann_id}" if records is not None else ""
        label = f"image {int(sample['image_id'])}{person} #{i}"
        pictures.append(render_sample(sample, datamodule.spec, zoom=zoom, label=label))
    for page, start in enumerate(range(0, count, GRID)):
        grid = make_grid(pictures[start : start + GRID])
        print(save_image(Path(cfg.out) / f"browse_{page:03d}.png", grid))


if __name__ == "__main__":
    main()
