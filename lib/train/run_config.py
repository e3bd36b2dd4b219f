"""Options every training tool shares: device, data, seed, limits, progress."""
from __future__ import annotations

from dataclasses import dataclass

from ..data import DATASETS
from .config import option
from .device import parse_dev_id


@dataclass
class RunOptions:
    dev_id: str = option("auto", "device: 'cpu', 'auto', a GPU id '0' (multi-device '0,1' "
                                 "parses; it needs the distributed trainer)")
    dataset: str = option("synthetic", "synthetic (embedded faces: landmarks and masks), jd106 "
                                       "(a prepared list.txt folder), facesynthetics or "
                                       "celebamask (face-parsing folders)", choices=DATASETS)
    data_root: str | None = option(None, "dataset folder (default: data/<dataset>)")
    seed: int = option(0, "random seed")
    augment: bool = option(False, "online augmentation of the training split (flip with the "
                                  "layout's pairs, rotation, scale/shift, colour, blur, occlusion)")
    limit_train: int | None = option(None, "use only the first N training samples")
    limit_val: int | None = option(None, "use only the first N validation samples")
    progress: bool = option(True, "show progress bars")

    def validate(self) -> None:
        parse_dev_id(self.dev_id)
        for name in ("limit_train", "limit_val"):
            if getattr(self, name) is not None and getattr(self, name) < 1:
                raise ValueError(f"--{name} must be positive")
