"""PFLD/NNI ``list.txt``: ``path x0 y0 ... x{N-1} y{N-1} [attributes...] pitch yaw roll`` per
line; coordinates normalised to the crop, angles in degrees. Attribute columns (PFLD's WFLW
lists carry 6) are tolerated when every line has the same number as the first. Images are decoded up front (with a
progress bar) when they fit in memory, so a bad file stops the run before training starts."""
from __future__ import annotations

import logging
from pathlib import Path

import cv2
import numpy as np
import torch
from torch.utils.data import Dataset
from tqdm import tqdm

from .formats import DataError

log = logging.getLogger(__name__)
# 2 GiB of uint8 pixels; above it images are decoded per item instead of held in memory
PRELOAD_LIMIT_BYTES = 2 << 30


def read_list(list_path, num_points: int, limit: int | None = None):
    """Parse and check a list file; return ``(paths, landmarks [M,N,2], euler [M,3], lines)``
    (attribute columns, if any, are checked for count and dropped)."""
    list_path = Path(list_path)
    if not list_path.is_file():
        raise DataError(f"{list_path}: list file not found")
    # path, x and y per point, pitch yaw roll
    minimum = 1 + 2 * num_points + 3
    expected = None  # fixed by the first line: minimum + number of attribute columns
    paths, values, line_numbers = [], [], []
    with list_path.open() as handle:
        for number, line in enumerate(handle, 1):
            tokens = line.split()
            if not tokens:
                continue
            where = f"{list_path}:{number}"
            if expected is None and len(tokens) >= minimum:
                expected = len(tokens)
            if len(tokens) != (expected or minimum):
                extra = ", as on the first line" if expected and expected > minimum else ""
                raise DataError(f"{where}: {len(tokens)} values, expected {expected or minimum} "
                                f"(path + {2 * num_points} coordinates for {num_points} points "
                                f"+ pitch yaw roll{extra})")
            try:
                numbers = np.array(tokens[1:], dtype=np.float64)
            except ValueError as exc:
                raise DataError(f"{where}: non-numeric value ({exc})") from None
            if not np.isfinite(numbers).all():
                raise DataError(f"{where}: NaN or infinite value")
            image = Path(tokens[0])
            # a relative path is tried from the list's folder, from the data root
            # (train_data/imgs/...), then from the working directory
            candidates = [image] if image.is_absolute() else [list_path.parent / image,
                                                              list_path.parent.parent / image,
                                                              Path.cwd() / image]
            found = next((c for c in candidates if c.is_file()), None)
            if found is None:
                raise DataError(f"{where}: image not found: {tokens[0]}")
            paths.append(found)
            values.append(numbers)
            line_numbers.append(number)
            if limit is not None and len(paths) >= limit:
                break
    if not paths:
        raise DataError(f"{list_path}: no samples")
    values = np.stack(values).astype(np.float32)
    landmarks = values[:, :2 * num_points].reshape(-1, num_points, 2)
    # the angles are the last three columns: attribute columns sit between them and the coordinates
    return paths, landmarks, values[:, -3:], line_numbers


class LandmarkListDataset(Dataset):
    """Items: ``(image float [3,S,S] BGR in [0,1], landmarks [2N], euler [3] degrees)``."""

    def __init__(self, list_path, num_points: int, img_size: int, limit: int | None = None,
                 preload: bool | None = None):
        """``preload``: decode every image up front (default: when they fit
        ``PRELOAD_LIMIT_BYTES`` as uint8), else decode each when it is read (streamed)."""
        self.list_path = Path(list_path)
        self.img_size = img_size
        self.paths, landmarks, euler, self.lines = read_list(list_path, num_points, limit)
        self.landmarks = torch.from_numpy(landmarks.reshape(len(landmarks), -1))
        self.euler = torch.from_numpy(euler)
        self.images = None
        if preload is None:
            preload = len(self.paths) * 3 * img_size * img_size <= PRELOAD_LIMIT_BYTES
        if preload:
            self.images = torch.from_numpy(np.stack([
                self._load(i) for i in tqdm(range(len(self.paths)), leave=False, disable=None,
                                            desc=f"decode {self.list_path.parent.name}")]))

    def _load(self, index: int) -> np.ndarray:
        where = f"{self.list_path}:{self.lines[index]}"
        image = cv2.imread(str(self.paths[index]), cv2.IMREAD_COLOR)
        if image is None:
            raise DataError(f"{where}: cannot decode image {self.paths[index]}")
        if image.shape[:2] != (self.img_size, self.img_size):  # coordinates are normalised
            # area averaging to shrink (no aliasing), bilinear to enlarge
            image = cv2.resize(image, (self.img_size, self.img_size), interpolation=cv2.INTER_AREA
                               if image.shape[0] > self.img_size else cv2.INTER_LINEAR)
        # CHW uint8: the preload holds a quarter of float32's
        # bytes; items are scaled to [0, 1] on access
        return image.transpose(2, 0, 1)

    def __len__(self):
        return len(self.paths)

    def __getitem__(self, index):
        image = self.images[index] if self.images is not None else \
            torch.from_numpy(self._load(index))
        return image.float() / 255.0, self.landmarks[index], self.euler[index]
