"""Readers of raw landmark annotations. Each yields ``RawSample``s (image path, points in
pixels, where they came from) or raises ``DataError`` naming the file (and line)."""
from __future__ import annotations

import json
from dataclasses import dataclass
from pathlib import Path
from typing import Iterator

import numpy as np


class DataError(ValueError):
    """Bad input data; the message names the file (and line)."""


# every still-image format OpenCV decodes (imread), lower case; matched case-insensitively
IMAGE_SUFFIXES = (".jpg", ".jpeg", ".jpe", ".png", ".bmp", ".dib", ".ppm", ".pgm", ".pbm",
                  ".pnm", ".pxm", ".tif", ".tiff", ".webp", ".jp2", ".sr", ".ras", ".exr",
                  ".hdr", ".pic")


@dataclass
class RawSample:
    image: Path
    points: np.ndarray  # [N, 2] pixels
    where: str  # "file" or "file:line", for messages
    visible: np.ndarray | None = None
    box: np.ndarray | None = None  # [x_min, y_min, x_max, y_max] pixels, where annotated


def find_image(annotation: Path, folders=()) -> Path:
    """The image with the annotation's stem, of any format OpenCV reads, beside it or in
    ``folders`` (300-VW keeps ``annot/*.pts`` beside ``imgs/*.jpg``); the .jpg name when
    there is none, so that the error names what was looked for."""
    for folder in (annotation.parent, *folders):
        if folder.is_dir():
            for path in sorted(folder.glob(f"{annotation.stem}.*")):
                if path.suffix.lower() in IMAGE_SUFFIXES and path != annotation:
                    return path
    return annotation.with_suffix(".jpg")


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
            # errors are yielded, not raised: prepare() either stops at the
            # first or, with skip_bad, lists every bad entry and goes on
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
    ``x y`` lines) anywhere below ``root``, the image beside it with the same stem, or in
    ``../imgs/`` for a 300-VW video's ``annot/`` folder."""
    for pts in sorted(Path(root).rglob("*.pts")):
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
        frames = [pts.parent.parent / name for name in ("imgs", "frames", "images")] \
            if pts.parent.name == "annot" else []
        yield RawSample(find_image(pts, frames), points, str(pts))


def read_datatang(root) -> Iterator[RawSample | DataError]:
    """Datatang JSON: ``DataList`` of 106 points with ``coordinates`` and visibility."""
    for path in sorted(Path(root).glob("*.json")):
        try:
            # by point id: the layout indexes points by id, whatever order the file lists them in
            items = sorted(json.loads(path.read_text())["DataList"], key=lambda d: d["id"])
            points = np.array([d["coordinates"] for d in items], dtype=np.float64)
            visible = np.array([d.get("properties", {}).get("globaltype") != "inVisiblePoint"
                                for d in items])
        except (json.JSONDecodeError, KeyError, TypeError, ValueError) as exc:
            yield DataError(f"{path}: not a Datatang annotation ({type(exc).__name__}: {exc})")
            continue
        yield RawSample(find_image(path), points, str(path), visible)


def read_coco(path, images=None) -> Iterator[RawSample | DataError]:
    """COCO-style keypoint JSON (MMPose's 300W, WFLW, COFW, AFLW, LaPa): one sample per
    annotation, ``keypoints`` as ``[x, y, v] * K`` in pixels, ``file_name`` relative to
    ``images`` (default: the JSON's folder). v is COCO's flag: 0 not labelled, 1 labelled
    but occluded, 2 visible; a face needs every point labelled."""
    path = Path(path)
    root = Path(images) if images else path.parent
    try:
        data = json.loads(path.read_text())
        files = {image["id"]: image["file_name"] for image in data["images"]}
        annotations = data["annotations"]
    except (OSError, json.JSONDecodeError) as exc:
        raise DataError(f"{path}: cannot read COCO JSON: {exc}") from None
    except (KeyError, TypeError) as exc:
        raise DataError(f"{path}: not COCO keypoint JSON: missing {exc}") from None
    for index, ann in enumerate(annotations):
        where = f"{path}: annotations[{index}]"
        try:
            image_id, flat = ann["image_id"], ann["keypoints"]
        except (KeyError, TypeError) as exc:
            yield DataError(f"{where}: missing key {exc}")
            continue
        if image_id not in files:
            yield DataError(f"{where}: image_id {image_id!r} is not in 'images'")
            continue
        if not isinstance(flat, list) or not flat or len(flat) % 3:
            yield DataError(f"{where}: 'keypoints' must be [x, y, v] * K, got "
                            f"{len(flat) if isinstance(flat, list) else type(flat).__name__} "
                            f"values")
            continue
        try:
            triples = _numbers(flat, where).reshape(-1, 3)
        except DataError as exc:
            yield exc
            continue
        flags = triples[:, 2]
        if not np.isin(flags, (0, 1, 2)).all():
            bad = int(np.flatnonzero(~np.isin(flags, (0, 1, 2)))[0])
            yield DataError(f"{where}: keypoint {bad} has visibility {flags[bad]:g}, expected "
                            f"0, 1 or 2")
            continue
        if (flags == 0).any():
            yield DataError(f"{where}: {int((flags == 0).sum())} keypoints not labelled "
                            f"(v=0), first {int(np.flatnonzero(flags == 0)[0])}")
            continue
        box = None
        if "bbox" in ann:
            try:
                x, y, w, h = _numbers(ann["bbox"], where)
            except (DataError, ValueError):
                yield DataError(f"{where}: 'bbox' must be [x, y, width, height]")
                continue
            # COCO boxes are [x, y, width, height]; RawSample's are corners
            box = np.array([x, y, x + w, y + h])
        yield RawSample(root / files[image_id], triples[:, :2], where, flags == 2, box)


