"""The epoch loop the search and the retrain share: a position a run can resume at (epoch,
batch in the epoch, step), stopping cleanly on SIGTERM/SIGINT, the non-finite loss guard,
best-metric tracking and rank-0 checkpoints."""
from __future__ import annotations

import logging
import math
import os
import signal
import threading
import time
from pathlib import Path

from tqdm import tqdm

from .batches import to_device
from .checkpoint import CheckpointError, rng_state, save_checkpoint, set_rng_state
from ..config import to_dict
from .device import seed_everything
from .distributed import Dist, Interrupted
from .precision import Precision

log = logging.getLogger(__name__)
LAST, BEST = "checkpoint_last.pth", "checkpoint_best.pth"
# flags that may change between a run and its resumption
RESUMABLE = {"resume", "auto_resume", "progress", "dev_id", "nproc", "save_every",
             "skip_nonfinite", "workers"}
# how the batches' augmentation is drawn: from (seed, pass, index) alone (lib/data/augment.py).
# Checkpoints from before 2026-12-02 lack the mark and drew it from one stream per process (the
# few written that day between the change and the mark lack it too, and are keyed).
DRAWS = "keyed by (seed, pass, index)"


class NonFiniteLoss(ValueError):
    pass


class StopSignals:
    """SIGTERM and SIGINT ask the loop to stop at the next step boundary, after a checkpoint;
    a second signal, a second or more later, stops at once. (Ctrl-C reaches a worker twice
    within milliseconds: from the terminal and forwarded by the launcher.)"""

    def __enter__(self):
        self.signum, self.since, self.previous = None, 0.0, {}
        if threading.current_thread() is threading.main_thread():  # the only place allowed
            for sig in (signal.SIGTERM, signal.SIGINT):
                self.previous[sig] = signal.signal(sig, self._handle)
        return self

    def _handle(self, signum, frame):
        if self.signum is not None:
            if time.monotonic() - self.since > 1.0:
                raise KeyboardInterrupt
            return
        self.signum, self.since = signum, time.monotonic()
        log.warning("%s: saving a checkpoint after this step, then stopping (send it again to "
                    "stop at once)", signal.Signals(signum).name)

    def __exit__(self, *exc):
        for sig, handler in self.previous.items():
            signal.signal(sig, handler)


