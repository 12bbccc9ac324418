"""Keypoint mappings between data sets: by name, explicit, and the refusals."""

from __future__ import annotations

import numpy as np
import pytest
from helpers import CONF
from hydra.utils import instantiate
from omegaconf import OmegaConf

from posekit.core.spec import KeypointSpec
from posekit.data.keypoint_mapping import KeypointMapping, KeypointMappingError


def spec(name: str) -> KeypointSpec:
    return instantiate(OmegaConf.load(CONF / "keypoints" / f"{name}.yaml"))


# mmpose's KeypointConverter tables (source index, COCO index) of its RTMPose body7 configs
MMPOSE_TO_COCO = {
    "aic": [(0, 6), (1, 8), (2, 10), (3, 5), (4, 7), (5, 9), (6, 12), (7, 14), (8, 16), (9, 11),
            (10, 13), (11, 15)],
    "crowdpose": [(0, 5), (1, 6), (2, 7), (3, 8), (4, 9), (5, 10), (6, 11), (7, 12), (8, 13),
                  (9, 14), (10, 15), (11, 16)],
    "mpii": [(0, 16), (1, 14), (2, 12), (3, 11), (4, 13), (5, 15), (10, 10), (11, 8), (12, 6),
             (13, 5), (14, 7), (15, 9)],
}


@pytest.mark.parametrize("source", sorted(MMPOSE_TO_COCO))
def test_by_name_into_coco_equals_mmpose_tables(source):
    mapping = KeypointMapping(spec(source), spec("coco"), None, source=source)
    expected = np.full(17, -1)
    for s, t in MMPOSE_TO_COCO[source]:
        expected[t] = s
    assert mapping.target_from_source.tolist() == expected.tolist()
    face = ["nose", "left_eye", "right_eye", "left_ear", "right_ear"]
    assert mapping.unmapped_target_names == face


def test_mapped_keypoints_keep_their_values_and_the_rest_stay_unlabelled():
    mapping = KeypointMapping(spec("aic"), spec("coco"), None, source="aic")
    aic = np.arange(14 * 3, dtype=np.float32).reshape(14, 3) + 1  # every keypoint labelled
    coco = mapping.map_keypoints(aic)
    assert coco.shape == (17, 3)
    assert coco[:5].tolist() == [[0, 0, 0]] * 5  # nose, eyes, ears: no made-up label
    assert coco[5].tolist() == aic[3].tolist()  # left_shoulder is AIC's 4th keypoint
    assert coco[16].tolist() == aic[8].tolist()  # right_ankle is AIC's 9th


def test_explicit_map_by_name_and_index_and_from_a_file(tmp_path):
    names = {n: n for n in spec("crowdpose").names[:12]}
    explicit = {**names, "top_head": "head_top", 13: "neck"}
    mapping = KeypointMapping(spec("crowdpose"), spec("aic"), explicit, source="crowdpose")
    assert mapping.target_from_source[12] == 12 and mapping.target_from_source[13] == 13
    assert mapping.target_from_source[3] == 0  # aic left_shoulder <- crowdpose left_shoulder
    assert mapping.source_to_target.tolist() == [3, 0, 4, 1, 5, 2, 9, 6, 10, 7, 11, 8, 12, 13]
    path = tmp_path / "map.yaml"
    path.write_text("\n".join(f"{k}: {v}" for k, v in explicit.items()))
    from_file = KeypointMapping(spec("crowdpose"), spec("aic"), str(path), source="crowdpose")
    assert from_file.target_from_source.tolist() == mapping.target_from_source.tolist()


@pytest.mark.parametrize(
    "source, target, mapping, match",
    [
        ("crowdpose", "aic", {"top_head": "head_top", "nose": "neck"},
         "'nose' is not a keypoint of source 'crowdpose'"),
        ("crowdpose", "aic", {"top_head": "tip_of_head"},
         "'tip_of_head', which is not a keypoint of the target 'aic'"),
        ("crowdpose", "aic", {20: "neck"}, "index 20 is outside 0..13"),
        ("crowdpose", "aic", {"left_wrist": "right_wrist"},
         "left keypoint 'left_wrist' to the right keypoint"),
        ("crowdpose", "aic", {"neck": "neck", "top_head": "neck"}, "both 'neck' and 'top_head'"),
        ("crowdpose", "aic", {"left_shoulder": "left_shoulder", "right_shoulder": "right_elbow"},
         r"flip pair \(left_shoulder, right_shoulder\) of source 'crowdpose' to "
         r"\(left_shoulder, right_elbow\)"),
        ("crowdpose", "aic", {"left_shoulder": "neck"}, "'neck', which has no mirror keypoint"),
        ("hand21", "coco", None, "shares no keypoint name"),
        ("mpii", "coco", {"head_top": "left_ear"},
         r"'head_top', which has no mirror in source 'mpii', to 'left_ear' of the target flip "
         r"pair \(left_ear, right_ear\)"),
    ],
)
def test_bad_mappings_are_refused_with_the_source_and_pair_named(source, target, mapping, match):
    with pytest.raises(KeypointMappingError, match=match):
        KeypointMapping(spec(source), spec(target), mapping, source=source)


def test_a_flip_pair_crossing_sides_by_index_is_refused():
    """Indices carry no names: the pair check alone catches a swapped pair sent crosswise."""
    left_right = KeypointSpec("lr", ("a", "b"), ((0, 1),), (), (0.1, 0.1))
    target = KeypointSpec("t", ("p", "q", "r", "s"), ((0, 1), (2, 3)), (), (0.1,) * 4)
    KeypointMapping(left_right, target, {0: "q", 1: "p"}, source="s")  # a mirrored pair is fine
    with pytest.raises(KeypointMappingError, match=r"flip pair \(a, b\).*\(p, s\)"):
        KeypointMapping(left_right, target, {0: "p", 1: "s"}, source="s")


def test_face_and_hand_sets_map_into_halpe136():
    face = KeypointMapping(spec("face68"), spec("halpe136"), None, source="face")
    assert face.source_to_target.tolist() == list(range(26, 94))
    hand_map = {n: f"right_{n}" for n in spec("hand21").names}
    hand = KeypointMapping(spec("hand21"), spec("halpe136"), hand_map, source="hand")
    assert hand.source_to_target.tolist() == list(range(115, 136))
    with pytest.raises(KeypointMappingError, match="missing_map.yaml not found"):
        KeypointMapping(spec("hand21"), spec("halpe136"), "missing_map.yaml", source="hand")


def test_a_mapping_yaml_that_does_not_parse_names_the_file_and_line(tmp_path):
    path = tmp_path / "map.yaml"
    path.write_text("nose: nose\nleft_eye: [left_eye\n")
    with pytest.raises(KeypointMappingError, match=r"data.mappings.aic: mapping file \S*map.yaml "
                                                   r"is not valid YAML at line \d+, column \d+"):
        KeypointMapping(spec("coco"), spec("coco"), str(path), source="aic")
