"""Options the training tools (search, retrain) share: devices and workers, data, seed,
limits, progress, resuming and guard rails."""
from __future__ import annotations

from dataclasses import dataclass

import torch

from ..data import DATASETS
from .core import chain_validate, option

AMP_MODES = ("off", "bf16", "fp16")


def parse_dev_id(dev_id: str) -> list[str]:
    """``cpu`` | ``auto`` | ``0`` | ``0,1`` -> torch device strings."""
    text = str(dev_id).strip().lower()
    if text == "cpu":
        return ["cpu"]
    if text == "auto":
        return ["cuda:0" if torch.cuda.is_available() else "cpu"]
    try:
        ids = [int(part) for part in text.split(",")]
    except ValueError:
        raise ValueError(f"--dev_id must be 'cpu', 'auto' or GPU ids like '0,1', got {dev_id!r}") \
            from None
    if len(set(ids)) != len(ids) or min(ids) < 0:
        raise ValueError(f"--dev_id {dev_id!r}: ids must be distinct and non-negative")
    return [f"cuda:{i}" for i in ids]


@dataclass
class RunOptions:
    dev_id: str = option("auto", "device: 'cpu', 'auto', a GPU id '0', or GPU ids '0,1' for "
                                 "one DDP worker (NCCL) per GPU")
    nproc: int = option(1, "worker processes with --dev_id cpu (DDP over gloo); GPUs get one "
                           "worker per id. Under torchrun its own flags decide")
    dataset: str = option("synthetic", "synthetic (embedded faces: landmarks and masks), jd106 "
                                       "(a prepared list.txt folder), facesynthetics or "
                                       "celebamask (face-parsing folders)", choices=DATASETS)
    data_root: str | None = option(None, "dataset folder (default: data/<dataset>)")
    seed: int = option(0, "random seed")
    deterministic: bool = option(False, "deterministic kernels (with --seed: bit-identical "
                                        "runs on CPU; slower on GPU)")
    batch_size: int = option(64, "batch size per device (worker); the global batch is this x "
                                 "the number of workers")
    workers: int | None = option(None, "data loader processes per training process, decoding "
                                       "and augmenting ahead of the step (default: the cores "
                                       "the training processes leave, at most 4); any number "
                                       "gives the same batches")
    augment: bool = option(False, "online augmentation of the training split (flip with the "
                                  "layout's pairs, rotation, scale/shift, colour, blur, occlusion)")
    limit_train: int | None = option(None, "use only the first N training samples")
    limit_val: int | None = option(None, "use only the first N validation samples")
    progress: bool = option(True, "show progress bars")
    resume: str | None = option(None, "checkpoint to continue from (weights, optimizers, "
                                      "schedule, epoch and batch, temperature, RNG, best)")
    auto_resume: bool = option(False, "continue from the run folder's checkpoint_last.pth "
                                      "when there is one")
    save_every: int = option(0, "also write checkpoint_last.pth every N steps (0: at the end "
                                "of each epoch, and when SIGTERM/SIGINT stop the run)")
    skip_nonfinite: bool = option(False, "skip (and count) a step whose loss is NaN/Inf "
                                         "instead of stopping")
    amp: str = option("off", "mixed precision of the training forward: bf16, fp16 (with a "
                             "loss scaler) or off; weights, θ and exports stay float32",
                      choices=AMP_MODES)
    channels_last: bool = option(False, "channels-last memory for model and images (faster "
                                        "convolutions on recent GPUs with --amp)")
    sync_bn: bool = option(True, "with several workers, BatchNorm uses the statistics of the "
                                 "global batch (the run trains what one device would)")

    def validate(self) -> None:
        parse_dev_id(self.dev_id)
        if self.nproc < 1:
            raise ValueError("--nproc must be positive")
        if self.batch_size < 1:
            raise ValueError("--batch_size must be positive")
        if self.workers is not None and self.workers < 0:
            raise ValueError("--workers must be 0 or more")
        if self.save_every < 0:
            raise ValueError("--save_every must be >= 0")
        for name in ("limit_train", "limit_val"):
            if getattr(self, name) is not None and getattr(self, name) < 1:
                raise ValueError(f"--{name} must be positive")
        chain_validate(super())
