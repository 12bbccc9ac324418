"""KeypointSpec: flip pairs must join the left and right of one part where names say so."""

from __future__ import annotations

import pytest

from posekit.core.spec import KeypointSpec

NAMES = ("nose", "left_shoulder", "right_shoulder", "left_elbow", "right_elbow")


def spec(pairs, names=NAMES, **extra) -> KeypointSpec:
    return KeypointSpec.from_dict(
        {"name": "toy", "names": list(names), "flip_pairs": pairs, "skeleton": [],
         "sigmas": [0.05] * len(names), **extra},
        source="toy.yaml",
    )


def test_matching_flip_pairs_pass() -> None:
    assert spec([[1, 2], [3, 4]]).flip_index == [0, 2, 1, 4, 3]
    # side tokens as prefixes or suffixes, short or long, any order in the pair
    names = ("l_hip", "r_hip", "knee_left", "knee_right", "face_1", "face_2")
    assert spec([[1, 0], [2, 3], [4, 5]], names=names).flip_index == [1, 0, 3, 2, 5, 4]


@pytest.mark.parametrize(
    "pairs",
    [[[1, 4], [3, 2]], [[1, 3], [2, 4]], [[0, 1]]],
    ids=["left_shoulder-right_elbow", "same side", "nose-left_shoulder"],
)
def test_mismatched_flip_pairs_fail_with_the_override(pairs) -> None:
    expected = r"toy.yaml.*flip pair \(.*\) does not join.*check_flip_names: false"
    with pytest.raises(ValueError, match=expected):
        spec(pairs)
    assert spec(pairs, check_flip_names=False).num_keypoints == 5


def test_a_keypoint_yaml_that_does_not_parse_names_the_file_and_line(tmp_path):
    path = tmp_path / "broken.yaml"
    path.write_text("name: mine\nnames: [nose, eye\nflip_pairs: []\n")  # an unclosed list
    with pytest.raises(ValueError, match=r"keypoint spec \S*broken.yaml is not valid YAML at "
                                         r"line 3, column \d+"):
        KeypointSpec.from_yaml(path)
