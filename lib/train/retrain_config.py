"""Configuration of ``tools/retrain.py``."""
from __future__ import annotations

from dataclasses import dataclass

from ..data import DATASETS
from .config import option
from .device import parse_dev_id


@dataclass
class RetrainConfig:
    dev_id: str = option("auto", "device: 'cpu', 'auto' or a GPU id")
    snapshot: str = option("./ckpt_save", "checkpoint root; writes <snapshot>/<name>/")
    name: str = option("subnet", "run folder under --snapshot")
    supernet: str | None = option(None, "search checkpoint to inherit weights (and the derived "
                                        "architecture) from")
    arch: str | None = option(None, "architecture JSON (default: the one derived in --supernet)")
    from_scratch: bool = option(False, "random init instead of the supernet's weights (control)")
    resume: str | None = option(None, "subnet checkpoint to continue from")
    dataset: str = option("synthetic", "dataset format", choices=DATASETS)
    data_root: str | None = option(None, "dataset folder (default: data/<dataset>)")
    epochs: int = option(10, "epochs")
    batch_size: int = option(64, "batch size")
    lr: float = option(2e-3, "learning rate (Adam, cosine schedule)")
    wd: float = option(1e-6, "weight decay")
    seed: int = option(0, "random seed")
    augment: bool = option(False, "online augmentation of the training split (flip with the "
                                  "layout's pairs, rotation, scale/shift, colour, blur, occlusion)")
    limit_train: int | None = option(None, "use only the first N training samples")
    limit_val: int | None = option(None, "use only the first N validation samples")
    progress: bool = option(True, "show progress bars")

    def validate(self) -> None:
        parse_dev_id(self.dev_id)
        if not self.supernet and not self.arch and not self.resume:
            raise ValueError("give --supernet CKPT, --arch FILE --from_scratch, or --resume")
        if not self.supernet and not self.from_scratch and not self.resume:
            raise ValueError("inheriting weights needs --supernet; pass --from_scratch to "
                             "train --arch from random init")
        if self.epochs < 1 or self.batch_size < 1:
            raise ValueError("--epochs and --batch_size must be positive")
