"""Raw landmark data -> PFLD-ready crops in the ``list.txt`` layout that ``--dataset jd106``
reads: square crop of ``margin`` x the landmark box around its centre (zero padding), resized
to ``img_size``, coordinates normalised to the crop, Euler angles by solvePnP where the layout
has a pose model, and a seeded train/val/test split. Built in a temp folder and renamed at the
end, so a failure leaves nothing half-written."""
from __future__ import annotations

import json
import logging
from dataclasses import dataclass, field
from pathlib import Path

import cv2
import numpy as np
from tqdm import tqdm

from ..atomic import atomic_directory
from .augment import LandmarkAugment
from .formats import DataError
from .formats import FORMATS, RawSample
from .headpose import estimate_euler
from .layouts import LAYOUT_BY_POINTS, get_layout
from .synthetic import format_line

log = logging.getLogger(__name__)
SPLITS = ("train", "val", "test")


@dataclass
class PrepareReport:
    out: Path
    written: dict = field(default_factory=dict)
    skipped: list = field(default_factory=list)  # (where, reason)
    layout: str = ""
    euler: bool = False


def image_is_complete(path: Path) -> bool:
    """JPEG must end with EOI, PNG must hold IEND: cv2 decodes a truncated file silently."""
    data = path.read_bytes()
    if data[:2] == b"\xff\xd8":
        # some writers pad after the end marker; a file cut short has none at all
        return data.rstrip(b"\x00\r\n ").endswith(b"\xff\xd9")
    if data[:8] == b"\x89PNG\r\n\x1a\n":
        # IEND is the last chunk (12 bytes); the slack allows trailing bytes
        return b"IEND" in data[-64:]
    return True


def load_checked(sample: RawSample, num_points: int) -> np.ndarray:
    """The decoded image, after checking the sample; DataError naming the file otherwise."""
    where, points = sample.where, sample.points
    if points.shape != (num_points, 2):
        raise DataError(f"{where}: {len(points)} points, expected {num_points}")
    if not np.isfinite(points).all():
        raise DataError(f"{where}: NaN or infinite coordinate")
    if not sample.image.is_file():
        raise DataError(f"{where}: image not found: {sample.image}")
    if not image_is_complete(sample.image):
        raise DataError(f"{where}: truncated image {sample.image}")
    image = cv2.imread(str(sample.image), cv2.IMREAD_COLOR)
    if image is None:
        raise DataError(f"{where}: cannot decode image {sample.image}")
    h, w = image.shape[:2]
    low, high = points.min(0), points.max(0)
    # a face at the border may leave the image a little, not by half
    # its size: such points are in another unit or for another image
    if (low < [-0.5 * w, -0.5 * h]).any() or (high > [1.5 * w, 1.5 * h]).any():
        raise DataError(f"{where}: coordinates far outside the {w}x{h} image")
    # a box under 2 px on a side is a collapsed annotation (points on one line or one spot)
    if (high - low).min() < 2:
        raise DataError(f"{where}: degenerate landmark box {high - low}")
    return image


def crop_face(image, points, img_size: int, margin: float, box=None):
    """Square crop of ``margin`` x the long side of the landmark box (or of ``box``, the
    annotated face box ``[x_min, y_min, x_max, y_max]``), centred on that box."""
    low, high = (points.min(0), points.max(0)) if box is None else (box[:2], box[2:])
    centre, side = (low + high) / 2, margin * (high - low).max()
    scale = img_size / side
    affine = np.array([[scale, 0, img_size / 2 - scale * centre[0]],
                       [0, scale, img_size / 2 - scale * centre[1]]])
    crop = cv2.warpAffine(image, affine, (img_size, img_size), flags=cv2.INTER_AREA,
                          borderMode=cv2.BORDER_CONSTANT, borderValue=0)
    crop_points = points * scale + affine[:, 2]
    return crop, crop_points


