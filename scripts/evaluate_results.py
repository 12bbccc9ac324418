"""Score a results file with a data set's official protocol, whatever method produced it.

    python scripts/evaluate_results.py --data coco --annotations person_keypoints_val2017.json \
        --results predictions.json
    python scripts/evaluate_results.py --data crowdpose --annotations json/crowdpose_test.json \
        --results predictions.json
    python scripts/evaluate_results.py --data mpii --mat annotations/mpii_gt_val.mat \
        --results predictions.json          # or HRNet's pred.mat
    python scripts/evaluate_results.py --data custom --keypoints my_keypoints.yaml \
        --annotations val.json --results predictions.json

--data names a config of conf/data (coco, crowdpose, aic, ochuman, halpe26, halpe136, mpii,
custom, sample); its options (sigmas, OKS area convention, crowd-index groups, Halpe parts)
define the protocol. COCO-format results are scored as given (no rescoring, no NMS).
"""

from __future__ import annotations

import argparse
import sys

from posekit.engine.results import score_results


def main(argv: list[str] | None = None) -> dict[str, float]:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--data", required=True, help="a data config name, e.g. crowdpose")
    parser.add_argument("--results", required=True, help="the results file (.json; MPII: or .mat)")
    parser.add_argument("--annotations", help="the ground-truth json (COCO-format sets)")
    parser.add_argument("--mat", help="MPII: mpii_gt_val.mat with the head boxes")
    parser.add_argument("--keypoints", help="custom sets: the keypoint spec yaml")
    args = parser.parse_args(argv)
    try:
        metrics = score_results(
            args.data, args.results, args.annotations, args.mat, args.keypoints
        )
    except (ValueError, KeyError, FileNotFoundError) as err:  # bad input: say why, exit 1
        sys.exit(f"evaluate_results.py: {err}")
    print(f"{args.data}: {args.results}")
    for name, value in metrics.items():
        print(f"{name:>16s}  {value:.4f}")
    return metrics


if __name__ == "__main__":
    main()