def loader_workers(asked: int | None, processes: int) -> int:
    """``--workers``, or by default the cores left over: each training process on this node
    keeps two cores for its step's threads, the rest loads ahead, at most 4 per process. On 2
    cores that is 0: measured there, loader workers took the step's cores and gained nothing
    (PFLD, batch 64: 78 images/s without workers, 75 with one; README: Input pipeline)."""
    if asked is not None:
        return asked
    processes = int(os.environ.get("LOCAL_WORLD_SIZE", processes))  # torchrun: this node's
    spare = (os.cpu_count() or 1) - 2 * processes
    return max(0, min(4, spare // processes))


class _Silent:
    """The TensorBoard writer of ranks other than 0: they write nothing."""

    def __getattr__(self, name):
        return lambda *args, **kwargs: None


class Trainer:
    """Subclasses set ``kind``, ``task``, ``batches`` (the epoch's :class:`Batches`) and
    implement ``train_batch``, ``end_epoch``, ``state`` and ``restore``; their ``__init__``
    builds model and optimisers, then calls ``restore`` when ``resume_path()`` names a
    checkpoint. ``search.py`` and ``retrain.py`` each read top to bottom: setup, restore, one
    training step, the end of an epoch."""
    kind = ""
    desc = "epoch"

    def __init__(self, cfg, dist: Dist, out_dir: Path):
        self.cfg, self.dist, self.out_dir = cfg, dist, Path(out_dir)
        self.device = dist.device
        # the global RNGs, per rank: weight initialisation draws from them; augmentation and
        # Gumbel noise have their own seeded streams
        seed_everything(cfg.seed + dist.rank)
        self.epoch = self.batch = self.step = self.skipped = 0  # epochs done, batches done
        self.best, self.metrics = None, {}
        self.workers = loader_workers(cfg.workers, dist.world)
        self.precision = Precision(cfg.amp, cfg.channels_last, self.device)

    # -- hooks --------------------------------------------------------------------------------
    def train_batch(self, batch, writer) -> dict:
        """One training step; returns the progress-bar postfix."""
        raise NotImplementedError

    def end_epoch(self, writer) -> None:
        raise NotImplementedError

    def state(self) -> dict:
        """What the checkpoint holds besides the position, RNG and config."""
        raise NotImplementedError

    def restore(self, ckpt: dict, path) -> None:
        """The inverse of ``state``, then ``load_position``."""
        raise NotImplementedError

    def splits(self, task) -> dict:
        """The task's data splits; rank 0 first, since it generates the synthetic faces on
        first use."""
        cfg = self.cfg
        with self.dist.main_first():
            return task.splits(cfg.limit_train, cfg.limit_val, cfg.seed, cfg.augment)

    # -- resuming -----------------------------------------------------------------------------
    def resume_path(self) -> Path | None:
        if self.cfg.resume:
            return Path(self.cfg.resume)
        last = self.out_dir / LAST
        return last if self.cfg.auto_resume and last.is_file() else None

    def check_config(self, ckpt: dict, path, **same) -> None:
        """Refuse a checkpoint whose ``same`` fields differ from this run's; warn about other
        changed flags."""
        for name, value in same.items():
            if ckpt.get(name) != value:
                raise CheckpointError(f"{path}: checkpoint has {name} {ckpt.get(name)!r}, this "
                                      f"run {value!r}")
        old, new = ckpt.get("config", {}), to_dict(self.cfg)
        changed = sorted(k for k in new if k in old and old[k] != new[k] and k not in RESUMABLE)
        if changed:
            log.warning("resuming with changed flags %s (the run is no longer the one that "
                        "wrote %s)", ", ".join(f"--{k}" for k in changed), path)

    def load_position(self, ckpt: dict, path) -> None:
        self.epoch, self.batch, self.step = ckpt["epoch"], ckpt.get("batch", 0), ckpt["step"]
        self.best, self.metrics = ckpt.get("best"), ckpt.get("metrics", {})
        self.skipped = ckpt.get("nonfinite_skipped", 0)
        if self.cfg.augment and ckpt.get("draws") != DRAWS and self.epoch < self.cfg.epochs:
            log.warning("%s has no mark of augmentation keyed by (pass, index): if it was "
                        "written before 2026-12-02, this resume augments its batches "
                        "differently from the run that wrote it", path)
        states = ckpt.get("rng_ranks") or [ckpt["rng"]]
        if len(states) == self.dist.world:
            set_rng_state(states[self.dist.rank])
        else:
            log.warning("%s was written by %d workers, this run has %d: the global RNG "
                        "streams (not augmentation's) differ from the original run", path,
                        len(states), self.dist.world)
        log.info("resumed %s at epoch %d, batch %d (step %d)", path, self.epoch + 1, self.batch,
                 self.step)

    # -- checkpoints --------------------------------------------------------------------------
    def save(self, *names: str) -> None:
        """Write the run's state (rank 0; every rank contributes its RNG state)."""
        # a collective: every rank must reach save() at the same step, not only rank 0
        states = self.dist.gather(rng_state())
        if self.dist.main:
            payload = dict(kind=self.kind, epoch=self.epoch, batch=self.batch, step=self.step,
                           best=self.best, metrics=self.metrics, nonfinite_skipped=self.skipped,
                           world=self.dist.world, rng_ranks=states, draws=DRAWS,
                           config=to_dict(self.cfg),
                           **self.state())
            for name in names:
                save_checkpoint(self.out_dir / name, **payload)
        # no rank runs ahead while rank 0 is still writing
        self.dist.barrier()

    def keep(self, metrics: dict, note: str = "", rank: bool = True) -> bool:
        """Best tracking, the epoch's log line and its checkpoints; True when it improved.
        ``rank=False``: an epoch that may not become the best (a search's warm-up)."""
        self.metrics = metrics
        score = metrics[self.task.metric]
        improved = rank and self.task.better(score, self.best)
        self.best = score if improved else self.best
        log.info("%s %d: val %s %.4f%s%s", self.desc, self.epoch, self.task.metric, score,
                 " (best)" if improved else "", note)
        self.save(LAST, *([BEST] if improved else []))
        return improved

    # -- the loop -----------------------------------------------------------------------------
    def finite(self, loss, what: str) -> float | None:
        """The loss's mean over ranks, or None when it is NaN/Inf on some rank and
        ``--skip_nonfinite`` skips the step (counted); else stop, naming the step."""
        # the mean over ranks: every rank then makes the same skip-or-step
        # decision, so no rank waits in DDP's all-reduce for one that skipped
        value = self.dist.mean(loss)
        if math.isfinite(value):
            return value
        where = f"step {self.step} (epoch {self.epoch + 1}, batch {self.batch + 1})"
        if not self.cfg.skip_nonfinite:
            raise NonFiniteLoss(f"{what} loss is {value} at {where}; lower the learning rate, "
                                "check the data, or pass --skip_nonfinite to skip such steps")
        self.skipped += 1
        log.warning("%s loss is %s at %s: step skipped (%d so far)", what, value, where,
                    self.skipped)
        return None

    def writer(self):
        if not self.dist.main:
            return _Silent()
        from torch.utils.tensorboard import SummaryWriter

        # a resumed run drops what the interrupted one logged after its checkpoint
        return SummaryWriter(str(self.out_dir / "tensorboard"), purge_step=self.step or None)

    def train(self, writer) -> None:
        with StopSignals() as stop:
            while self.epoch < self.cfg.epochs:
                self.run_epoch(writer, stop)
                self.epoch, self.batch = self.epoch + 1, 0
                self.end_epoch(writer)
        if self.skipped:
            log.warning("%d steps skipped for a non-finite loss", self.skipped)

    def run_epoch(self, writer, stop: StopSignals) -> None:
        total = len(self.batches)
        batches = self.batches.epoch(self.epoch, self.batch)
        bar = tqdm(total=total, initial=self.batch, desc=f"{self.desc} {self.epoch + 1}/"
                   f"{self.cfg.epochs}", disable=not (self.cfg.progress and self.dist.main))
        while self.batch < total:
            # before the batch is drawn: a resumed run draws it with the same RNG state
            # any rank's signal stops them all: a rank leaving
            # alone would hang the others in the next collective
            if self.dist.any(stop.signum is not None):
                self.save(LAST)
                bar.close()
                signum = stop.signum or signal.SIGTERM
                raise Interrupted(signum, f"stopped by {signal.Signals(signum).name} at epoch "
                                  f"{self.epoch + 1}, batch {self.batch}; saved "
                                  f"{self.out_dir / LAST} (resume with --auto_resume)")
            batch = self.precision.inputs(to_device(next(batches), self.device))
            bar.set_postfix(self.train_batch(batch, writer))
            self.batch += 1
            self.step += 1
            bar.update()
            if self.cfg.save_every and self.step % self.cfg.save_every == 0:
                self.save(LAST)
        bar.close()
