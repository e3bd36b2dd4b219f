"""Landmark layouts: flip pairs and outer eye corners (for inter-ocular NME)."""
from __future__ import annotations

from dataclasses import dataclass, field

from .face_template import flip_pairs


@dataclass(frozen=True)
class Layout:
    name: str
    num_points: int
    flip_pairs: tuple = field(default_factory=tuple)
    eye_corners: tuple | None = None  # (right outer, left outer) indices


LAYOUTS = {
    "synthetic": Layout("synthetic", 106, tuple(flip_pairs()), (66, 75)),
    "jd106": Layout("jd106", 106, (), (35, 93)),
}


def get_layout(name: str, num_points: int) -> Layout:
    layout = LAYOUTS.get(name)
    if layout is None or layout.num_points != num_points:
        return Layout(name, num_points)  # unknown layout: trains, box NME only
    return layout
