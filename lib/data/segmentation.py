"""Face-parsing data: label schemes, readers (Face Synthetics ``_seg.png``, CelebAMask-style
image/mask folders, the synthetic faces' masks), a preloading dataset and mask-consistent
augmentation. Items: ``(image float [3,S,S] BGR in [0,1], mask int64 [S,S])``, 255 = ignore."""
from __future__ import annotations

import logging
from dataclasses import dataclass
from pathlib import Path

import cv2
import numpy as np
import torch
from PIL import Image
from torch.utils.data import Dataset
from tqdm import tqdm

from .augment import Augmented, random_affine
from .formats import DataError
from .formats import IMAGE_SUFFIXES
from .landmark_list import read_list
from .synthetic import ensure_synthetic

log = logging.getLogger(__name__)
# excluded from the loss (cross-entropy's ignore_index) and from the confusion matrix behind mIoU
IGNORE = 255


@dataclass(frozen=True)
class LabelScheme:
    name: str
    classes: tuple[str, ...]
    flip_pairs: tuple[tuple[int, int], ...]  # left/right classes swapped by a mirror

    @property
    def num_classes(self) -> int:
        return len(self.classes)

    def flip_lut(self) -> np.ndarray:
        # 256 entries index any uint8 mask directly, ignore (255) included
        lut = np.arange(256, dtype=np.uint8)
        for a, b in self.flip_pairs:
            lut[a], lut[b] = b, a
        return lut


FACESYNTHETICS = LabelScheme("facesynthetics", (
    "background", "skin", "nose", "right_eye", "left_eye", "right_brow", "left_brow",
    "right_ear", "left_ear", "mouth_interior", "top_lip", "bottom_lip", "neck", "hair", "beard",
    "clothing", "glasses", "headwear", "facewear"), ((3, 4), (5, 6), (7, 8)))
CELEBAMASK = LabelScheme("celebamask", (  # CelebAMask-HQ order (inferred from frequencies)
    "background", "skin", "nose", "eye_g", "l_eye", "r_eye", "l_brow", "r_brow", "l_ear",
    "r_ear", "mouth", "u_lip", "l_lip", "hair", "hat", "ear_r", "neck_l", "neck", "cloth"),
    ((4, 5), (6, 7), (8, 9)))
SCHEMES = {"synthetic": FACESYNTHETICS, "facesynthetics": FACESYNTHETICS,
           "celebamask": CELEBAMASK}


def read_mask(path: Path) -> np.ndarray:
    """A label map: palette PNGs are read as their indices (OpenCV would expand the palette
    to colours), grayscale PNGs as values."""
    try:
        with Image.open(path) as image:
            if image.mode not in ("P", "L", "I;16", "I"):
                raise DataError(f"{path}: mask mode {image.mode!r}; expected a palette or "
                                "grayscale label map")
            return np.asarray(image).astype(np.uint8)
    except OSError as exc:
        raise DataError(f"{path}: cannot read mask: {exc}") from None


def check_mask(mask: np.ndarray, num_classes: int, path) -> None:
    bad = np.setdiff1d(np.unique(mask), np.r_[np.arange(num_classes), IGNORE])
    if bad.size:
        raise DataError(f"{path}: label values {bad.tolist()} outside 0..{num_classes - 1} "
                        f"and {IGNORE} (ignore)")


def facesynthetics_pairs(root: Path) -> list[tuple[Path, Path]]:
    """``NNNNNN.png`` + ``NNNNNN_seg.png``; an image without its mask is an error."""
    images = sorted(p for p in root.glob("*.png") if not p.stem.endswith("_seg"))
    missing = [p.name for p in images if not p.with_name(f"{p.stem}_seg.png").is_file()]
    if missing:
        raise DataError(f"{root}: no _seg.png for {missing[:5]}")
    return [(p, p.with_name(f"{p.stem}_seg.png")) for p in images]


