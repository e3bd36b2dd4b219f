"""Drawing on BGR uint8 images: landmark points (optionally numbered), the head pose as three
axes, a class mask as a colour overlay and its legend."""
from __future__ import annotations

import cv2
import numpy as np

from ..data.face_template import rotation

# two colours apart from each other and from the pose axes' red, green and blue; every point
# gets a dark rim, so it shows on the synthetic faces' random backgrounds too
PREDICTION = (255, 255, 0)  # cyan
GROUND_TRUTH = (255, 0, 255)  # magenta
# the head's x (its left-to-right, image right when frontal) red, y (down) green, and the
# direction it faces (-z, towards the camera when frontal) blue: the usual RGB axes
AXIS_COLOURS = ((0, 0, 255), (0, 255, 0), (255, 0, 0))
_SHIFT = 4  # sub-pixel bits: points land where they are, not on the nearest pixel
FONT = cv2.FONT_HERSHEY_SIMPLEX


def _fixed(points) -> np.ndarray:
    return np.round(np.asarray(points, np.float64) * (1 << _SHIFT)).astype(np.int32)


def draw_landmarks(image: np.ndarray, points: np.ndarray, colour=PREDICTION,
                   radius: float | None = None, numbers: bool = False) -> np.ndarray:
    """``points`` [N, 2] pixels, drawn in place (and returned). The radius follows the face's
    size, so 106 points on a 112 px crop do not merge into one blob."""
    points = np.asarray(points, np.float64).reshape(-1, 2)
    if radius is None:
        radius = max(1.0, np.ptp(points, axis=0).max() / 80) if len(points) > 1 else 2.0
    scale = max(0.25, radius / 5)
    for index, (fixed, point) in enumerate(zip(_fixed(points), points)):
        centre = tuple(int(v) for v in fixed)
        cv2.circle(image, centre, int((radius + 0.7) * (1 << _SHIFT)), (0, 0, 0), -1,
                   cv2.LINE_AA, _SHIFT)
        cv2.circle(image, centre, int(radius * (1 << _SHIFT)), colour, -1, cv2.LINE_AA, _SHIFT)
        if numbers:
            cv2.putText(image, str(index), (int(point[0] + radius), int(point[1] - radius)),
                        FONT, scale, colour, 1, cv2.LINE_AA)
    return image


def draw_pose_axes(image: np.ndarray, euler, origin, length: float) -> np.ndarray:
    """Pitch, yaw, roll (degrees, ``R = Rz Ry Rx``: the renderer's and solvePnP's convention)
    as the head's x and y axes and the direction it faces, from ``origin``, orthographically
    projected (a frontal face's facing arrow is a dot)."""
    rot = rotation(*euler) * [1, 1, -1]  # -z: where the face looks, the arrow people read
    start = np.asarray(origin, np.float64)
    for axis, colour in zip(range(3), AXIS_COLOURS):
        end = start + length * rot[:2, axis]
        cv2.arrowedLine(image, tuple(int(v) for v in _fixed(start)),
                        tuple(int(v) for v in _fixed(end)), colour, max(1, int(length / 25)),
                        cv2.LINE_AA, _SHIFT, 0.15)
    return image


def class_palette(num_classes: int) -> np.ndarray:
    """``[K, 3]`` BGR colours: background black, the others spread over the hue circle with
    alternating brightness, so neighbouring class ids (left/right eye) differ at a glance."""
    palette = np.zeros((num_classes, 3), np.uint8)
    for k in range(1, num_classes):
        hue = int(180 * ((k * 0.381966) % 1.0))  # golden-ratio steps: no two hues close
        value = 255 if k % 2 else 170
        palette[k] = cv2.cvtColor(np.uint8([[[hue, 220, value]]]), cv2.COLOR_HSV2BGR)[0, 0]
    return palette


def overlay_mask(image: np.ndarray, labels: np.ndarray, palette: np.ndarray,
                 alpha: float = 0.5) -> np.ndarray:
    """The image with each labelled pixel blended with its class colour; background (0) and
    ids past the palette (255: ignored, or outside every crop) are left as they are. A new
    image."""
    colours = palette[np.clip(labels, 0, len(palette) - 1)]
    blended = cv2.addWeighted(image, 1 - alpha, colours, alpha, 0)
    return np.where(((labels > 0) & (labels < len(palette)))[..., None], blended, image)


def draw_legend(names, palette: np.ndarray, height: int, present=None) -> np.ndarray:
    """A panel ``height`` pixels high listing each class with its colour swatch (in as many
    columns as needed); classes not in ``present`` (a set of ids) are greyed."""
    row = max(14, min(18, (height - 8) // max(1, len(names))))  # one column when it fits
    per_column = max(1, (height - 8) // row)
    columns = -(-len(names) // per_column)
    width = 140
    panel = np.full((height, columns * width, 3), 255, np.uint8)
    for k, name in enumerate(names):
        x, y = (k // per_column) * width + 6, 6 + (k % per_column) * row
        cv2.rectangle(panel, (x, y), (x + 14, y + 12), tuple(int(c) for c in palette[k]), -1)
        cv2.rectangle(panel, (x, y), (x + 14, y + 12), (0, 0, 0), 1)
        shown = present is None or k in present
        cv2.putText(panel, f"{k} {name}", (x + 20, y + 11), FONT, 0.4,
                    (0, 0, 0) if shown else (170, 170, 170), 1, cv2.LINE_AA)
    return panel
