"""Heatmap overlays, SimCC distribution plots and box drawing."""

from __future__ import annotations

import matplotlib
import numpy as np
import pytest

from posekit.viz.overlays import (
    draw_boxes,
    heatmap_overlay,
    simcc_distribution_plot,
    simcc_to_heatmap,
    softmax,
)


def _image(h: int = 40, w: int = 30) -> np.ndarray:
    return np.full((h, w, 3), 100, dtype=np.uint8)


def test_heatmap_overlay_is_image_sized_and_hottest_at_the_peak():
    image = _image()
    heatmap = np.zeros((8, 6), dtype=np.float32)
    heatmap[2, 4] = 1.0  # heatmap pixel (4, 2) covers image x 20-25, y 10-15
    blended = heatmap_overlay(image, heatmap, alpha=0.6)
    assert blended.shape == image.shape and blended.dtype == np.uint8
    assert (blended != image).any() and (image == 100).all()
    red_minus_blue = blended[..., 0].astype(int) - blended[..., 2].astype(int)
    y, x = np.unravel_index(red_minus_blue.argmax(), red_minus_blue.shape)
    assert 17 <= x <= 27 and 7 <= y <= 17
    np.testing.assert_array_equal(heatmap_overlay(image, heatmap, alpha=0.0), image)
    with pytest.raises(ValueError, match=r"\(h, w\)"):
        heatmap_overlay(image, np.zeros((2, 2, 2)))


def test_simcc_to_heatmap_is_the_outer_product_of_the_softmaxes():
    x, y = np.array([0.0, 3.0, 0.0, 1.0]), np.array([2.0, 0.0, 0.0])
    heatmap = simcc_to_heatmap(x, y)
    assert heatmap.shape == (3, 4) and heatmap.sum() == pytest.approx(1.0)
    assert np.unravel_index(heatmap.argmax(), heatmap.shape) == (0, 1)
    np.testing.assert_allclose(heatmap.sum(axis=0), softmax(x))


def test_simcc_distribution_plot_has_the_requested_size():
    backend = matplotlib.get_backend()
    bins = np.arange(96, dtype=np.float32)
    plot = simcc_distribution_plot(
        -((bins - 40) ** 2) / 20,
        -((np.arange(128) - 70) ** 2) / 20,
        split_ratio=2.0,
        keypoint=(20.0, 35.0),
        title="nose",
        size=(400, 200),
    )
    assert plot.shape == (200, 400, 3) and plot.dtype == np.uint8
    assert len(np.unique(plot.reshape(-1, 3), axis=0)) > 10  # curves, axes and text drawn
    assert matplotlib.get_backend() == backend  # the caller's backend (e.g. inline) is kept
    with pytest.raises(ValueError, match="split_ratio"):
        simcc_distribution_plot(bins, bins, split_ratio=0)


def test_draw_boxes_draws_the_outline_only():
    image = np.zeros((50, 50, 3), dtype=np.uint8)
    drawn = draw_boxes(image, np.array([[10, 10, 20, 30]]), color=(255, 0, 0))
    assert tuple(drawn[10, 20]) == (255, 0, 0) and tuple(drawn[40, 30]) == (255, 0, 0)
    assert not drawn[25, 20].any() and not image.any()
