"""Keypoint mappings between two keypoint sets: a source data set's and a mixture's target.

A mapping sends some source keypoints to target keypoints, by name where the two sets agree or
by an explicit map (source name or 0-based index -> target name). Target keypoints no source
keypoint is sent to stay unlabelled (visibility 0, so weight 0 in training): a mixture never
makes up a label. Mappings that would mix up the left and the right side are refused.
"""

from __future__ import annotations

from pathlib import Path
from typing import Mapping, Sequence, Union

import numpy as np

from posekit.core.io import read_yaml
from posekit.core.spec import KeypointSpec
from posekit.data.records import PersonRecord, RecordStore

# what a data config may give as a source's mapping: null (by name), a map, or a yaml file of one
MappingConfig = Union[None, str, Path, Mapping[Union[str, int], str]]


class KeypointMappingError(ValueError):
    """A source's keypoints cannot be mapped into the target keypoint set."""


def _side(name: str) -> str | None:
    """``"left"`` / ``"right"`` when a keypoint name says so (``left_wrist``, ``r_ankle``...)."""
    tokens = name.lower().replace("-", "_").split("_")
    if "left" in tokens or tokens[0] == "l":
        return "left"
    if "right" in tokens or tokens[0] == "r":
        return "right"
    return None


def _read_map(mapping: str | Path, source: str) -> dict:
    path = Path(mapping)
    if not path.is_file():
        raise KeypointMappingError(
            f"data.mappings.{source}: mapping file {path} not found; give a yaml file of "
            "'<source keypoint name or index>: <target keypoint name>' lines, or null to map "
            "by name"
        )
    try:
        data = read_yaml(path, "mapping file") or {}
    except ValueError as err:
        raise KeypointMappingError(f"data.mappings.{source}: {err}") from None
    if not isinstance(data, dict):
        raise KeypointMappingError(
            f"data.mappings.{source}: {path} must hold a map of source keypoint -> target keypoint"
        )
    return data


