"""Landmark-consistent augmentation (cv2 + numpy)."""
from __future__ import annotations

import cv2
import numpy as np

from .layouts import Layout


def hflip(image: np.ndarray, landmarks: np.ndarray, euler: np.ndarray, layout: Layout):
    """Mirror an HWC image with landmarks ``[N, 2]`` in crop units ([0, 1] edges) and
    (pitch, yaw, roll) degrees: x -> 1 - x, left/right points swapped by the layout's pairs,
    yaw and roll negated. A layout without pairs cannot be flipped (ValueError)."""
    if not layout.flip_pairs:
        raise ValueError(f"layout {layout.name!r} has no flip pairs: cannot flip")
    index = np.arange(len(landmarks))
    for a, b in layout.flip_pairs:
        index[a], index[b] = b, a
    flipped = landmarks[index].copy()
    flipped[:, 0] = 1.0 - flipped[:, 0]
    return (np.ascontiguousarray(image[:, ::-1]), flipped,
            np.asarray(euler) * np.array([1.0, -1.0, -1.0]))


class LandmarkAugment:
    """Online augmentation for training, consistent with the landmarks: horizontal flip with
    the layout's pairs, rotation (roll follows), scale/translation jitter, colour jitter, blur
    and a random occluding rectangle. ``__call__(image HWC uint8, landmarks [N,2] crop units,
    euler, rng)``."""

    def __init__(self, layout: Layout, flip: float = 0.5, rotate: float = 15.0,
                 scale: float = 0.1, shift: float = 0.05, colour: float = 0.3,
                 blur: float = 0.2, occlude: float = 0.2):
        self.layout = layout
        self.flip = flip if layout.flip_pairs else 0.0
        self.rotate, self.scale, self.shift = rotate, scale, shift
        self.colour, self.blur, self.occlude = colour, blur, occlude

    def __call__(self, image, landmarks, euler, rng: np.random.Generator):
        size = image.shape[0]
        euler = np.asarray(euler, dtype=np.float64).copy()
        if rng.random() < self.flip:
            image, landmarks, euler = hflip(image, landmarks, euler, self.layout)
        angle = rng.uniform(-self.rotate, self.rotate)
        zoom = 1.0 + rng.uniform(-self.scale, self.scale)
        affine = cv2.getRotationMatrix2D((size / 2, size / 2), angle, zoom)
        affine[:, 2] += rng.uniform(-self.shift, self.shift, 2) * size
        image = cv2.warpAffine(image, affine, (size, size), borderMode=cv2.BORDER_CONSTANT)
        pixels = landmarks * size  # crop units -> pixel edges; warpAffine uses the same frame
        landmarks = (pixels @ affine[:, :2].T + affine[:, 2]) / size
        euler[2] -= angle  # cv2 angles turn the picture counter-clockwise: roll decreases
        image = image.astype(np.float32)
        if self.colour:
            image = image * (1 + rng.uniform(-self.colour, self.colour)) \
                + rng.uniform(-self.colour, self.colour) * 64
            image *= 1 + rng.uniform(-self.colour, self.colour, 3) / 3
        if rng.random() < self.blur:
            image = cv2.GaussianBlur(image, (0, 0), rng.uniform(0.5, 1.5))
        if rng.random() < self.occlude:
            w, h = (rng.uniform(0.1, 0.35, 2) * size).astype(int)
            x, y = rng.integers(0, size - w), rng.integers(0, size - h)
            image[y:y + h, x:x + w] = rng.uniform(0, 255, 3)
        return np.clip(image, 0, 255).astype(np.uint8), landmarks.astype(np.float32), euler
