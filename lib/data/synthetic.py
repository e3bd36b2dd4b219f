"""The embedded ``synthetic`` dataset, generated deterministically on first use into
``data/synthetic`` in the PFLD ``list.txt`` layout (plus ``_seg.png`` masks)."""
from __future__ import annotations

import json
import logging
from pathlib import Path

import cv2
import numpy as np
from tqdm import tqdm

from ..atomic import atomic_directory
from .render import render_face

log = logging.getLogger(__name__)
# bump when render.py changes what it draws: a data/synthetic of
# another version is then generated again, never mixed with new faces
GENERATOR_VERSION = 1
DEFAULT_COUNTS = {"train": 3000, "val": 300, "test": 300}
# part of every sample's seed: the splits never share a face, whatever their counts
_SPLIT_IDS = {"train": 0, "val": 1, "test": 2}


def format_line(path: str, landmarks: np.ndarray, euler: np.ndarray) -> str:
    # 6 decimals of the crop: about 1e-4 pixel at 112 px; angles to 1e-4 degrees
    values = " ".join(f"{v:.6f}" for v in landmarks.reshape(-1))
    return f"{path} {values} {' '.join(f'{v:.4f}' for v in euler)}"


def _write_split(folder: Path, split: str, count: int, img_size: int, seed: int) -> None:
    (folder / "imgs").mkdir(parents=True)
    lines = []
    for i in tqdm(range(count), desc=f"synthetic {split}", leave=False, disable=None):
        # one generator per sample: any sample is reproducible on its own
        rng = np.random.default_rng([seed, _SPLIT_IDS[split], i])
        image, landmarks, euler, mask = render_face(rng, img_size)
        name = f"imgs/{i:06d}"
        cv2.imwrite(str(folder / f"{name}.png"), image)
        cv2.imwrite(str(folder / f"{name}_seg.png"), mask)
        lines.append(format_line(f"{name}.png", landmarks, euler))
    (folder / "list.txt").write_text("\n".join(lines) + "\n")


def ensure_synthetic(root, img_size: int | None = None, counts: dict | None = None,
                     seed: int = 0) -> Path:
    """Generate the dataset unless ``root`` already holds this version (any counts and seed
    when ``counts`` is None; any size when ``img_size`` is None, else 112: loaders resize).
    Atomic: built in a temp folder beside ``root``, then renamed."""
    root = Path(root)
    meta_path = root / "meta.json"
    existing = json.loads(meta_path.read_text()) if meta_path.exists() else None
    if counts is None and existing and existing.get("generator") == GENERATOR_VERSION and \
            img_size in (None, existing.get("img_size")):
        return root
    img_size = img_size or 112
    counts = {**DEFAULT_COUNTS, **(counts or {})}
    meta = {"generator": GENERATOR_VERSION, "img_size": img_size, "counts": counts,
            "seed": seed, "num_points": 106, "layout": "synthetic"}
    if existing == meta:
        return root
    log.info("generating synthetic faces into %s (%s)", root, counts)
    with atomic_directory(root) as tmp:
        for split, count in counts.items():
            _write_split(tmp / f"{split}_data", split, count, img_size, seed)
        (tmp / "meta.json").write_text(json.dumps(meta, indent=1))
    return root
