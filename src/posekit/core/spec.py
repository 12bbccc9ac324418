"""The description of one keypoint set, shared by data, flip test, metrics and drawing."""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from pathlib import Path
from typing import Sequence

from posekit.core.io import read_yaml


@dataclass(frozen=True)
class KeypointSpec:
    """Names, left/right pairs, skeleton, OKS sigmas and body parts of a keypoint set.

    Read from ``conf/keypoints/<name>.yaml``; nothing else in posekit hard-codes a keypoint
    count or a flip pair. Flip pairs whose names carry a side (``left_``/``right_``, ``l_``/
    ``r_`` or such a suffix) must join the two sides of one part (``left_knee`` with
    ``right_knee``); ``check_flip_names: false`` turns the check off for unusual names.
    """

    name: str
    names: tuple[str, ...]
    flip_pairs: tuple[tuple[int, int], ...]
    skeleton: tuple[tuple[int, int], ...]
    sigmas: tuple[float, ...]
    joint_weights: tuple[float, ...] = ()
    upper_body_ids: tuple[int, ...] = ()
    lower_body_ids: tuple[int, ...] = ()
    check_flip_names: bool = True
    source: str = field(default="<inline>", compare=False)

    def __post_init__(self) -> None:
        k = len(self.names)
        where = f"keypoint spec '{self.name}' ({self.source})"
        if k == 0:
            raise ValueError(f"{where}: 'names' is empty")
        if len(set(self.names)) != k:
            raise ValueError(f"{where}: keypoint names repeat: {list(self.names)}")
        object.__setattr__(self, "names", tuple(self.names))
        object.__setattr__(self, "flip_pairs", tuple(tuple(p) for p in self.flip_pairs))
        object.__setattr__(self, "skeleton", tuple(tuple(p) for p in self.skeleton))
        object.__setattr__(self, "sigmas", tuple(float(s) for s in self.sigmas))
        weights = tuple(float(w) for w in self.joint_weights) or (1.0,) * k
        object.__setattr__(self, "joint_weights", weights)
        object.__setattr__(self, "upper_body_ids", tuple(self.upper_body_ids))
        object.__setattr__(self, "lower_body_ids", tuple(self.lower_body_ids))
        for label, values in (("sigmas", self.sigmas), ("joint_weights", self.joint_weights)):
            if len(values) != k:
                raise ValueError(f"{where}: '{label}' has {len(values)} values for {k} keypoints")
        seen: set[int] = set()
        for pair in self.flip_pairs:
            if len(pair) != 2 or pair[0] == pair[1]:
                raise ValueError(f"{where}: flip pair {list(pair)} must name two different keypoints")
            for i in pair:
                self._check_index(i, "flip_pairs", where)
                if i in seen:
                    raise ValueError(
                        f"{where}: keypoint {i} ({self.names[i]}) is in more than one flip pair; "
                        "swap pairs must be symmetric and disjoint"
                    )
                seen.add(i)
        if self.check_flip_names:
            for a, b in self.flip_pairs:
                _check_flip_names(self.names[a], self.names[b], where)
        for pair in self.skeleton:
            for i in pair:
                self._check_index(i, "skeleton", where)
        for label in ("upper_body_ids", "lower_body_ids"):
            for i in getattr(self, label):
                self._check_index(i, label, where)

    def _check_index(self, i: int, label: str, where: str) -> None:
        if not 0 <= int(i) < self.num_keypoints:
            raise ValueError(
                f"{where}: '{label}' names keypoint {i}, outside 0..{self.num_keypoints - 1}"
            )

    @property
    def num_keypoints(self) -> int:
        return len(self.names)

    @property
    def flip_index(self) -> list[int]:
        """Permutation ``p`` with ``flipped[:, p]`` swapping every left/right pair, shape (K,)."""
        index = list(range(self.num_keypoints))
        for a, b in self.flip_pairs:
            index[a], index[b] = b, a
        return index

    @classmethod
    def from_yaml(cls, path: str | Path) -> "KeypointSpec":
        path = Path(path)
        if not path.is_file():
            raise FileNotFoundError(f"keypoint spec file not found: {path}")
        data = read_yaml(path, "keypoint spec") or {}
        if not isinstance(data, dict):
            raise ValueError(f"keypoint spec {path} must hold a map of keys (name, names, ...)")
        data.pop("_target_", None)
        return cls.from_dict(data, source=str(path))

    @classmethod
    def from_dict(cls, data: dict, source: str = "<inline>") -> "KeypointSpec":
        required = ("name", "names", "flip_pairs", "skeleton", "sigmas")
        missing = [key for key in required if key not in data]
        if missing:
            raise ValueError(f"keypoint spec {source}: missing keys {missing}")
        known = set(cls.__dataclass_fields__) - {"source"}
        unknown = sorted(set(data) - known)
        if unknown:
            raise ValueError(f"keypoint spec {source}: unknown keys {unknown}")
        return cls(source=source, **{key: _to_plain(value) for key, value in data.items()})


