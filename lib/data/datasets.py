"""Dataset factory: ``--dataset`` + ``--data_root`` -> train / val / test datasets."""
from __future__ import annotations

import json
import logging
from pathlib import Path

import torch
from torch.utils.data import Subset

from .augment import Augmented, LandmarkAugment
from .formats import DataError
from .landmark_list import LandmarkListDataset
from .layouts import Layout, get_layout
from .synthetic import ensure_synthetic

log = logging.getLogger(__name__)
LANDMARK_DATASETS = ("synthetic", "jd106")  # jd106: any prepared list.txt folder
MASK_DATASETS = ("synthetic", "facesynthetics", "celebamask")  # see segmentation.py
DATASETS = ("synthetic", "jd106", "facesynthetics", "celebamask")
# data/ sits in the repository, whatever the working directory
REPO = Path(__file__).resolve().parents[2]


def default_data_root(dataset: str) -> Path:
    return REPO / "data" / dataset


def dataset_layout(dataset: str, data_root, num_points: int) -> Layout:
    """The layout named in a prepared folder's meta.json, else the dataset's own."""
    root = Path(data_root) if data_root else default_data_root(dataset)
    meta = root / "meta.json"
    name = json.loads(meta.read_text()).get("layout", dataset) if meta.is_file() else dataset
    return get_layout(name, num_points)


def _landmark_root(dataset: str, data_root, num_points: int) -> Path:
    if dataset not in LANDMARK_DATASETS:
        hint = (" (raw Face Synthetics landmarks: tools/prepare_data.py --dataset "
                "facesynthetics, then --dataset jd106)" if dataset == "facesynthetics" else "")
        raise DataError(f"dataset {dataset!r} has no landmark lists; landmark models read "
                        f"{list(LANDMARK_DATASETS)}{hint}")
    root = Path(data_root) if data_root else default_data_root(dataset)
    if dataset == "synthetic":
        if num_points != 106:
            raise DataError("the synthetic dataset has 106 points; use --num_points 106")
        ensure_synthetic(root)
    if not root.is_dir():
        raise DataError(f"{root}: data root not found")
    return root


def landmark_test(dataset: str, data_root, num_points: int, img_size: int):
    """The test split alone (None without a ``test_data`` list): evaluating a model need not
    decode the training set."""
    path = _landmark_root(dataset, data_root, num_points) / "test_data" / "list.txt"
    return LandmarkListDataset(path, num_points, img_size) if path.is_file() else None


def landmark_splits(dataset: str, data_root, num_points: int, img_size: int,
                    limit_train: int | None = None, limit_val: int | None = None,
                    seed: int = 0, augment: bool = False) -> dict:
    """``{"train", "val", "test"}`` datasets. Without a ``val_data`` folder, 10% of the
    training list (seeded) becomes the validation split, so test stays untouched."""
    root = _landmark_root(dataset, data_root, num_points)

    def load(split, limit=None):
        return LandmarkListDataset(root / f"{split}_data" / "list.txt", num_points, img_size,
                                   limit)

    train = load("train", limit_train)
    if (root / "val_data" / "list.txt").is_file():
        val = load("val", limit_val)
    else:
        order = torch.randperm(len(train), generator=torch.Generator().manual_seed(seed))
        # a seeded 10 % (at least one sample): the same seed holds out the same samples, so
        # a resumed run validates on the same split; test stays for the final evaluation
        n_val = max(1, len(train) // 10)
        log.info("%s has no val_data: holding out %d training samples for validation", root,
                 n_val)
        val = Subset(train, order[:n_val][:limit_val].tolist())
        train = Subset(train, order[n_val:].tolist())
    if augment:
        # training only: validation and test score the images as stored
        train = Augmented(train, LandmarkAugment(dataset_layout(dataset, root, num_points)),
                          seed)
    # a loader, not a dataset: the test images are decoded
    # only when the final evaluation asks for them
    test = (lambda: load("test")) if (root / "test_data" / "list.txt").is_file() else None
    return {"train": train, "val": val, "test": test}
