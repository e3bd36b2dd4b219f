"""Readers of raw landmark annotations. Each yields ``RawSample``s (image path, points in
pixels, where they came from) or raises ``DataError`` naming the file (and line)."""
from __future__ import annotations

import json
from dataclasses import dataclass
from pathlib import Path
from typing import Iterator

import numpy as np

from .errors import DataError

IMAGE_SUFFIXES = (".jpg", ".jpeg", ".png", ".bmp")


@dataclass
class RawSample:
    image: Path
    points: np.ndarray  # [N, 2] pixels
    where: str  # "file" or "file:line", for messages
    visible: np.ndarray | None = None


def _numbers(tokens, where) -> np.ndarray:
    try:
        return np.array(tokens, dtype=np.float64)
    except ValueError as exc:
        raise DataError(f"{where}: non-numeric value ({exc})") from None


def read_pixel_list(path, num_points: int) -> Iterator[RawSample | DataError]:
    """``file x1 y1 ... xN yN`` per line, pixels; image paths relative to the list."""
    path = Path(path)
    for number, line in enumerate(path.read_text().splitlines(), 1):
        tokens = line.split()
        if not tokens:
            continue
        where = f"{path}:{number}"
        if len(tokens) != 1 + 2 * num_points:
            yield DataError(f"{where}: {len(tokens)} values, expected {1 + 2 * num_points} "
                            f"(file + {num_points} x y pairs)")
            continue
        try:
            points = _numbers(tokens[1:], where).reshape(num_points, 2)
        except DataError as exc:
            yield exc
            continue
        yield RawSample(path.parent / tokens[0], points, where)


def read_facesynthetics(root) -> Iterator[RawSample | DataError]:
    """``NNNNNN.png`` + ``NNNNNN_ldmks.txt`` (70 lines ``x y``)."""
    for ldmks in sorted(Path(root).glob("*_ldmks.txt")):
        image = ldmks.with_name(ldmks.name.replace("_ldmks.txt", ".png"))
        rows = [line.split() for line in ldmks.read_text().splitlines() if line.strip()]
        bad = [i + 1 for i, row in enumerate(rows) if len(row) != 2]
        if bad:
            yield DataError(f"{ldmks}:{bad[0]}: expected 'x y'")
            continue
        try:
            yield RawSample(image, _numbers(rows, str(ldmks)), str(ldmks))
        except DataError as exc:
            yield exc


def read_pts(root) -> Iterator[RawSample | DataError]:
    """300-W ``.pts`` (``version: 1`` / ``n_points: N`` / ``{`` ... ``}``, or header-less
    ``x y`` lines), image beside it with the same stem."""
    for pts in sorted(Path(root).glob("*.pts")):
        lines = [line.strip() for line in pts.read_text().splitlines() if line.strip()]
        declared = None
        if lines and lines[0].startswith("version"):
            header = {k.strip(): v.strip() for k, v in
                      (line.split(":", 1) for line in lines[:2] if ":" in line)}
            declared = int(header.get("n_points", -1))
            if "{" not in lines or "}" not in lines:
                yield DataError(f"{pts}: header without '{{' ... '}}' block")
                continue
            lines = lines[lines.index("{") + 1:lines.index("}")]
        try:
            points = _numbers([line.split() for line in lines], str(pts))
        except (DataError, ValueError) as exc:
            yield exc if isinstance(exc, DataError) else DataError(f"{pts}: ragged rows")
            continue
        if points.ndim != 2 or points.shape[1] != 2:
            yield DataError(f"{pts}: expected rows of 'x y'")
            continue
        if declared is not None and declared != len(points):
            yield DataError(f"{pts}: header says {declared} points, file has {len(points)}")
            continue
        image = next((pts.with_suffix(s) for s in IMAGE_SUFFIXES if pts.with_suffix(s).is_file()),
                     pts.with_suffix(".jpg"))
        yield RawSample(image, points, str(pts))


def read_datatang(root) -> Iterator[RawSample | DataError]:
    """Datatang JSON: ``DataList`` of 106 points with ``coordinates`` and visibility."""
    for path in sorted(Path(root).glob("*.json")):
        try:
            items = sorted(json.loads(path.read_text())["DataList"], key=lambda d: d["id"])
            points = np.array([d["coordinates"] for d in items], dtype=np.float64)
            visible = np.array([d.get("properties", {}).get("globaltype") != "inVisiblePoint"
                                for d in items])
        except (json.JSONDecodeError, KeyError, TypeError, ValueError) as exc:
            yield DataError(f"{path}: not a Datatang annotation ({type(exc).__name__}: {exc})")
            continue
        image = next((path.with_suffix(s) for s in IMAGE_SUFFIXES
                      if path.with_suffix(s).is_file()), path.with_suffix(".jpg"))
        yield RawSample(image, points, str(path), visible)


# format -> (reader(root, num_points), layout, number of points)
FORMATS = {
    "facesynthetics": (lambda root, n: read_facesynthetics(root), "facesynthetics70", 70),
    "pts": (lambda root, n: read_pts(root), "ibug68", 68),
    "datatang": (lambda root, n: read_datatang(root), "datatang106", 106),
    "pixels": (lambda root, n: read_pixel_list(_list_in(root), n), None, None),
}


def _list_in(root) -> Path:
    root = Path(root)
    if root.is_file():
        return root
    lists = sorted(root.glob("*.txt"))
    if len(lists) != 1:
        raise DataError(f"{root}: expected one pixel list .txt, found {len(lists)}; pass the file")
    return lists[0]
