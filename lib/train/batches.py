"""Batches a run can restart at any point: one rank's shard, reshuffled for every pass from
``seed + pass`` (torch's DistributedSampler), so (pass, batch) names the same batch in the
first run and in a resumed one, and the ranks together see what one process would. The loader
asks for ``(pass, index)``, so an augmented dataset draws from that key alone (data.augment:
``Augmented``): the batches are the same whatever the number of loader workers."""
from __future__ import annotations

import math
import signal
from collections.abc import Iterator

import torch
from torch.utils.data import BatchSampler, DataLoader, Dataset, Subset
from torch.utils.data.distributed import DistributedSampler

from ..data.augment import Augmented
from .distributed import Dist


def fetch(dataset, index: int, draw: int):
    """Sample ``index`` of ``dataset`` as pass ``draw`` sees it: through the subsets down to
    an augmented view, which seeds its draw with the pass."""
    while isinstance(dataset, Subset):
        dataset, index = dataset.dataset, dataset.indices[index]
    return dataset.item(index, draw) if isinstance(dataset, Augmented) else dataset[index]


class _Keyed(Dataset):
    """The dataset as the loader reads it: keys are ``(pass, index)``."""

    def __init__(self, dataset):
        self.dataset = dataset

    def __len__(self):
        return len(self.dataset)

    def __getitem__(self, key):
        draw, index = key
        return fetch(self.dataset, index, draw)


def _loader(dataset, batches, workers: int = 0, pin: bool = False) -> DataLoader:
    # a private generator: creating the iterator must not draw from the global RNG, whose
    # state the checkpoint restores. Workers persist across passes: starting them for every
    # pass cost 0.17 s here, more than a small pass's batches (and doubled the test suite).
    # ``pin``: batches in page-locked memory, so their copies to a GPU run asynchronously
    return DataLoader(_Keyed(dataset), batch_sampler=batches, num_workers=workers,
                      persistent_workers=workers > 0, generator=torch.Generator(),
                      worker_init_fn=_ignore_stop_signals if workers else None, pin_memory=pin)


def to_device(batch, device: torch.device) -> list:
    """A batch's tensors on ``device``. Non-blocking: from pinned memory the copy overlaps the
    host's work, and the step's kernels queue behind it on the same stream."""
    return [t.to(device, non_blocking=True) for t in batch]


def _ignore_stop_signals(_worker_id: int) -> None:
    # Ctrl-C and a group SIGTERM reach the loader workers too: they must keep serving
    # batches while the training process finishes its step and saves its checkpoint
    signal.signal(signal.SIGINT, signal.SIG_IGN)
    signal.signal(signal.SIGTERM, signal.SIG_IGN)


class _PassBatches:
    """The batch sampler a loader keeps for its whole life; ``Batches.epoch`` sets the pass."""

    def __init__(self):
        self.batches = []

    def __iter__(self):
        return iter(self.batches)

    def __len__(self):
        return len(self.batches)


class Batches:
    """One pass at a time: a new ``epoch()`` iterator ends the previous one (their workers are
    shared)."""

    def __init__(self, dataset, batch_size: int, dist: Dist, seed: int, drop_last: bool = True,
                 workers: int = 0):
        self.dataset, self.workers = dataset, workers
        self.sampler = DistributedSampler(dataset, dist.world, dist.rank, shuffle=True, seed=seed)
        self.batch_size = batch_size
        # a shard smaller than a batch keeps its partial batch: dropping it would leave none
        self.drop_last = drop_last and len(self.sampler) > batch_size
        self.pass_batches = _PassBatches()
        self.loader = _loader(dataset, self.pass_batches, workers, dist.device.type == "cuda")

    def __len__(self) -> int:
        n = len(self.sampler)
        return n // self.batch_size if self.drop_last else math.ceil(n / self.batch_size)

    def epoch(self, index: int, skip: int = 0) -> Iterator:
        """The batches of pass ``index``, from batch ``skip`` on."""
        self.sampler.set_epoch(index)
        # the whole pass is fixed by (seed, pass) before a batch is drawn, so
        # skipping ``skip`` batches lands exactly where the interrupted run stopped
        batches = [[(index, i) for i in batch] for batch in
                   BatchSampler(list(self.sampler), self.batch_size, self.drop_last)]
        self.pass_batches.batches = batches[skip:]
        return iter(self.loader)

    def forever(self, start: int = 0) -> Iterator:
        """Batch ``start``, ``start + 1``, ... counted across passes."""
        index, skip = divmod(start, len(self))
        while True:
            yield from self.epoch(index, skip)
            index, skip = index + 1, 0


def shard_loader(dataset, batch_size: int, dist: Dist) -> DataLoader:
    """Every ``world``-th sample from ``rank`` on, in order and unpadded: per-rank evaluation
    whose summed counts equal one pass over the whole split."""
    shard = Subset(dataset, range(dist.rank, len(dataset), dist.world))
    return _loader(shard, [[(0, i) for i in batch]
                           for batch in BatchSampler(range(len(shard)), batch_size, False)],
                   pin=dist.device.type == "cuda")


def split_theta(train, fraction: float, seed: int):
    """Disjoint (weight part, θ part) of the training set, seeded."""
    order = torch.randperm(len(train), generator=torch.Generator().manual_seed(seed)).tolist()
    # FBNet trains θ on a held-out 20 % of the training set
    # (REFERENCE.md); at least one sample, so θ always has a batch
    n_theta = max(1, int(round(len(train) * fraction)))
    return Subset(train, order[n_theta:]), Subset(train, order[:n_theta])
