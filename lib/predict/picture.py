"""The picture of one image's predictions: landmarks (optionally numbered) and the pose
axes, or the parsing mask as a colour overlay with a legend of the class names."""
from __future__ import annotations

import cv2
import numpy as np

from ..data.segmentation import SCHEMES
from ..visual import class_palette, draw_landmarks, draw_legend, draw_pose_axes, overlay_mask


def class_names(dataset: str | None, num_classes: int) -> list[str]:
    """The label scheme's names when the dataset has one of ``num_classes`` classes."""
    scheme = SCHEMES.get(dataset or "synthetic")
    if scheme is not None and scheme.num_classes == num_classes:
        return list(scheme.classes)
    return [f"class {k}" for k in range(num_classes)]


# a smaller image (a 112 px face crop) is drawn enlarged by a whole factor, so that 106
# points stay apart; the JSON keeps image pixels
MIN_PICTURE = 336


def _enlarged(image: np.ndarray, interpolation=cv2.INTER_LINEAR):
    """``(zoom, the image enlarged zoom times)``; zoom 1 (a copy) from MIN_PICTURE up."""
    zoom = max(1, -(-MIN_PICTURE // max(image.shape[:2])))
    return zoom, cv2.resize(image, None, fx=zoom, fy=zoom, interpolation=interpolation) \
        if zoom > 1 else image.copy()


def draw_faces(image: np.ndarray, faces, numbers: bool = False) -> np.ndarray:
    """Landmarks and pose axes of every face, and the box it started from (thin grey: a box
    far from the points shows a detector or --box off the face), on a copy of the image."""
    zoom, out = _enlarged(image)
    for face in faces:
        x, y, w, h = (zoom * v for v in face.box)
        cv2.rectangle(out, (round(x), round(y)), (round(x + w - 1), round(y + h - 1)),
                      (200, 200, 200), 1, cv2.LINE_AA)
        points = (face.points + 0.5) * zoom - 0.5  # pixel centres of the enlarged image
        draw_landmarks(out, points, numbers=numbers)
        if face.pose is not None:
            low, high = points.min(0), points.max(0)
            draw_pose_axes(out, face.pose, (low + high) / 2, 0.4 * (high - low).max())
    return out


def mask_picture(image: np.ndarray, faces, names) -> tuple[np.ndarray, np.ndarray]:
    """``(picture, labels)``: the overlay of every face's mask with the legend on its right,
    and the image-sized label map (255 where no crop reached)."""
    labels = np.full(image.shape[:2], 255, np.uint8)
    for face in faces:
        mapped = face.crop.labels_to_image(face.labels, image.shape)
        labels = np.where(mapped != 255, mapped, labels)
    palette = class_palette(len(names))
    _, big = _enlarged(image)
    shown = overlay_mask(big, _enlarged(labels, cv2.INTER_NEAREST)[1], palette)
    legend = draw_legend(names, palette, max(shown.shape[0], 18 * 10 + 8),
                         present=set(np.unique(labels).tolist()))
    if legend.shape[0] > shown.shape[0]:  # a small image: pad it to the legend's height
        pad = np.full((legend.shape[0] - shown.shape[0], *shown.shape[1:]), 255, np.uint8)
        shown = np.concatenate([shown, pad])
    return np.concatenate([shown, legend], axis=1), labels
