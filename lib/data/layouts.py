"""Landmark layouts: flip pairs, outer eye corners (inter-ocular NME), regions (per-region
NME) and pose points with a generic 3D face (Euler angles by solvePnP). A layout may lack any
entry: it still trains (no flip, box NME only, no Euler)."""
from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np

from .face_template import flip_pairs as synthetic_flip_pairs
from .face_template import landmarks_3d


@dataclass(frozen=True)
class Layout:
    name: str
    num_points: int
    flip_pairs: tuple = field(default_factory=tuple)
    eye_corners: tuple | None = None  # (right outer, left outer) indices
    regions: dict = field(default_factory=dict)  # name -> indices
    pose_points: tuple = ()  # indices used by solvePnP ...
    pose_model: np.ndarray | None = None  # ... and their generic 3D positions (x right,
    #                                        y down, z away from the camera)


def _ibug68_pairs():
    pairs = [(i, 16 - i) for i in range(8)] + [(17 + i, 26 - i) for i in range(5)]
    pairs += [(31, 35), (32, 34), (36, 45), (37, 44), (38, 43), (39, 42), (40, 47), (41, 46)]
    pairs += [(48, 54), (49, 53), (50, 52), (59, 55), (58, 56), (60, 64), (61, 63), (67, 65)]
    return tuple(pairs)


# The classic 6-point generic head (nose tip, chin, outer eye corners, mouth corners), in mm,
# converted from the usual y-up/z-to-camera convention to the camera's y-down/z-away one.
_GENERIC6 = np.array([[0.0, 0.0, 0.0], [0.0, 330.0, 65.0], [-225.0, -170.0, 135.0],
                      [225.0, -170.0, 135.0], [-150.0, 150.0, 125.0], [150.0, 150.0, 125.0]])
_IBUG_REGIONS = {"jaw": tuple(range(0, 17)), "brows": tuple(range(17, 27)),
                 "nose": tuple(range(27, 36)), "eyes": tuple(range(36, 48)),
                 "mouth": tuple(range(48, 68))}
_SYNTHETIC_MEAN = {"jaw_w": 0.72, "jaw_h": 0.95, "eye_x": 0.315, "eye_y": -0.2, "eye_w": 0.135,
                   "eye_open": 0.6, "brow_gap": 0.175, "brow_arch": 0.06, "nose_len": 0.35,
                   "nose_w": 0.175, "mouth_y": 0.49, "mouth_w": 0.29, "lip_h": 0.06,
                   "mouth_open": 0.0, "pupil_dx": 0.0, "pupil_dy": 0.0}

LAYOUTS = {
    "synthetic": Layout(
        "synthetic", 106, tuple(synthetic_flip_pairs()), (66, 75),
        {"jaw": tuple(range(0, 33)), "brows": tuple(range(33, 51)),
         "nose": tuple(range(51, 66)), "eyes": tuple(range(66, 84)),
         "mouth": tuple(range(84, 104))},
        tuple(range(106)), landmarks_3d(_SYNTHETIC_MEAN)),
    "ibug68": Layout("ibug68", 68, _ibug68_pairs(), (36, 45), _IBUG_REGIONS,
                     (30, 8, 36, 45, 48, 54), _GENERIC6),
    "facesynthetics70": Layout("facesynthetics70", 70, _ibug68_pairs() + ((68, 69),), (36, 45),
                               _IBUG_REGIONS, (30, 8, 36, 45, 48, 54), _GENERIC6),
    "jd106": Layout("jd106", 106, (), (35, 93)),
    "datatang106": Layout("datatang106", 106, (), None,
                          {"jaw": tuple(range(0, 33)), "brows": tuple(range(33, 51)),
                           "nose": tuple(range(71, 86)), "mouth": tuple(range(86, 106))}),
}


def get_layout(name: str, num_points: int) -> Layout:
    layout = LAYOUTS.get(name)
    if layout is None or layout.num_points != num_points:
        return Layout(name, num_points)  # unknown layout: trains, box NME only
    return layout
