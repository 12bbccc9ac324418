"""mmpose's ``CocoDataset`` on a scale-group annotation file, for the side-by-side rows.

Run by ``scripts/benchmark.py groups=[scale] mmpose_python=PYTHON`` in that interpreter
(posekit is not imported; the memory readers come from process_memory.py beside this file):
the data set's build time (``serialize_data=True``, mmengine's default), the peak
and final resident set, and the private memory (USS) of each loader worker after the first
batch and after N samples of a shuffled loader (LoadImage, GetBBoxCenterScale, TopdownAffine
to 48x64, PackPoseInputs). Prints one JSON line.
"""

from __future__ import annotations

import argparse
import json
import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))

from process_memory import current_rss, peak_rss, reset_peak_rss, uss  # noqa: E402


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("root")
    parser.add_argument("ann")
    parser.add_argument("--workers", type=int, default=2)
    parser.add_argument("--samples", type=int, default=5000)
    args = parser.parse_args()
    import mmengine
    import mmpose
    import mmpose.datasets  # noqa: F401  (registers CocoDataset and the transforms)
    import numpy
    import torch
    from mmengine.dataset import pseudo_collate
    from mmengine.registry import DefaultScope
    from mmpose.registry import DATASETS

    torch.set_num_threads(1)
    DefaultScope.get_instance("posekit-scale", scope_name="mmpose")
    pipeline = [dict(type="LoadImage"), dict(type="GetBBoxCenterScale"),
                dict(type="TopdownAffine", input_size=(48, 64)), dict(type="PackPoseInputs")]
    before = current_rss()
    reset_peak_rss()
    start = time.perf_counter()
    dataset = DATASETS.build(dict(type="CocoDataset", data_root=args.root, data_mode="topdown",
                                  ann_file=args.ann, data_prefix=dict(img=""), pipeline=pipeline))
    result = {"seconds": time.perf_counter() - start, "peak": peak_rss(), "rss": current_rss(),
              "before": before, "people": len(dataset),
              "versions": {"mmpose": mmpose.__version__, "mmengine": mmengine.__version__,
                           "numpy": numpy.__version__, "torch": torch.__version__}}
    if args.workers and args.samples:
        loader = torch.utils.data.DataLoader(dataset, batch_size=16, shuffle=True,
                                             num_workers=args.workers, persistent_workers=True,
                                             collate_fn=pseudo_collate)
        batches = iter(loader)
        next(batches)
        pids = [worker.pid for worker in batches._workers]
        result["uss_first"] = [uss(pid) for pid in pids]
        for step in range(args.samples // 16):
            next(batches)
            if step == args.samples // 160:  # a tenth of the way, as scale.py measures
                result["uss_warm"] = [uss(pid) for pid in pids]
        result["uss_last"] = [uss(pid) for pid in pids]
    print(json.dumps(result))


if __name__ == "__main__":
    main()
