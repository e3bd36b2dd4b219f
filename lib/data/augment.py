"""Online augmentation (cv2 + numpy) consistent with the targets: landmarks here, masks in
segmentation.py; ``Augmented`` is the training view that applies either."""
from __future__ import annotations

import cv2
import numpy as np
import torch
from torch.utils.data import Dataset

from .layouts import Layout


class Augmented(Dataset):
    """A training view of a dataset of ``(image float [3,S,S] in [0,1], *targets)``.
    ``augment(pixels HWC uint8, *targets as numpy, rng)`` returns them changed; the targets
    come back with their original shapes and dtypes.

    Each draw is seeded by (seed, pass, index) and by nothing else: the same sample in the same
    pass gets the same augmentation in any process, under any number of loader workers or
    ranks, in a first run and in a resumed one. ``item(index, draw)`` names the pass;
    ``dataset[index]`` is pass 0."""

    def __init__(self, base, augment, seed: int = 0):
        self.base, self.augment, self.seed = base, augment, seed

    def __len__(self):
        return len(self.base)

    def __getitem__(self, index):
        return self.item(index, 0)

    def item(self, index: int, draw: int):
        image, *targets = self.base[index]
        # no global RNG: the key alone decides the draw (see the class docstring)
        rng = np.random.default_rng((self.seed, draw, int(index)))
        # back to 8 bits loses nothing: the [0, 1] floats were made from 8-bit files
        pixels = (image.permute(1, 2, 0).numpy() * 255).round().astype(np.uint8)
        pixels, *changed = self.augment(pixels, *(t.numpy() for t in targets), rng)
        return (torch.from_numpy(pixels.transpose(2, 0, 1).copy()).float() / 255.0,
                *(torch.as_tensor(np.asarray(c).reshape(t.shape), dtype=t.dtype)
                  for c, t in zip(changed, targets)))


def random_affine(size: int, rng: np.random.Generator, rotate: float, scale: float,
                  shift: float) -> tuple[np.ndarray, float]:
    """A random rotation (degrees, about the centre), zoom and shift (fractions of ``size``):
    ``(2x3 matrix, angle)``."""
    angle = rng.uniform(-rotate, rotate)
    zoom = 1.0 + rng.uniform(-scale, scale)
    affine = cv2.getRotationMatrix2D((size / 2, size / 2), angle, zoom)
    affine[:, 2] += rng.uniform(-shift, shift, 2) * size
    return affine, angle


def hflip(image: np.ndarray, landmarks: np.ndarray, euler: np.ndarray, layout: Layout):
    """Mirror an HWC image with landmarks ``[N, 2]`` in crop units ([0, 1] edges) and
    (pitch, yaw, roll) degrees: x -> 1 - x, left/right points swapped by the layout's pairs,
    yaw and roll negated. A layout without pairs cannot be flipped (ValueError)."""
    if not layout.flip_pairs:
        raise ValueError(f"layout {layout.name!r} has no flip pairs: cannot flip")
    index = np.arange(len(landmarks))
    for a, b in layout.flip_pairs:
        # a mirrored left eye is the new right eye: without the swap, point i would change meaning
        index[a], index[b] = b, a
    flipped = landmarks[index].copy()
    flipped[:, 0] = 1.0 - flipped[:, 0]
    return (np.ascontiguousarray(image[:, ::-1]), flipped,
            np.asarray(euler) * np.array([1.0, -1.0, -1.0]))


class LandmarkAugment:
    """Online augmentation for training, consistent with the landmarks: horizontal flip with
    the layout's pairs, rotation (roll follows), scale/translation jitter, colour jitter, blur
    and a random occluding rectangle. ``__call__(image HWC uint8, landmarks [N,2] or [2N]
    crop units, euler, rng)``."""

    def __init__(self, layout: Layout, flip: float = 0.5, rotate: float = 15.0,
                 scale: float = 0.1, shift: float = 0.05, colour: float = 0.3,
                 blur: float = 0.2, occlude: float = 0.2):
        self.layout = layout
        # an unknown layout still trains (DESIGN: Data); it just never flips
        self.flip = flip if layout.flip_pairs else 0.0
        self.rotate, self.scale, self.shift = rotate, scale, shift
        self.colour, self.blur, self.occlude = colour, blur, occlude

    def __call__(self, image, landmarks, euler, rng: np.random.Generator):
        size = image.shape[0]
        landmarks = np.asarray(landmarks).reshape(-1, 2)
        euler = np.asarray(euler, dtype=np.float64).copy()
        if rng.random() < self.flip:
            image, landmarks, euler = hflip(image, landmarks, euler, self.layout)
        affine, angle = random_affine(size, rng, self.rotate, self.scale, self.shift)
        image = cv2.warpAffine(image, affine, (size, size), borderMode=cv2.BORDER_CONSTANT)
        pixels = landmarks * size  # crop units -> pixel edges; warpAffine uses the same frame
        landmarks = (pixels @ affine[:, :2].T + affine[:, 2]) / size
        euler[2] -= angle  # cv2 angles turn the picture counter-clockwise: roll decreases
        image = image.astype(np.float32)
        if self.colour:
            # contrast x (1 ± c) and brightness ± 64c grey levels,
            # then a per-channel gain of ± c/3 (a colour cast)
            image = image * (1 + rng.uniform(-self.colour, self.colour)) \
                + rng.uniform(-self.colour, self.colour) * 64
            image *= 1 + rng.uniform(-self.colour, self.colour, 3) / 3
        if rng.random() < self.blur:
            image = cv2.GaussianBlur(image, (0, 0), rng.uniform(0.5, 1.5))
        if rng.random() < self.occlude:
            # an occluder (hand, hair) of 10-35 % of each side; the landmarks behind
            # it keep their labels: the model must still place occluded points
            w, h = (rng.uniform(0.1, 0.35, 2) * size).astype(int)
            x, y = rng.integers(0, size - w), rng.integers(0, size - h)
            image[y:y + h, x:x + w] = rng.uniform(0, 255, 3)
        return np.clip(image, 0, 255).astype(np.uint8), landmarks.astype(np.float32), euler