def prepare(fmt: str, data_root, out, img_size: int = 112, margin: float = 1.2,
            split=(0.8, 0.1, 0.1), seed: int = 0, skip_bad: bool = False,
            num_points: int | None = None, layout: str | None = None,
            augment_copies: int = 0, progress: bool = True, images=None,
            crop: str = "landmarks") -> PrepareReport:
    """``images``: the folder image paths are relative to (coco, wflw); ``crop``: around the
    landmarks, or around the annotated face box (``bbox``: coco, wflw)."""
    if fmt not in FORMATS:
        raise DataError(f"unknown format {fmt!r}; known: {sorted(FORMATS)}")
    if crop not in ("landmarks", "bbox"):
        raise DataError(f"--crop must be landmarks or bbox, got {crop!r}")
    reader, default_layout, default_points = FORMATS[fmt]
    num_points = num_points or default_points
    if num_points is None and fmt == "pixels":
        raise DataError(f"format {fmt!r} needs --num_points")
    if len(split) != 3 or abs(sum(split) - 1) > 1e-6 or min(split) < 0:
        raise DataError(f"--split must be three non-negative fractions summing to 1: {split}")
    items = list(reader(data_root, num_points, images))
    if num_points is None:  # read off the data (coco): the first good sample's count
        num_points = next((len(i.points) for i in items if not isinstance(i, DataError)), 0)
    layout = get_layout(layout or default_layout or LAYOUT_BY_POINTS.get(num_points, "unknown"),
                        num_points)
    out = Path(out)
    report = PrepareReport(out, layout=layout.name, euler=layout.pose_model is not None)

    def bad(error: DataError):
        if not skip_bad:
            raise error
        log.warning("skipped: %s", error)
        report.skipped.append(str(error))

    samples, seen = [], {}
    for item in items:
        if isinstance(item, DataError):
            bad(item)
            continue
        # coco holds several faces per image, each its own annotation
        key = (item.image.resolve(), tuple(item.points.ravel()) if fmt == "coco" else None)
        if key in seen:
            bad(DataError(f"{item.where}: duplicate entry for {item.image} "
                          f"(first at {seen[key]})"))
            continue
        seen[key] = item.where
        samples.append(item)
    # seeded: the same data and seed give the same split,
    # so preparing again keeps test faces out of training
    order = np.random.default_rng(seed).permutation(len(samples))
    bounds = np.cumsum([round(f * len(samples)) for f in split[:2]])
    assignment = {int(i): SPLITS[int(np.searchsorted(bounds, rank, side="right"))]
                  for rank, i in enumerate(order)}
    # offline copies after the original 106-point preparation (REFERENCE.md: rotations up to
    # ±30°), wider than the online augmentation's 15°
    copier = LandmarkAugment(layout, rotate=30.0, scale=0.15, shift=0.08, occlude=0.0)
    aug_rng = np.random.default_rng([seed, 1])
    with atomic_directory(out) as tmp:
        lines = {s: [] for s in SPLITS}
        for index, sample in enumerate(tqdm(samples, desc=f"prepare {fmt}",
                                            disable=not progress)):
            try:
                image = load_checked(sample, num_points)
            except DataError as exc:
                bad(exc)
                continue
            if crop == "bbox" and sample.box is None:
                bad(DataError(f"{sample.where}: no face box to crop around (--crop bbox)"))
                continue
            crop_image, points = crop_face(image, sample.points, img_size, margin,
                                           sample.box if crop == "bbox" else None)
            euler = estimate_euler(points, layout, img_size)
            split_name = assignment[index]
            name = f"imgs/{index:06d}.png"
            folder = tmp / f"{split_name}_data"
            (folder / "imgs").mkdir(parents=True, exist_ok=True)
            cv2.imwrite(str(folder / name), crop_image)
            # pixel centres -> crop units with edges at 0 and 1
            # (pixel i spans [i, i + 1)); the copies below invert it
            landmarks = (points + 0.5) / img_size
            lines[split_name].append(format_line(name, landmarks,
                                                 np.zeros(3) if euler is None else euler))
            if split_name == "train":  # PFLD-style offline copies, training part only
                for copy in range(augment_copies):
                    image2, landmarks2, euler2 = copier(crop_image, landmarks, np.zeros(3),
                                                        aug_rng)
                    # estimated again from the copy's own points: a rotated copy has another roll
                    euler2 = estimate_euler(landmarks2 * img_size - 0.5, layout, img_size)
                    name2 = f"imgs/{index:06d}_aug{copy}.png"
                    cv2.imwrite(str(folder / name2), image2)
                    lines[split_name].append(format_line(
                        name2, landmarks2, np.zeros(3) if euler2 is None else euler2))
        for split_name, split_lines in lines.items():
            folder = tmp / f"{split_name}_data"
            folder.mkdir(exist_ok=True)
            (folder / "list.txt").write_text("".join(f"{line}\n" for line in split_lines))
            report.written[split_name] = len(split_lines)
        if not sum(report.written.values()):
            raise DataError(f"{data_root}: no usable samples")
        meta = {"format": fmt, "source": str(data_root), "layout": layout.name, "crop": crop,
                "num_points": num_points, "img_size": img_size, "margin": margin,
                "split": list(split), "seed": seed, "augment_copies": augment_copies,
                "images": str(images) if images else None, "skip_bad": skip_bad,
                "written": report.written,
                "skipped": report.skipped, "euler": "solvePnP" if report.euler else "none (zeros)"}
        (tmp / "meta.json").write_text(json.dumps(meta, indent=1) + "\n")
    return report
