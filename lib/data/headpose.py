"""Euler angles (pitch, yaw, roll in degrees; R = Rz(roll) Ry(yaw) Rx(pitch), the synthetic
renderer's convention) from 2D landmarks by solvePnP against a layout's generic 3D face."""
from __future__ import annotations

import cv2
import numpy as np

from .layouts import Layout


def euler_from_rotation(rot: np.ndarray) -> np.ndarray:
    # R's last row is (-sin yaw, cos yaw sin pitch, cos yaw cos pitch) and R[1,0] / R[0,0]
    # = tan roll; valid for |yaw| < 90°, the clip guards arcsin against rounding past 1
    pitch = np.arctan2(rot[2, 1], rot[2, 2])
    yaw = np.arcsin(np.clip(-rot[2, 0], -1.0, 1.0))
    roll = np.arctan2(rot[1, 0], rot[0, 0])
    return np.degrees([pitch, yaw, roll])


def estimate_euler(points: np.ndarray, layout: Layout, image_size: float) -> np.ndarray | None:
    """``points``: [N, 2] pixels in an image of side ``image_size``; None when the layout has
    no pose model or solvePnP fails."""
    if layout.pose_model is None or not layout.pose_points:
        return None
    image_points = np.ascontiguousarray(points[list(layout.pose_points)], dtype=np.float64)
    # a generic camera, as a crop's true one is unknown: focal length = image side (a 53°
    # field of view), principal point at the centre, no lens distortion
    focal = float(image_size)
    camera = np.array([[focal, 0, image_size / 2], [0, focal, image_size / 2], [0, 0, 1]])
    model = np.asarray(layout.pose_model, np.float64)
    # start from a frontal face at the distance that gives the observed size: without a
    # guess the iterative solver sometimes lands on the mirrored (face-away) solution
    model_size = np.ptp(model[:, :2], axis=0).max()
    image_extent = max(np.ptp(image_points, axis=0).max(), 1e-6)
    rvec = np.zeros((3, 1))
    tvec = np.array([[0.0], [0.0], [focal * model_size / image_extent]])
    ok, rvec, _ = cv2.solvePnP(model, image_points, camera, None, rvec, tvec,
                               useExtrinsicGuess=True, flags=cv2.SOLVEPNP_ITERATIVE)
    if not ok:
        return None
    return euler_from_rotation(cv2.Rodrigues(rvec)[0])