def keypoint_differences(model: KeypointSpec, data: KeypointSpec) -> str | None:
    """What differs between the keypoints a model predicts and those of a data set, in words;
    None when the names match in order."""
    if model.names == data.names:
        return None
    only_model = [n for n in model.names if n not in data.names]
    only_data = [n for n in data.names if n not in model.names]
    parts = [f"the model predicts {model.num_keypoints} keypoints ('{model.name}'), the data has "
             f"{data.num_keypoints} ('{data.name}')"]
    if only_model:
        parts.append(f"only the model has {only_model}")
    if only_data:
        parts.append(f"only the data has {only_data}")
    if not only_model and not only_data:
        moved = [n for i, n in enumerate(model.names) if data.names[i] != n]
        parts.append(f"the same names in another order ({moved[:6]} move)")
    return "; ".join(parts)


def check_same_keypoints(model: KeypointSpec, data: KeypointSpec, what: str) -> None:
    """Raise ValueError naming ``what`` (the checkpoint) when the keypoints differ."""
    difference = keypoint_differences(model, data)
    if difference is not None:
        raise ValueError(
            f"{what} does not predict this data set's keypoints: {difference}. Evaluate it on "
            "data with its keypoint set (data=..., data.keypoints=...)"
        )


_SIDE = re.compile(r"^(left|right|l|r)[_\-.]|[_\-.](left|right|l|r)$", re.IGNORECASE)


def _side_and_part(name: str) -> tuple[str | None, str]:
    """('left' | 'right' | None, the name without its side)."""
    match = _SIDE.search(name)
    if match is None:
        return None, name.lower()
    side = (match.group(1) or match.group(2)).lower()
    return ("left" if side.startswith("l") else "right"), _SIDE.sub("", name, count=1).lower()


def _check_flip_names(first: str, second: str, where: str) -> None:
    side_a, part_a = _side_and_part(first)
    side_b, part_b = _side_and_part(second)
    if side_a is None and side_b is None:
        return
    if side_a == side_b or part_a != part_b:
        raise ValueError(
            f"{where}: flip pair ({first}, {second}) does not join the left and right of one "
            "part; fix flip_pairs, or set check_flip_names: false in the keypoint yaml if the "
            "names mislead"
        )


def _to_plain(value):
    """OmegaConf containers and numpy values to tuples and Python scalars."""
    if isinstance(value, (list, tuple)) or type(value).__name__ == "ListConfig":
        return tuple(_to_plain(v) for v in value)
    return value


def build_keypoint_spec(**fields: Sequence) -> KeypointSpec:
    """Hydra target: ``_target_: posekit.core.spec.build_keypoint_spec`` plus the yaml fields."""
    return KeypointSpec.from_dict(dict(fields), source=str(fields.get("name", "<config>")))


def load_keypoint_spec(path: str | Path) -> KeypointSpec:
    """Hydra target for a keypoint yaml anywhere on disk (custom data sets):
    ``keypoints: {_target_: posekit.core.spec.load_keypoint_spec, path: /my/keypoints.yaml}``."""
    if path in (None, "", "???"):
        raise ValueError(
            "no keypoint spec file given: pass data.keypoints.path=/path/to/keypoints.yaml "
            "(the format of conf/keypoints/coco.yaml)"
        )
    return KeypointSpec.from_yaml(path)