class KeypointMapping:
    """Which source keypoint fills each target keypoint.

    Args:
        source_spec: the source data set's keypoint set.
        target_spec: the mixture's keypoint set (what the model predicts).
        mapping: ``None`` to map by name, or a map (or a yaml file of one) from source keypoint
            name or 0-based index to target keypoint name; an explicit map is complete (source
            keypoints it does not name are not used).
        source: the source's name in the mixture, for error messages.

    Attributes:
        target_from_source: (K_target,) int array, the source index filling each target
            keypoint, -1 where none does.
    """

    def __init__(
        self,
        source_spec: KeypointSpec,
        target_spec: KeypointSpec,
        mapping: MappingConfig = None,
        source: str = "source",
    ) -> None:
        self.source_spec = source_spec
        self.target_spec = target_spec
        self.source = source
        pairs = self._pairs(mapping)
        self.target_from_source = np.full(target_spec.num_keypoints, -1, dtype=np.int64)
        for s, t in pairs:
            if self.target_from_source[t] >= 0:
                other = source_spec.names[self.target_from_source[t]]
                raise KeypointMappingError(
                    f"data.mappings.{source} sends both '{other}' and '{source_spec.names[s]}' to "
                    f"target keypoint '{target_spec.names[t]}'; map each target keypoint once"
                )
            self.target_from_source[t] = s
        self._check_sides()

    # --- building ----------------------------------------------------------------------------
    def _pairs(self, mapping: MappingConfig) -> list[tuple[int, int]]:
        """(source index, target index) of every mapped keypoint."""
        src, tgt = self.source_spec, self.target_spec
        if mapping is None:
            pairs = [(i, tgt.names.index(n)) for i, n in enumerate(src.names) if n in tgt.names]
            if not pairs:
                raise KeypointMappingError(
                    f"source '{self.source}' (keypoints '{src.name}': {list(src.names)}) shares "
                    f"no keypoint name with the target '{tgt.name}' ({list(tgt.names)}); give "
                    f"an explicit map as data.mappings.{self.source}"
                )
            return pairs
        if isinstance(mapping, (str, Path)):
            mapping = _read_map(mapping, self.source)
        pairs = []
        for key, target_name in dict(mapping).items():
            pairs.append((self._source_index(key), self._target_index(key, target_name)))
        if not pairs:
            raise KeypointMappingError(
                f"data.mappings.{self.source} is empty; give null to map by name"
            )
        return pairs

    def _source_index(self, key: str | int) -> int:
        names = self.source_spec.names
        if isinstance(key, int) or (isinstance(key, str) and key.isdigit() and key not in names):
            index = int(key)
            if not 0 <= index < len(names):
                raise KeypointMappingError(
                    f"data.mappings.{self.source}: source keypoint index {index} is outside "
                    f"0..{len(names) - 1} of '{self.source_spec.name}'"
                )
            return index
        if key not in names:
            raise KeypointMappingError(
                f"data.mappings.{self.source}: '{key}' is not a keypoint of source "
                f"'{self.source}' ('{self.source_spec.name}': {list(names)}); use one of those "
                "names or a 0-based index"
            )
        return names.index(key)

    def _target_index(self, key: str | int, target_name: str) -> int:
        names = self.target_spec.names
        if target_name not in names:
            raise KeypointMappingError(
                f"data.mappings.{self.source}: '{key}' is sent to '{target_name}', which is not "
                f"a keypoint of the target '{self.target_spec.name}' ({list(names)})"
            )
        return names.index(target_name)

    def _check_sides(self) -> None:
        """Refuse left -> right, a flip pair sent to a non-pair, a paired keypoint to a midline
        one and (where the source declares flip pairs) a midline keypoint to a paired one."""
        src, tgt = self.source_spec, self.target_spec
        source_to_target = self.source_to_target
        for s, t in enumerate(source_to_target):
            if t < 0:
                continue
            sides = _side(src.names[s]), _side(tgt.names[t])
            if None not in sides and sides[0] != sides[1]:
                raise KeypointMappingError(
                    f"data.mappings.{self.source} sends the {sides[0]} keypoint '{src.names[s]}' "
                    f"to the {sides[1]} keypoint '{tgt.names[t]}'; map left to left and right "
                    "to right"
                )
        target_flip, source_flip = tgt.flip_index, src.flip_index
        if src.flip_pairs:  # a set that declares its mirror pairs: its other keypoints are midline
            for s, t in enumerate(source_to_target):
                if t >= 0 and source_flip[s] == s and target_flip[t] != t:
                    raise KeypointMappingError(
                        f"data.mappings.{self.source} sends '{src.names[s]}', which has no mirror "
                        f"in source '{self.source}', to '{tgt.names[t]}' of the target flip pair "
                        f"({tgt.names[t]}, {tgt.names[target_flip[t]]}); send it to a target "
                        "keypoint without a mirror"
                    )
        for a, b in src.flip_pairs:
            ta, tb = source_to_target[a], source_to_target[b]
            pair = f"flip pair ({src.names[a]}, {src.names[b]}) of source '{self.source}'"
            for s, t in ((a, ta), (b, tb)):
                if t >= 0 and target_flip[t] == t:
                    raise KeypointMappingError(
                        f"data.mappings.{self.source} sends '{src.names[s]}' of the {pair} to "
                        f"'{tgt.names[t]}', which has no mirror keypoint in the target "
                        f"'{tgt.name}'; send it to a keypoint of a target flip pair"
                    )
            if ta >= 0 and tb >= 0 and target_flip[ta] != tb:
                raise KeypointMappingError(
                    f"data.mappings.{self.source} sends the {pair} to ({tgt.names[ta]}, "
                    f"{tgt.names[tb]}), which is not a flip pair of the target '{tgt.name}'; "
                    "send the two keypoints of a pair to the two keypoints of one target pair"
                )

    # --- using -------------------------------------------------------------------------------
    @property
    def source_to_target(self) -> np.ndarray:
        """(K_source,) int array: the target index of each source keypoint, -1 if unused."""
        index = np.full(self.source_spec.num_keypoints, -1, dtype=np.int64)
        mapped = np.flatnonzero(self.target_from_source >= 0)
        index[self.target_from_source[mapped]] = mapped
        return index

    @property
    def unmapped_target_names(self) -> list[str]:
        """Target keypoints this source never labels (weight 0 in its samples)."""
        return [n for n, s in zip(self.target_spec.names, self.target_from_source) if s < 0]

    @property
    def unmapped_source_names(self) -> list[str]:
        """Source keypoints that have no place in the target (dropped)."""
        return [n for n, t in zip(self.source_spec.names, self.source_to_target) if t < 0]

    def map_keypoints(self, keypoints: np.ndarray) -> np.ndarray:
        """Source keypoints (K_source, 3) -> target keypoints (K_target, 3); unmapped target
        keypoints are (0, 0, 0): unlabelled."""
        out = np.zeros((self.target_spec.num_keypoints, 3), dtype=keypoints.dtype)
        mapped = self.target_from_source >= 0
        out[mapped] = keypoints[self.target_from_source[mapped]]
        return out

    def map_records(self, records: Sequence[PersonRecord]) -> RecordStore:
        """The records with their keypoints in the target set (boxes and ids unchanged)."""
        store = RecordStore.from_records(records)
        keypoints = np.zeros((len(store), self.target_spec.num_keypoints, 3), dtype=np.float32)
        mapped = self.target_from_source >= 0
        if len(store):
            keypoints[:, mapped] = store.keypoints[:, self.target_from_source[mapped]]
        return store.replace(keypoints=keypoints)
