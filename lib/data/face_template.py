"""A parametric 3D face: 106 landmarks on a head ellipsoid, with per-face shape and
expression variation. Coordinates: x to the image right, y down, z away from the camera
(the face looks towards -z). Units: head half-height = 1.

Landmark layout ``synthetic`` (106 points, subject's right = image left):
  0-32 jaw (image left -> chin -> image right)   33-41 right brow   42-50 left brow
  51-65 nose (4 bridge, tip, 5 base, 2+2 wings, subnasale)
  66-73 right eye contour (from outer corner, clockwise), 74 right pupil
  75-82 left eye contour (from outer corner, mirrored), 83 left pupil
  84-95 outer lips (from right corner, clockwise)     96-103 inner lips   104/105 cheeks
"""
from __future__ import annotations

import numpy as np

HEAD_AXES = np.array([0.78, 1.0, 0.85])
NUM_POINTS = 106


def _surface_z(x, y, bulge=0.0):
    a, b, c = HEAD_AXES
    # the front half (z < 0 faces the camera); points beyond the rim clip
    # onto the outline, and bulge lifts nose and lips off the surface
    inside = np.clip(1.0 - (x / a) ** 2 - (y / b) ** 2, 0.0, None)
    return -c * np.sqrt(inside) - bulge


def _mirror(points_xy):
    out = points_xy.copy()
    out[:, 0] *= -1
    return out


def _ellipse(cx, cy, rx, ry, n, start=np.pi):
    t = start + np.linspace(0, 2 * np.pi, n, endpoint=False)
    return np.stack([cx + rx * np.cos(t), cy - ry * np.sin(t)], 1)


def sample_shape(rng: np.random.Generator) -> dict:
    """Random identity + expression parameters."""
    u = rng.uniform
    return {
        "jaw_w": u(0.66, 0.78), "jaw_h": u(0.88, 1.02), "eye_x": u(0.27, 0.36),
        "eye_y": u(-0.26, -0.14), "eye_w": u(0.11, 0.16), "eye_open": u(0.2, 1.0),
        "brow_gap": u(0.13, 0.22), "brow_arch": u(0.02, 0.10), "nose_len": u(0.28, 0.42),
        "nose_w": u(0.13, 0.22), "mouth_y": u(0.42, 0.56), "mouth_w": u(0.22, 0.36),
        "lip_h": u(0.04, 0.08), "mouth_open": u(0.0, 0.14) * (rng.random() < 0.5),
        "pupil_dx": u(-0.4, 0.4), "pupil_dy": u(-0.3, 0.3),
    }


