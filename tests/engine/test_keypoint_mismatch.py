"""A checkpoint evaluated on data with other keypoints fails, saying what differs."""

from __future__ import annotations

import pytest
from helpers import REPO, compose_config
from helpers.tiny_models import save_tiny_checkpoint

from posekit.core.spec import KeypointSpec, keypoint_differences
from posekit.engine.tasks import evaluate

COCO = KeypointSpec.from_yaml(REPO / "conf" / "keypoints" / "coco.yaml")
CROWDPOSE = KeypointSpec.from_yaml(REPO / "conf" / "keypoints" / "crowdpose.yaml")


def test_differences_in_words() -> None:
    assert keypoint_differences(COCO, COCO) is None
    text = keypoint_differences(CROWDPOSE, COCO)
    assert "predicts 14 keypoints ('crowdpose'), the data has 17 ('coco')" in text
    assert "only the model has ['top_head', 'neck']" in text
    assert "only the data has ['nose', 'left_eye', 'right_eye', 'left_ear', 'right_ear']" in text
    swapped = KeypointSpec(
        name="coco_swapped", names=(COCO.names[1], COCO.names[0], *COCO.names[2:]),
        flip_pairs=(), skeleton=(), sigmas=COCO.sigmas,
    )
    assert "the same names in another order (['left_eye', 'nose'] move)" in keypoint_differences(
        swapped, COCO
    )


def test_eval_refuses_a_checkpoint_of_other_keypoints(tmp_path) -> None:
    ckpt = save_tiny_checkpoint(tmp_path / "tiny.ckpt")
    cfg = compose_config(
        "eval",
        [f"ckpt_path={ckpt}", "keypoints@data.keypoints=crowdpose", "data.num_workers=0"],
        tmp_path / "eval",
    )
    with pytest.raises(ValueError, match=r"tiny.ckpt does not predict this data set's keypoints: "
                                         r"the model predicts 17 .* the data has 14"):
        evaluate(cfg)
