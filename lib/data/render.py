"""Procedural face rendering with OpenCV: pose from the 3D template (so Euler angles are
exact), lighting, skin tone, background clutter, glasses and partial occlusion, with a
19-class mask in the Face Synthetics scheme."""
from __future__ import annotations

import functools

import cv2
import numpy as np

from .face_template import HEAD_AXES, head_points, landmarks_3d, rotation, sample_shape

# Face Synthetics classes used here
BG, SKIN, NOSE, R_EYE, L_EYE, R_BROW, L_BROW, R_EAR, L_EAR = 0, 1, 2, 3, 4, 5, 6, 7, 8
MOUTH, TOP_LIP, BOTTOM_LIP, NECK, HAIR, CLOTHING, GLASSES = 9, 10, 11, 12, 13, 15, 16
# drawn at twice the size and shrunk by area averaging: smooth edges in the image, while
# the mask, drawn without anti-aliasing and shrunk by nearest neighbour, keeps pure labels
SUPERSAMPLE = 2
_SHIFT = 4  # fixed-point bits for sub-pixel polygon drawing
_HEAD = head_points()
# how much of the crop the landmark box's long side covers; predict's default crop margin
# for models trained on these faces is the inverse of its middle
LANDMARK_FILL = (0.62, 0.84)


class _Canvas:
    """Paints an image and its label mask in lockstep."""

    def __init__(self, size: int):
        self.size = size
        self.image = np.zeros((size, size, 3), np.uint8)
        self.mask = np.zeros((size, size), np.uint8)

    @staticmethod
    def _fixed(points):
        return [np.round(np.asarray(points) * (1 << _SHIFT)).astype(np.int32)]

    def poly(self, points, color, label=None):
        # anti-aliased on the image, hard (LINE_8) on the mask: a label cannot be a blend of two
        cv2.fillPoly(self.image, self._fixed(points), _c(color), cv2.LINE_AA, _SHIFT)
        if label is not None:
            cv2.fillPoly(self.mask, self._fixed(points), int(label), cv2.LINE_8, _SHIFT)

    def line(self, points, color, width, label=None, closed=False):
        w = max(1, int(round(width)))
        cv2.polylines(self.image, self._fixed(points), closed, _c(color), w, cv2.LINE_AA, _SHIFT)
        if label is not None:
            cv2.polylines(self.mask, self._fixed(points), closed, int(label), w, cv2.LINE_8,
                          _SHIFT)


def _c(color):
    return tuple(int(np.clip(v, 0, 255)) for v in color)


def _hull(points):
    return cv2.convexHull(np.asarray(points, np.float32)).reshape(-1, 2)


def _background(rng, size):
    canvas = np.empty((size, size, 3), np.float32)
    a, b = rng.uniform(0, 255, 3), rng.uniform(0, 255, 3)
    ramp = np.linspace(0, 1, size)[:, None, None]
    canvas[:] = a * (1 - ramp) + b * ramp
    canvas = canvas.astype(np.uint8)
    for _ in range(rng.integers(8, 25)):  # clutter
        color = _c(rng.uniform(0, 255, 3))
        p = rng.uniform(-0.1, 1.1, 4) * size
        kind = rng.integers(3)
        if kind == 0:
            cv2.line(canvas, (int(p[0]), int(p[1])), (int(p[2]), int(p[3])), color,
                     int(rng.integers(1, 6)), cv2.LINE_AA)
        elif kind == 1:
            cv2.rectangle(canvas, (int(p[0]), int(p[1])), (int(p[2]), int(p[3])), color, -1)
        else:
            cv2.circle(canvas, (int(p[0]), int(p[1])), int(rng.uniform(3, 0.2 * size)), color, -1,
                       cv2.LINE_AA)
    return canvas


