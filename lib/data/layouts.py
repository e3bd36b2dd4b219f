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

def _span(first: int, last: int) -> tuple:
    return tuple(range(first, last + 1))


# flip pairs as MMPose's dataset configs swap them (configs/_base_/datasets/*.py), eye
# corners as its NME normalises (the right-most and left-most eye points)
_WFLW98_PAIRS = tuple((i, 32 - i) for i in range(16)) + (
    (33, 46), (34, 45), (35, 44), (36, 43), (37, 42), (38, 50), (39, 49), (40, 48), (41, 47),
    (55, 59), (56, 58), (60, 72), (61, 71), (62, 70), (63, 69), (64, 68), (65, 75), (66, 74),
    (67, 73), (76, 82), (77, 81), (78, 80), (83, 87), (84, 86), (88, 92), (89, 91), (93, 95),
    (96, 97))
_LAPA106_PAIRS = tuple((i, 32 - i) for i in range(16)) + (
    (33, 46), (34, 45), (35, 44), (36, 43), (37, 42), (38, 50), (39, 49), (40, 48), (41, 47),
    (55, 65), (56, 64), (57, 63), (58, 62), (59, 61), (66, 79), (67, 78), (68, 77), (69, 76),
    (70, 75), (71, 82), (72, 81), (73, 80), (74, 83), (84, 90), (85, 89), (86, 88), (91, 95),
    (92, 94), (96, 100), (97, 99), (101, 103), (104, 105))
_COFW29_PAIRS = ((0, 1), (2, 3), (4, 6), (5, 7), (8, 9), (10, 11), (12, 14), (13, 15), (16, 17),
                 (18, 19), (22, 23))
_AFLW19_PAIRS = ((0, 5), (1, 4), (2, 3), (6, 11), (7, 10), (8, 9), (12, 14), (15, 17))

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
    # JD-106: outer eye corners 35 and 93 (REFERENCE.md); no
    # flip pairs are known for it, so it is never flipped
    "jd106": Layout("jd106", 106, (), (35, 93)),
    "wflw98": Layout("wflw98", 98, _WFLW98_PAIRS, (60, 72),
                     {"jaw": _span(0, 32), "brows": _span(33, 50), "nose": _span(51, 59),
                      "eyes": _span(60, 75) + (96, 97), "mouth": _span(76, 95)}),
    "lapa106": Layout("lapa106", 106, _LAPA106_PAIRS, (66, 79),
                      {"jaw": _span(0, 32), "brows": _span(33, 50), "nose": _span(51, 65),
                       "eyes": _span(66, 83) + (104, 105), "mouth": _span(84, 103)}),
    "cofw29": Layout("cofw29", 29, _COFW29_PAIRS, (8, 9)),
    # AFLW is normalised by the face box in MMPose; 6 and 11 are the outer eye corners
    "aflw19": Layout("aflw19", 19, _AFLW19_PAIRS, (6, 11)),
    # no eye corners known in Datatang's order: NME by the landmark box only
    "datatang106": Layout("datatang106", 106, (), None,
                          {"jaw": tuple(range(0, 33)), "brows": tuple(range(33, 51)),
                           "nose": tuple(range(71, 86)), "mouth": tuple(range(86, 106))}),
}


# the layout a COCO keypoint file gets from its number of points, unless --layout says
LAYOUT_BY_POINTS = {68: "ibug68", 70: "facesynthetics70", 98: "wflw98", 106: "lapa106",
                    29: "cofw29", 19: "aflw19"}


def get_layout(name: str, num_points: int) -> Layout:
    layout = LAYOUTS.get(name)
    if layout is None or layout.num_points != num_points:
        return Layout(name, num_points)  # unknown layout: trains, box NME only
    return layout