def celebamask_pairs(root: Path) -> list[tuple[Path, Path]]:
    """``images/<name>.*`` + ``masks/<name>.png``, or one flat folder of ``<name>.jpg`` (any
    image format but PNG) + ``<name>.png`` matched by stem."""
    if (root / "images").is_dir() and (root / "masks").is_dir():
        images, masks = sorted((root / "images").iterdir()), root / "masks"
        images = [p for p in images if p.suffix.lower() in IMAGE_SUFFIXES]
    else:
        images = sorted(p for p in root.iterdir() if p.suffix.lower() in IMAGE_SUFFIXES and
                        p.suffix.lower() != ".png")
        masks = root
        if not images:
            raise DataError(f"{root}: expected images/ and masks/ folders, or a flat folder of "
                            f"<name>.jpg images with <name>.png masks")
    missing = [p.name for p in images if not (masks / f"{p.stem}.png").is_file()]
    if missing:
        raise DataError(f"{masks}: no <name>.png mask for {len(missing)} images: {missing[:5]}")
    return [(p, masks / f"{p.stem}.png") for p in images]


def fit_mask(mask: np.ndarray, image: np.ndarray, path) -> np.ndarray:
    """The mask at the image's size: resized by nearest neighbour (labels are not blended)
    when the aspect ratios agree (CelebAMask-HQ: 512x512 labels for 1024x1024 images),
    refused when they do not (a mask for another image, or a crop)."""
    (mh, mw), (ih, iw) = mask.shape, image.shape[:2]
    if (mh, mw) == (ih, iw):
        return mask
    if abs(mh * iw - ih * mw) > 0.01 * ih * mw:  # aspect ratios differ by more than 1 %
        raise DataError(f"{path}: mask is {mw}x{mh}, image {iw}x{ih}: the aspect ratios differ")
    return cv2.resize(mask, (iw, ih), interpolation=cv2.INTER_NEAREST)


def synthetic_pairs(list_path: Path) -> list[tuple[Path, Path]]:
    paths = read_list(list_path, 106)[0]
    return [(p, p.with_name(f"{p.stem}_seg.png")) for p in paths]


class SegmentationDataset(Dataset):
    """Image/mask pairs resized to ``img_size`` (masks with nearest neighbour), decoded and
    checked once up front."""

    def __init__(self, pairs, img_size: int, scheme: LabelScheme):
        self.img_size, self.scheme = img_size, scheme
        self.pairs = list(pairs)
        if not self.pairs:
            raise DataError("no image/mask pairs")
        images, masks, resized = [], [], 0
        for image_path, mask_path in tqdm(self.pairs, desc="decode masks", leave=False,
                                          disable=None):
            image = cv2.imread(str(image_path), cv2.IMREAD_COLOR)
            if image is None:
                raise DataError(f"{image_path}: cannot decode image")
            raw = read_mask(mask_path)
            check_mask(raw, scheme.num_classes, mask_path)
            mask = fit_mask(raw, image, mask_path)
            resized += mask is not raw
            size = (img_size, img_size)
            images.append(cv2.resize(image, size, interpolation=cv2.INTER_AREA))
            masks.append(cv2.resize(mask, size, interpolation=cv2.INTER_NEAREST))
        if resized:
            log.info("%d of %d masks resized to their image's size (nearest neighbour)",
                     resized, len(self.pairs))
        self.images = torch.from_numpy(np.stack(images).transpose(0, 3, 1, 2).copy())
        self.masks = torch.from_numpy(np.stack(masks))

    def __len__(self):
        return len(self.pairs)

    def __getitem__(self, index):
        return self.images[index].float() / 255.0, self.masks[index].long()