def render_face(rng: np.random.Generator, size: int = 112):
    """Return ``(bgr uint8 [S,S,3], landmarks [106,2] in [0,1] of the crop,
    euler [pitch, yaw, roll] degrees, mask uint8 [S,S])``."""
    big = size * SUPERSAMPLE
    shape = sample_shape(rng)
    pose = np.array([rng.uniform(-25, 25), rng.uniform(-45, 45), rng.uniform(-30, 30)])
    rot = rotation(*pose)
    cam = 7.0  # camera distance in head units: mild perspective

    def project(points):
        p = points @ rot.T
        return p[:, :2] * (cam / (cam + p[:, 2:3])), p[:, 2]

    lm3 = landmarks_3d(shape)
    lm, _ = project(lm3)
    # place: the landmark box's long side covers LANDMARK_FILL of the crop, centre jittered
    lo, hi = lm.min(0), lm.max(0)
    scale = rng.uniform(*LANDMARK_FILL) * big / (hi - lo).max()
    offset = big / 2 + rng.uniform(-0.06, 0.06, 2) * big - scale * (lo + hi) / 2

    def to_px(points):
        xy, depth = project(points)
        return xy * scale + offset, depth

    canvas = _Canvas(big)
    canvas.image[:] = _background(rng, big)
    skin = rng.uniform([40, 60, 90], [190, 205, 240])
    hair = rng.uniform(10, 120, 3) * rng.uniform(0.3, 1.6)
    lm_px = lm * scale + offset

    # clothing and neck below the head
    chin = lm_px[16]
    neck_top = (lm_px[8] + lm_px[24]) / 2
    clothing = _ellipse_poly(chin + [0, 0.55 * big], 0.55 * big, 0.3 * big, rng.uniform(-15, 15))
    canvas.poly(clothing, rng.uniform(0, 255, 3), CLOTHING)
    half = 0.33 * np.linalg.norm(lm_px[32] - lm_px[0])
    canvas.poly([neck_top - [half, 0], neck_top + [half, 0], chin + [half, 0.35 * big],
                 chin + [-half, 0.35 * big]], skin * 0.8, NECK)

    # hair behind the head, ears, then the skin silhouette (skull above the jaw + jaw line)
    head_px, head_depth = to_px(_HEAD * 1.06)
    upper = _HEAD[:, 1] < -0.05
    canvas.poly(_hull(head_px[upper]), hair, HAIR)
    for side, label in ((-1, R_EAR), (1, L_EAR)):
        ear3 = np.array([[side * HEAD_AXES[0] * 0.98, -0.12, 0.05]])
        (ear_px,), (ear_depth,) = to_px(ear3)
        if ear_depth > -0.3:  # facing away from the camera: hidden behind the head
            canvas.poly(_ellipse_poly(ear_px, 0.05 * scale, 0.12 * scale, pose[2]), skin * 0.9,
                        label)
    skull_px, _ = to_px(_HEAD[_HEAD[:, 1] < -0.1])
    canvas.poly(_hull(np.concatenate([skull_px, lm_px[:33]])), skin, SKIN)
    hairline = np.array([[x, -0.55 - 0.12 * np.cos(x * 3), 0] for x in np.linspace(-0.8, 0.8, 15)])
    hairline[:, 2] = -np.sqrt(np.clip(1 - (hairline[:, 0] / HEAD_AXES[0]) ** 2
                                      - hairline[:, 1] ** 2, 0, None)) * HEAD_AXES[2]
    fringe, _ = to_px(np.concatenate([hairline, _HEAD[_HEAD[:, 1] < -0.75]]))
    canvas.poly(_hull(fringe), hair, HAIR)
    _shade(canvas, rng)

    # features
    px = lm_px
    brow_w = max(2.0, 0.045 * scale)
    canvas.line(px[33:42], hair * 0.7, brow_w, R_BROW)
    canvas.line(px[42:51], hair * 0.7, brow_w, L_BROW)
    canvas.poly(_hull(px[[51, 56, 58, 60, 62, 64]]), skin * 0.93, NOSE)
    canvas.line(px[[51, 52, 53, 54, 55]], skin * 0.7, max(1.0, 0.015 * scale))
    canvas.line(px[[62, 56, 57, 58, 59, 60, 64]], skin * 0.55, max(1.0, 0.02 * scale))
    iris = rng.uniform(20, 150, 3)
    for contour, pupil, label in ((px[66:74], px[74], R_EYE), (px[75:83], px[83], L_EYE)):
        canvas.poly(contour, (235, 235, 235), label)
        eye_img = canvas.image.copy()
        radius = 0.3 * np.linalg.norm(contour[0] - contour[4])
        cv2.circle(eye_img, tuple(np.round(pupil).astype(int)), int(radius), _c(iris), -1,
                   cv2.LINE_AA)
        cv2.circle(eye_img, tuple(np.round(pupil).astype(int)), int(radius * 0.45), (15, 15, 15),
                   -1, cv2.LINE_AA)
        inside = np.zeros(canvas.mask.shape, np.uint8)
        cv2.fillPoly(inside, _Canvas._fixed(contour), 1, cv2.LINE_8, _SHIFT)
        canvas.image[inside > 0] = eye_img[inside > 0]
        canvas.line(contour, skin * 0.4, max(1.0, 0.012 * scale), closed=True)
    lip = rng.uniform([60, 50, 120], [140, 120, 220])
    outer, inner = px[84:96], px[96:104]
    canvas.poly(np.concatenate([outer[0:7], inner[[4, 3, 2, 1, 0]]]), lip, TOP_LIP)
    canvas.poly(np.concatenate([outer[[6, 7, 8, 9, 10, 11, 0]], inner[[0, 7, 6, 5, 4]]]),
                lip * 0.85, BOTTOM_LIP)
    canvas.poly(inner, (40, 30, 60), MOUTH)
    if rng.random() < 0.25:
        _glasses(canvas, px, scale, rng)
    if rng.random() < 0.35:
        _occluder(canvas, px, big, rng)

    image = cv2.resize(canvas.image, (size, size), interpolation=cv2.INTER_AREA)
    mask = cv2.resize(canvas.mask, (size, size), interpolation=cv2.INTER_NEAREST)
    image = _photometric(image, rng)
    # pixel centres -> crop units with edges at 0 and 1, as prepare.py writes real crops
    landmarks = (lm_px + 0.5) / big
    return image, landmarks.astype(np.float32), pose.astype(np.float32), mask


