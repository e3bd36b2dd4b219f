"""Landmark-consistent augmentation (cv2 + numpy)."""
from __future__ import annotations

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
