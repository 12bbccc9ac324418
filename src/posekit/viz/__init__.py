"""Drawing predictions: skeletons on images, image grids, PNG output."""

from posekit.viz.skeleton import draw_skeleton, make_grid, save_image, side_ids

__all__ = ["draw_skeleton", "make_grid", "save_image", "side_ids"]