class MaskAugment:
    """Mirror (swapping left/right classes), rotation, scale and shift applied to image and
    mask alike; pixels shifted in from outside are ignored (255) in the mask."""

    def __init__(self, scheme: LabelScheme, rotate: float = 15.0, scale: float = 0.1,
                 shift: float = 0.05):
        self.flip = scheme.flip_lut()
        self.rotate, self.scale, self.shift = rotate, scale, shift

    def __call__(self, image: np.ndarray, mask: np.ndarray, rng: np.random.Generator):
        size = image.shape[0]
        mask = mask.astype(np.uint8)  # labels 0..18 and 255; cv2 warps uint8
        if rng.random() < 0.5:
            image, mask = image[:, ::-1], self.flip[mask[:, ::-1]]
        matrix, _ = random_affine(size, rng, self.rotate, self.scale, self.shift)
        # the image's border is reflected (no black frame to learn);
        # the mask's is ignored: reflected pixels have no true label
        image = cv2.warpAffine(np.ascontiguousarray(image), matrix, (size, size),
                               flags=cv2.INTER_LINEAR, borderMode=cv2.BORDER_REFLECT)
        mask = cv2.warpAffine(np.ascontiguousarray(mask), matrix, (size, size),
                              flags=cv2.INTER_NEAREST, borderValue=IGNORE)
        return image, mask


def split_pairs(pairs: list, seed: int, fractions=(0.8, 0.1)) -> dict[str, list]:
    """A seeded train/val/test split of a flat folder (each split at least one pair)."""
    if len(pairs) < 3:
        raise DataError(f"need at least 3 image/mask pairs to split, found {len(pairs)}")
    order = np.random.default_rng(seed).permutation(len(pairs))
    n_val = max(1, round(len(pairs) * fractions[1]))
    # leaves test at least n_val pairs: no split is empty, even for 3 pairs
    n_train = min(len(pairs) - 2 * n_val, max(1, round(len(pairs) * fractions[0])))
    picks = {"train": order[:n_train], "val": order[n_train:n_train + n_val],
             "test": order[n_train + n_val:]}
    return {split: [pairs[i] for i in sorted(idx)] for split, idx in picks.items()}


def _scheme_and_pairs(dataset: str, root: Path, num_classes: int, seed: int):
    if dataset not in SCHEMES:
        raise DataError(f"dataset {dataset!r} has no masks; segmentation reads "
                        f"{sorted(SCHEMES)}")
    scheme = SCHEMES[dataset]
    if num_classes != scheme.num_classes:
        raise DataError(f"{dataset} masks have {scheme.num_classes} classes, the model "
                        f"{num_classes}")
    if dataset == "synthetic":
        ensure_synthetic(root)
        pairs = {split: synthetic_pairs(root / f"{split}_data" / "list.txt")
                 for split in ("train", "val", "test")}
    else:
        if not root.is_dir():
            raise DataError(f"{root}: data root not found")
        reader = facesynthetics_pairs if dataset == "facesynthetics" else celebamask_pairs
        pairs = split_pairs(reader(root), seed)
    log.info("%s masks: %s", dataset, {k: len(v) for k, v in pairs.items()})
    return scheme, pairs


def segmentation_test(dataset: str, root: Path, img_size: int, num_classes: int,
                      seed: int = 0) -> SegmentationDataset:
    """The test split alone: evaluating a model need not decode the training masks."""
    scheme, pairs = _scheme_and_pairs(dataset, root, num_classes, seed)
    return SegmentationDataset(pairs["test"], img_size, scheme)


def segmentation_splits(dataset: str, root: Path, img_size: int, num_classes: int,
                        limit_train=None, limit_val=None, seed: int = 0,
                        augment: bool = False) -> dict:
    """``{"train", "val", "test"}`` segmentation datasets (test built lazily)."""
    scheme, pairs = _scheme_and_pairs(dataset, root, num_classes, seed)
    train = SegmentationDataset(pairs["train"][:limit_train], img_size, scheme)
    if augment:
        train = Augmented(train, MaskAugment(scheme), seed)
    return {"train": train,
            "val": SegmentationDataset(pairs["val"][:limit_val], img_size, scheme),
            "test": lambda: SegmentationDataset(pairs["test"], img_size, scheme)}
