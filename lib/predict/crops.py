"""Face crops by the training crop's rule (``lib.data.prepare.crop_face``: a square of margin
x the landmark box's long side, centred on it), resampled as the datasets resize (area
averaging to shrink), with the exact map back to image pixels."""
from __future__ import annotations

from dataclasses import dataclass

import cv2
import numpy as np



def box_corners(box) -> tuple[np.ndarray, np.ndarray]:
    """A box ``x, y, w, h`` (its pixels x .. x + w - 1) as its edges in pixel-centre
    coordinates, the frame the points and the crop rule use: pixel i spans [i - 0.5, i + 0.5]."""
    x, y, w, h = box
    return np.array([x - 0.5, y - 0.5]), np.array([x + w - 0.5, y + h - 0.5])


@dataclass
class FaceCrop:
    """One crop of an image: ``affine`` maps image pixels to crop pixels (pixel centres);
    ``patch``, when shrinking, is the side of the square cut at the image's resolution first."""
    affine: np.ndarray
    img_size: int
    patch: int | None = None

    @classmethod
    def around(cls, low, high, img_size: int, margin: float) -> "FaceCrop":
        low, high = np.asarray(low, np.float64), np.asarray(high, np.float64)
        centre, side = (low + high) / 2, margin * (high - low).max()
        # the centre lands on the crop's centre, (S - 1) / 2 in pixel centres (prepare_data
        # puts it half a crop pixel off, at S / 2: harmless there, its labels move with it;
        # here a whole-image crop is then exactly the datasets' plain resize)
        if side <= img_size:
            scale, patch = img_size / side, None
        else:  # shrinking: cut at full resolution, then area-average (no aliasing)
            patch = int(np.ceil(side))
            scale = img_size / patch
        shift = (img_size - 1) / 2 - scale * centre
        return cls(np.array([[scale, 0, shift[0]], [0, scale, shift[1]]]), img_size, patch)

    def cut(self, image: np.ndarray) -> np.ndarray:
        size = self.img_size
        if self.patch is None:
            return cv2.warpAffine(image, self.affine, (size, size), flags=cv2.INTER_LINEAR,
                                  borderMode=cv2.BORDER_CONSTANT, borderValue=0)
        # the patch's map: the same centre at its own centre, scale 1 (a translation)
        scale = self.affine[0, 0]
        shift = (self.affine[:, 2] + 0.5) / scale - 0.5
        translate = np.array([[1.0, 0, shift[0]], [0, 1.0, shift[1]]])
        patch = cv2.warpAffine(image, translate, (self.patch, self.patch),
                               flags=cv2.INTER_LINEAR, borderMode=cv2.BORDER_CONSTANT,
                               borderValue=0)
        return cv2.resize(patch, (size, size), interpolation=cv2.INTER_AREA)

    def to_image(self, points: np.ndarray) -> np.ndarray:
        """Crop pixels [N, 2] -> image pixels."""
        scale, shift = self.affine[0, 0], self.affine[:, 2]
        return (np.asarray(points, np.float64) - shift) / scale

    def labels_to_image(self, labels: np.ndarray, shape) -> np.ndarray:
        """A crop's label map at the image's size (nearest neighbour); 255 outside the crop."""
        inverse = cv2.invertAffineTransform(self.affine)
        return cv2.warpAffine(labels.astype(np.uint8), inverse, (shape[1], shape[0]),
                              flags=cv2.INTER_NEAREST, borderMode=cv2.BORDER_CONSTANT,
                              borderValue=255)

    def square(self) -> list[float]:
        """The crop's square in the image as ``x, y, side, side`` (box convention)."""
        low = self.to_image(np.array([[-0.5, -0.5]]))[0] + 0.5
        side = self.img_size / self.affine[0, 0]
        return [float(low[0]), float(low[1]), float(side), float(side)]


def model_input(crop: np.ndarray) -> np.ndarray:
    """A BGR uint8 crop as the model's input: float32 ``[1, 3, S, S]`` in [0, 1], BGR, as the
    datasets feed training (``LandmarkListDataset``)."""
    return np.ascontiguousarray(crop.transpose(2, 0, 1)[None], dtype=np.float32) / 255.0
