"""mmpose's training data path on a COCO-format folder, for the benchmark's side-by-side row.

Run by ``scripts/benchmark.py mmpose_python=PYTHON`` in that interpreter (an environment with
mmpose; posekit is not imported here), it times mmpose's SimCC recipe's training pipeline
(``configs/body_2d_keypoint/simcc/coco/simcc_res50_8xb64-210e_coco-256x192.py``: LoadImage,
GetBBoxCenterScale, RandomFlip, RandomHalfBody, RandomBBoxTransform, TopdownAffine,
GenerateTarget with SimCCLabel, PackPoseInputs) through a shuffled DataLoader in the main
process with one thread, as the posekit rows beside it, and prints one JSON line:
``{"samples_per_s": ..., "mmpose": "<version>", "versions": {package: version}}``.
"""

from __future__ import annotations

import argparse
import json
import time
from typing import Iterable, Iterator


def parse_args() -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("root", help="folder holding test_coco.json and its images")
    parser.add_argument("--seconds", type=float, default=10.0)
    parser.add_argument("--batch-size", type=int, default=32)
    parser.add_argument("--input-size", type=int, nargs=2, default=[192, 256], help="width height")
    return parser.parse_args()


def endless(loader: Iterable[dict]) -> Iterator[dict]:
    while True:
        yield from loader


def main() -> None:
    args = parse_args()
    import cv2
    import mmpose
    import mmpose.codecs  # noqa: F401  (registers SimCCLabel)
    import mmpose.datasets  # noqa: F401  (registers CocoDataset and the transforms)
    import torch
    from mmengine.dataset import pseudo_collate
    from mmengine.registry import DefaultScope
    from mmpose.registry import DATASETS

    torch.set_num_threads(1)
    cv2.setNumThreads(1)
    DefaultScope.get_instance("posekit-benchmark", scope_name="mmpose")
    codec = dict(type="SimCCLabel", input_size=tuple(args.input_size), sigma=6.0,
                 simcc_split_ratio=2.0)
    pipeline = [
        dict(type="LoadImage"), dict(type="GetBBoxCenterScale"),
        dict(type="RandomFlip", direction="horizontal"), dict(type="RandomHalfBody"),
        dict(type="RandomBBoxTransform"),
        dict(type="TopdownAffine", input_size=codec["input_size"]),
        dict(type="GenerateTarget", encoder=codec), dict(type="PackPoseInputs"),
    ]
    dataset = DATASETS.build(dict(
        type="CocoDataset", data_root=args.root, data_mode="topdown",
        ann_file="test_coco.json", data_prefix=dict(img=""), pipeline=pipeline,
    ))
    loader = torch.utils.data.DataLoader(dataset, batch_size=args.batch_size, shuffle=True,
                                         num_workers=0, collate_fn=pseudo_collate)
    batches = endless(loader)
    next(batches)  # warm-up
    samples, start = 0, time.perf_counter()
    while (elapsed := time.perf_counter() - start) < args.seconds or samples == 0:
        samples += len(next(batches)["inputs"])
    import mmengine
    import numpy

    versions = {"mmpose": mmpose.__version__, "mmengine": mmengine.__version__,
                "torch": torch.__version__, "numpy": numpy.__version__, "OpenCV": cv2.__version__}
    print(json.dumps({"samples_per_s": samples / elapsed, "mmpose": mmpose.__version__,
                      "versions": versions}))


if __name__ == "__main__":
    main()
