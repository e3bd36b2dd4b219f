"""One face through a model: crop by the training rule, run, map the output back to image
pixels. Landmark crops are refined: the face is cropped again around its own predicted
points, which is how the training crops were cut (around the true landmark box)."""
from __future__ import annotations

import time
from dataclasses import dataclass

import numpy as np

from ..data.headpose import estimate_euler
from .crops import FaceCrop, model_input
from .models import Predictor


@dataclass
class Face:
    box: list  # the face box it started from: x, y, w, h (image pixels)
    crop: FaceCrop  # the last crop the model saw
    ms: float  # model time for this face, all passes
    points: np.ndarray | None = None  # [N, 2] image pixels (landmarks)
    pose: np.ndarray | None = None  # pitch, yaw, roll in degrees
    labels: np.ndarray | None = None  # [S, S] class ids of the crop (segmentation)
    score: float | None = None  # the detector's

    def to_json(self) -> dict:
        out = {"box": [round(v, 2) for v in self.box], "crop": self.crop.square(),
               "ms": round(self.ms, 3)}
        if self.score is not None:
            out["score"] = round(self.score, 4)
        if self.points is not None:
            out["points"] = np.round(self.points, 3).tolist()
            out["pose"] = None if self.pose is None else dict(
                zip(("pitch", "yaw", "roll"), np.round(self.pose, 2).tolist()))
        if self.labels is not None:
            counts = np.bincount(self.labels.ravel(), minlength=1) / self.labels.size
            out["class_fraction"] = {int(k): round(float(v), 4) for k, v in enumerate(counts)
                                     if v > 0}
        return out


def predict_face(predictor: Predictor, image: np.ndarray, box, low, high, margin: float,
                 refine: int = 0, layout=None) -> Face:
    """The face of ``box`` (x, y, w, h), cropped around the landmark box ``[low, high]``
    (pixel-centre corners) it stands for; ``refine`` more passes re-crop around the
    predicted points (landmark models only)."""
    size = predictor.img_size
    total = 0.0
    passes = 1 + (refine if predictor.task == "landmark" else 0)
    for _ in range(passes):
        crop = FaceCrop.around(low, high, size, margin)
        x = model_input(crop.cut(image))
        start = time.perf_counter()
        out = predictor.run(x)
        total += time.perf_counter() - start
        if predictor.task != "landmark":
            break
        # crop units (edges at 0 and 1) -> crop pixel centres, as prepare_data wrote them
        crop_points = out.reshape(-1, 2) * size - 0.5
        points = crop.to_image(crop_points)
        low, high = points.min(0), points.max(0)
    face = Face([float(v) for v in box], crop, 1000 * total)
    if predictor.task == "landmark":
        face.points = points
        # in the crop, with the crop's generic camera: as the training labels were estimated
        face.pose = estimate_euler(crop_points, layout, size) if layout is not None else None
    else:
        face.labels = out[0].argmax(axis=0).astype(np.uint8)
    return face