def _ellipse_poly(center, rx, ry, angle_deg, n=40):
    t = np.linspace(0, 2 * np.pi, n, endpoint=False)
    a = np.radians(angle_deg)
    pts = np.stack([rx * np.cos(t), ry * np.sin(t)], 1)
    rot = np.array([[np.cos(a), -np.sin(a)], [np.sin(a), np.cos(a)]])
    return pts @ rot.T + np.asarray(center)


def _shade(canvas: _Canvas, rng):
    """Directional light on the skin and hair (a linear ramp across the head)."""
    region = np.isin(canvas.mask, (SKIN, HAIR, NECK, R_EAR, L_EAR))
    direction = rng.normal(size=2)
    direction /= np.linalg.norm(direction) + 1e-9
    yy, xx = _grid(canvas.size)
    gain = 1.0 + rng.uniform(0.1, 0.5) * (xx * direction[0] + yy * direction[1]) * 2
    shaded = canvas.image.astype(np.float32) * gain[..., None]
    canvas.image[region] = np.clip(shaded[region], 0, 255).astype(np.uint8)


# one size per dataset, reused for thousands of faces
@functools.lru_cache(maxsize=4)
def _grid(size):
    return tuple(np.mgrid[0:size, 0:size] / size - 0.5)


def _glasses(canvas, px, scale, rng):
    color = rng.uniform(0, 80, 3)
    width = max(1.5, 0.025 * scale)
    for contour in (px[66:74], px[75:83]):
        centre = contour.mean(0)
        r = 0.85 * np.linalg.norm(contour[0] - contour[4])
        canvas.line(_ellipse_poly(centre, r, r * 0.75, 0), color, width, GLASSES, closed=True)
    canvas.line([px[69], px[51], px[78]], color, width, GLASSES)


def _occluder(canvas, px, big, rng):
    """A hand-sized blob or bar over part of the face (label: background)."""
    target = px[rng.integers(len(px))]
    color = rng.uniform(0, 255, 3)
    if rng.random() < 0.5:
        poly = _ellipse_poly(target, rng.uniform(0.08, 0.2) * big, rng.uniform(0.05, 0.15) * big,
                             rng.uniform(0, 180))
    else:
        w, h = rng.uniform(0.05, 0.25, 2) * big
        poly = target + np.array([[-w, -h], [w, -h], [w, h], [-w, h]]) / 2
    # labelled background: the mask shows what is visible, while
    # the landmarks under the occluder stay where the face is
    canvas.poly(poly, color, BG)


def _photometric(image, rng):
    out = image.astype(np.float32)
    out = out * rng.uniform(0.6, 1.3) + rng.uniform(-30, 30)
    out *= rng.uniform(0.85, 1.15, 3)  # colour temperature
    out += rng.normal(0, rng.uniform(0, 8), out.shape)
    out = np.clip(out, 0, 255).astype(np.uint8)
    if rng.random() < 0.3:
        out = cv2.GaussianBlur(out, (0, 0), rng.uniform(0.5, 1.2))
    return out
