"""posekit: top-down 2D keypoint estimation with PyTorch Lightning and Hydra."""

import os

__version__ = "0.1.0"

# albumentations (the photometric augmentation, imported when the data config is instantiated)
# asks PyPI for its latest version at import unless this is set: nothing leaves the machine
# unless the user asks (set NO_ALBUMENTATIONS_UPDATE=0 to allow the check).
os.environ.setdefault("NO_ALBUMENTATIONS_UPDATE", "1")
