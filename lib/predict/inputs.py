"""What a user points predict at: an image, a folder of images (and videos), or a video,
read frame by frame (every Nth). Each unreadable file is a DataError naming it."""
from __future__ import annotations

from pathlib import Path

import cv2

from ..data import DataError
from ..data.formats import IMAGE_SUFFIXES
from ..data.prepare import image_is_complete

VIDEO_SUFFIXES = (".mp4", ".avi", ".mov", ".mkv", ".webm", ".m4v", ".mpg", ".mpeg")


def is_video(path: Path) -> bool:
    return path.suffix.lower() in VIDEO_SUFFIXES


def list_inputs(path) -> list[Path]:
    """The file itself, or a folder's images and videos (sorted, not recursive)."""
    path = Path(path)
    if path.is_file():
        return [path]
    if not path.is_dir():
        raise FileNotFoundError(f"{path}: no such image, video or folder")
    found = sorted(p for p in path.iterdir() if p.is_file() and
                   p.suffix.lower() in IMAGE_SUFFIXES + VIDEO_SUFFIXES)
    if not found:
        raise DataError(f"{path}: no images ({', '.join(IMAGE_SUFFIXES[:3])}, ...) or videos")
    return found


def read_image(path: Path):
    # cv2 decodes a truncated JPEG or PNG silently, into a partly grey picture
    image = cv2.imread(str(path), cv2.IMREAD_COLOR) if image_is_complete(path) else None
    if image is None:
        raise DataError(f"{path}: cannot read image (not an image, or truncated)")
    return image


def read_frames(path: Path, every: int = 1):
    """``(frame index, BGR frame)`` of every ``every``-th frame."""
    capture = cv2.VideoCapture(str(path))
    try:
        ok, frame = capture.read() if capture.isOpened() else (False, None)
        if not ok:
            raise DataError(f"{path}: cannot read video (no decodable frame)")
        index = 0
        while ok:
            if index % every == 0:
                yield index, frame
            ok, frame = capture.read()
            index += 1
    finally:
        capture.release()


def video_fps(path: Path) -> float:
    capture = cv2.VideoCapture(str(path))
    fps = capture.get(cv2.CAP_PROP_FPS) or 25.0
    capture.release()
    return fps