def landmarks_3d(p: dict) -> np.ndarray:
    """The 106 landmarks as [106, 3] for shape parameters ``p``."""
    theta = np.linspace(0, np.pi, 33)
    jaw = np.stack([-p["jaw_w"] * np.cos(theta), -0.1 + p["jaw_h"] * np.sin(theta)], 1)
    # the brow is drawn for eye_x = 0.32 (mid-range) and scaled with the eyes' spacing
    bx = np.linspace(-0.62, -0.12, 9) * (p["eye_x"] / 0.32)
    by = p["eye_y"] - p["brow_gap"] - p["brow_arch"] * np.sin(np.linspace(0.2, np.pi - 0.2, 9))
    brow_r = np.stack([bx, by], 1)
    brow_l = _mirror(brow_r)[::-1]
    ny, nl, nw = p["eye_y"] + 0.05, p["nose_len"], p["nose_w"]
    bridge = np.stack([np.zeros(4), ny + nl * np.array([0.0, 0.25, 0.5, 0.75])], 1)
    tip = np.array([[0.0, ny + nl]])
    base = np.stack([np.linspace(-nw, nw, 5), np.full(5, ny + nl + 0.06)], 1)
    wings = np.array([[-nw * 0.7, ny + nl * 0.7], [-nw * 1.1, ny + nl * 0.95],
                      [nw * 0.7, ny + nl * 0.7], [nw * 1.1, ny + nl * 0.95]])
    subnasale = np.array([[0.0, ny + nl + 0.1]])
    nose = np.concatenate([bridge, tip, base, wings, subnasale])
    eh = p["eye_w"] * 0.45 * p["eye_open"]
    eye_r = _ellipse(-p["eye_x"], p["eye_y"], p["eye_w"], eh, 8)
    pupil_r = np.array([[-p["eye_x"] + p["pupil_dx"] * p["eye_w"] * 0.5,
                         p["eye_y"] + p["pupil_dy"] * eh]])
    eye_l = _mirror(eye_r)
    pupil_l = np.array([[p["eye_x"] + p["pupil_dx"] * p["eye_w"] * 0.5, pupil_r[0, 1]]])
    my, mw, lh, mo = p["mouth_y"], p["mouth_w"], p["lip_h"], p["mouth_open"]
    t = np.linspace(0, 2 * np.pi, 12, endpoint=False)
    outer = np.stack([-mw * np.cos(t), my - (lh + mo / 2) * np.sin(t) * 1.2], 1)
    outer[1:6, 1] -= 0.02 * np.abs(np.sin(2 * t[1:6]))  # cupid's bow
    ti = np.linspace(0, 2 * np.pi, 8, endpoint=False)
    inner = np.stack([-mw * 0.75 * np.cos(ti), my - (0.005 + mo / 2) * np.sin(ti)], 1)
    cheeks = np.array([[-0.48, 0.18], [0.48, 0.18]])
    xy = np.concatenate([jaw, brow_r, brow_l, nose, eye_r, pupil_r, eye_l, pupil_l, outer,
                         inner, cheeks])
    bulge = np.zeros(len(xy))
    bulge[51:66] = np.concatenate([np.array([0.05, 0.12, 0.2, 0.28]), [0.34],
                                   np.full(5, 0.1), [0.15, 0.14, 0.15, 0.14], [0.1]])
    bulge[84:104] = 0.06
    z = _surface_z(xy[:, 0], xy[:, 1], bulge)
    z[:33] = np.minimum(z[:33], -0.25 * np.sin(theta))  # the jaw line stands out of the neck
    return np.concatenate([xy, z[:, None]], 1)


def flip_pairs() -> list[tuple[int, int]]:
    """Index pairs swapped by a horizontal flip of the ``synthetic`` layout."""
    # the chin (16), nose bridge, tip, base centre (58) and subnasale lie on the midline: unpaired
    pairs = [(i, 32 - i) for i in range(16)]
    pairs += [(33 + i, 50 - i) for i in range(9)]
    pairs += [(56, 60), (57, 59), (61, 63), (62, 64)]
    # the left eye is the right one mirrored, not reversed:
    # point i pairs with point i, pupils included
    pairs += [(66 + i, 75 + i) for i in range(9)]
    pairs += [(84 + i, 84 + j) for i, j in ((0, 6), (1, 5), (2, 4), (7, 11), (8, 10))]
    pairs += [(96 + i, 96 + j) for i, j in ((0, 4), (1, 3), (5, 7))]
    pairs += [(104, 105)]
    return pairs


def rotation(pitch: float, yaw: float, roll: float) -> np.ndarray:
    """R = Rz(roll) Ry(yaw) Rx(pitch), angles in degrees."""
    p, y, r = np.radians([pitch, yaw, roll])
    rx = np.array([[1, 0, 0], [0, np.cos(p), -np.sin(p)], [0, np.sin(p), np.cos(p)]])
    ry = np.array([[np.cos(y), 0, np.sin(y)], [0, 1, 0], [-np.sin(y), 0, np.cos(y)]])
    rz = np.array([[np.cos(r), -np.sin(r), 0], [np.sin(r), np.cos(r), 0], [0, 0, 1]])
    return rz @ ry @ rx


def head_points(n: int = 600, seed: int = 0) -> np.ndarray:
    """Points on the head ellipsoid, for silhouettes."""
    rng = np.random.default_rng(seed)
    v = rng.normal(size=(n, 3))
    v /= np.linalg.norm(v, axis=1, keepdims=True)
    return v * HEAD_AXES
