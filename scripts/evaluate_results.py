r"""Score a results file with a data set's official protocol, whatever method produced it.

    python scripts/evaluate_results.py data=coco annotations=person_keypoints_val2017.json \
        results=predictions.json
    python scripts/evaluate_results.py data=crowdpose annotations=json/crowdpose_test.json \
        results=predictions.json
    python scripts/evaluate_results.py data=mpii mat=annotations/mpii_gt_val.mat \
        results=predictions.json          # or HRNet's pred.mat
    python scripts/evaluate_results.py data=custom keypoint_spec=my_keypoints.yaml \
        annotations=val.json results=predictions.json

``data`` names a config of conf/data (coco, crowdpose, aic, ochuman, halpe26, halpe136, mpii,
custom, sample); its options (sigmas, OKS area convention, crowd-index groups, Halpe parts)
define the protocol, and ``data.<key>=...`` changes one. COCO-format results are scored as
given (no rescoring, no NMS). Options: conf/evaluate_results.yaml.
"""

from __future__ import annotations

from omegaconf import DictConfig

from posekit.cli import choice, command, task_overrides
from posekit.engine.results import score_results


@command("evaluate_results", refuse=(ValueError, KeyError, FileNotFoundError))
def main(cfg: DictConfig) -> dict[str, float]:
    data = choice("data")
    if data is None:
        raise ValueError("give data=<set> (a config of conf/data), e.g. data=coco")
    metrics = score_results(
        data, cfg.results, cfg.annotations, cfg.mat, cfg.keypoint_spec,
        overrides=[o for o in task_overrides() if o.startswith("data.")],
    )
    print(f"{data}: {cfg.results}")
    for name, value in metrics.items():
        print(f"{name:>16s}  {value:.4f}")
    return metrics


if __name__ == "__main__":
    main()