def read_wflw(path, images=None) -> Iterator[RawSample | DataError]:
    """WFLW's annotation lines: 98 x y pairs, the face box (x_min y_min x_max y_max), six
    attribute flags (pose, expression, illumination, make-up, occlusion, blur) and the image
    path, relative to ``images`` (default: the list's folder)."""
    path = Path(path)
    root = Path(images) if images else path.parent
    for number, line in enumerate(path.read_text().splitlines(), 1):
        tokens = line.split()
        if not tokens:
            continue
        where = f"{path}:{number}"
        if len(tokens) != 196 + 4 + 6 + 1:
            yield DataError(f"{where}: {len(tokens)} values, expected 207 (98 x y pairs, 4 box "
                            f"values, 6 attributes, the image path)")
            continue
        try:
            values = _numbers(tokens[:206], where)
        except DataError as exc:
            yield exc
            continue
        yield RawSample(root / tokens[206], values[:196].reshape(98, 2), where, box=values[196:200])


def read_ljson(root, num_points: int = 68) -> Iterator[RawSample | DataError]:
    """menpo's LJSON v3 (``{"version": 3, "groups": {name: {"landmarks": {"points": ...}}}}``)
    below ``root``, the group with ``num_points`` points; menpo stores points as (y, x)."""
    for path in sorted(Path(root).rglob("*.ljson")):
        try:
            data = json.loads(path.read_text())
            if data.get("version") != 3:
                yield DataError(f"{path}: LJSON version {data.get('version')!r}, expected 3")
                continue
            groups = {name: group["landmarks"]["points"]
                      for name, group in data["groups"].items()}
        except (json.JSONDecodeError, KeyError, TypeError, AttributeError) as exc:
            yield DataError(f"{path}: not menpo LJSON v3 ({type(exc).__name__}: {exc})")
            continue
        found = [name for name, points in groups.items() if len(points) == num_points]
        if not found:
            yield DataError(f"{path}: no group of {num_points} points (groups: " + ", ".join(
                f"{name} {len(points)}" for name, points in groups.items()) + ")")
            continue
        raw = groups[found[0]]
        if any(p is None or None in p for p in raw):
            yield DataError(f"{path}: group {found[0]} has missing (null) points")
            continue
        try:
            points = _numbers(raw, str(path))[:, ::-1]  # (y, x) -> (x, y)
        except (DataError, IndexError) as exc:
            yield exc if isinstance(exc, DataError) else DataError(f"{path}: points not (y, x)")
            continue
        yield RawSample(find_image(path), np.ascontiguousarray(points), str(path))


# format -> (reader(root, num_points, images folder), layout, number of points); a layout of
# None is chosen by the number of points (LAYOUT_BY_POINTS), a number of None read off the data
FORMATS = {
    "facesynthetics": (lambda root, n, images: read_facesynthetics(root), "facesynthetics70", 70),
    "pts": (lambda root, n, images: read_pts(root), "ibug68", 68),
    "datatang": (lambda root, n, images: read_datatang(root), "datatang106", 106),
    "pixels": (lambda root, n, images: read_pixel_list(_list_in(root), n), None, None),
    "coco": (lambda root, n, images: read_coco(root, images), None, None),
    "wflw": (lambda root, n, images: read_wflw(root, images), "wflw98", 98),
    "ljson": (lambda root, n, images: read_ljson(root, n), "ibug68", 68),
}


def _list_in(root) -> Path:
    root = Path(root)
    if root.is_file():
        return root
    lists = sorted(root.glob("*.txt"))
    if len(lists) != 1:
        raise DataError(f"{root}: expected one pixel list .txt, found {len(lists)}; pass the file")
    return lists[0]
