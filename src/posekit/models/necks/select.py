"""Selecting backbone features by stride, shared by the necks."""

from __future__ import annotations

from typing import Sequence

from torch import Tensor, nn


def select_indices(
    in_strides: Sequence[int], strides: Sequence[int] | None, key: str
) -> list[int]:
    """The positions in ``in_strides`` of ``strides`` (all positions when ``None``).

    Raises:
        ValueError: a stride the backbone does not return, naming ``key`` and the fix.
    """
    if strides is None:
        return list(range(len(in_strides)))
    positions = []
    for stride in strides:
        if stride not in in_strides:
            raise ValueError(
                f"{key}: stride {stride} is not among the backbone's features (strides "
                f"{list(in_strides)}); add it to model.backbone.extra_strides or choose one of "
                "those"
            )
        positions.append(list(in_strides).index(stride))
    if not positions:
        raise ValueError(f"{key} selects no feature; name at least one stride or use null (all)")
    return positions


class SelectStages(nn.Module):
    """Keep the backbone features of ``strides`` in that order (mmpose's ``select_index``).

    Args:
        in_channels: channels of the backbone features.
        in_strides: their strides.
        strides: the strides to keep; the first feeds the main head.
    """

    def __init__(
        self, in_channels: Sequence[int], in_strides: Sequence[int], strides: Sequence[int]
    ) -> None:
        super().__init__()
        self.indices = select_indices(in_strides, strides, "model.neck.strides")
        self.channels: tuple[int, ...] = tuple(int(in_channels[i]) for i in self.indices)
        self.strides: tuple[int, ...] = tuple(int(in_strides[i]) for i in self.indices)

    def forward(self, features: list[Tensor]) -> list[Tensor]:
        """Backbone features -> the selected ones, (N, channels[i], H / strides[i], ...)."""
        return [features[i] for i in self.indices]
