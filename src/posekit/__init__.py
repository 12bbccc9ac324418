"""posekit: top-down 2D keypoint estimation with PyTorch Lightning and Hydra."""

__version__ = "0.1.0"
