"""Inference inputs and outputs on disk: image files, folders of images, videos."""

from __future__ import annotations

from pathlib import Path
from typing import Iterator

import cv2
import numpy as np

IMAGE_SUFFIXES = (".jpg", ".jpeg", ".png", ".bmp", ".tif", ".tiff", ".webp")
VIDEO_SUFFIXES = (".mp4", ".avi", ".mov", ".mkv", ".webm", ".m4v", ".mpg", ".mpeg")
DEFAULT_FPS = 25.0


def is_video(path: str | Path) -> bool:
    return Path(path).suffix.lower() in VIDEO_SUFFIXES


def list_images(folder: str | Path, recursive: bool = False) -> list[Path]:
    """The image files in ``folder`` (and its sub-folders when ``recursive``), sorted by path."""
    folder = Path(folder)
    found = folder.rglob("*") if recursive else folder.iterdir()
    images = sorted(p for p in found if p.suffix.lower() in IMAGE_SUFFIXES and p.is_file())
    if not images:
        where = f"{folder} or its sub-folders" if recursive else str(folder)
        raise FileNotFoundError(f"no images ({', '.join(IMAGE_SUFFIXES)}) in {where}")
    return images


class VideoReader:
    """RGB frames (H, W, 3) uint8 of a video file, with its frame rate and frame count."""

    def __init__(self, path: str | Path) -> None:
        self.path = Path(path)
        self.capture = cv2.VideoCapture(str(self.path))
        if not self.capture.isOpened():
            raise FileNotFoundError(f"cannot open video {self.path}: missing or not a video")
        fps = self.capture.get(cv2.CAP_PROP_FPS)
        self.fps = fps if fps and fps > 0 else DEFAULT_FPS
        self.num_frames = int(self.capture.get(cv2.CAP_PROP_FRAME_COUNT))  # may be an estimate

    def __iter__(self) -> Iterator[np.ndarray]:
        try:
            while True:
                ok, frame = self.capture.read()
                if not ok:
                    return
                yield cv2.cvtColor(frame, cv2.COLOR_BGR2RGB)
        finally:
            self.capture.release()


class VideoWriter:
    """Writes RGB frames (H, W, 3) uint8 to an MP4 (``mp4v``); the size comes from the first."""

    def __init__(self, path: str | Path, fps: float) -> None:
        self.path = Path(path)
        self.fps = fps
        self.writer: cv2.VideoWriter | None = None

    def write(self, frame: np.ndarray) -> None:
        if self.writer is None:
            self.path.parent.mkdir(parents=True, exist_ok=True)
            height, width = frame.shape[:2]
            fourcc = cv2.VideoWriter_fourcc(*"mp4v")
            self.writer = cv2.VideoWriter(str(self.path), fourcc, self.fps, (width, height))
            if not self.writer.isOpened():
                raise OSError(f"OpenCV cannot write an mp4v video to {self.path}")
        self.writer.write(cv2.cvtColor(frame, cv2.COLOR_RGB2BGR))

    def close(self) -> None:
        if self.writer is not None:
            self.writer.release()

    def __enter__(self) -> VideoWriter:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()
