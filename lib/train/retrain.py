"""Finetune a subnet: weights inherited strictly from the supernet (or random init with
``--from_scratch``); the task's validation metric picks ``checkpoint_best.pth``."""
from __future__ import annotations

import logging
from pathlib import Path

import torch

from ..config import RetrainConfig
from ..spaces import load_arch, short_kwargs, validate_arch
from ..supernet import build_subnet, inherited_subnet
from .batches import Batches, shard_loader
from .checkpoint import CheckpointError, load_checkpoint
from .distributed import Dist, distributed
from .loop import Trainer
from .models import load_strict, supernet_from_checkpoint
from .results import RetrainResult
from .show import log_faces
from .tasks import make_task

log = logging.getLogger(__name__)


def resolve_arch(cfg: RetrainConfig) -> tuple[dict, torch.nn.Module]:
    """The architecture and its model, initialised as the flags ask."""
    supernet = ckpt = None
    if cfg.supernet:
        supernet, ckpt = supernet_from_checkpoint(cfg.supernet)
    arch = load_arch(cfg.arch) if cfg.arch else validate_arch(ckpt["arch"], str(cfg.supernet))
    if cfg.space_kwargs:
        arch = validate_arch({**arch, "space_kwargs": {**arch.get("space_kwargs", {}),
                                                       **cfg.space_kwargs}}, str(cfg.arch))
    if cfg.from_scratch:
        return arch, build_subnet(arch)
    # both canonical (validate_arch, Supernet): equal kwargs are the same instance
    if (arch["space"], arch["space_kwargs"]) != (supernet.space, supernet.space_kwargs):
        raise CheckpointError(f"{cfg.supernet}: supernet is {supernet.space} "
                              f"{short_kwargs(supernet.space, supernet.space_kwargs)}, the "
                              f"architecture is {arch['space']} "
                              f"{short_kwargs(arch['space'], arch['space_kwargs'])}")
    model = inherited_subnet(supernet, arch)
    log.info("inherited weights from %s", cfg.supernet)
    return arch, model


class Retrainer(Trainer):
    kind = "subnet"
    desc = "retrain"

    def __init__(self, cfg: RetrainConfig, dist: Dist):
        super().__init__(cfg, dist, Path(cfg.snapshot) / cfg.name)
        path = self.resume_path()
        ckpt = load_checkpoint(path, kind=self.kind) if path else None
        # a resumed run trains the checkpoint's architecture; its weights come in restore()
        if ckpt:
            self.arch = validate_arch(ckpt["arch"], str(path))
            self.model = build_subnet(self.arch)
        else:
            self.arch, self.model = resolve_arch(cfg)
        self.precision.prepare(self.model.to(self.device))
        self.task = make_task(self.arch["space"], self.arch.get("space_kwargs", {}), cfg.dataset,
                              cfg.data_root)
        splits = self.splits(self.task)
        self.batches = Batches(splits["train"], cfg.batch_size, dist, cfg.seed,
                               workers=self.workers)
        self.val_loader = shard_loader(splits["val"], cfg.batch_size, dist)
        self.opt = torch.optim.Adam(self.model.parameters(), cfg.lr, weight_decay=cfg.wd)
        # stepped per batch over the whole run, so a resumed run continues the same curve
        self.sched = torch.optim.lr_scheduler.CosineAnnealingLR(
            self.opt, cfg.epochs * len(self.batches))
        # the learning curve: per epoch the mean training loss and the validation metrics;
        # the running sum is checkpointed too, so a resume mid-epoch keeps the epoch's mean
        self.history, self.loss_sum = [], 0.0
        if ckpt:
            self.restore(ckpt, path)
        # a fixed subnet uses every parameter each step: DDP needs no search for unused ones
        self.net = dist.wrap(self.model, cfg.sync_bn, find_unused=False)

    def restore(self, ckpt: dict, path) -> None:
        if self.cfg.arch and load_arch(self.cfg.arch)["choices"] != self.arch["choices"]:
            raise CheckpointError(f"{path}: trains another architecture than {self.cfg.arch}")
        self.check_config(ckpt, path)
        load_strict(self.model, ckpt["model"], path)
        self.opt.load_state_dict(ckpt["opt"])
        self.sched.load_state_dict(ckpt["sched"])
        self.precision.load_state_dict(ckpt.get("scaler"))
        self.history, self.loss_sum = ckpt.get("history", []), ckpt.get("loss_sum", 0.0)
        self.load_position(ckpt, path)

    def state(self) -> dict:
        return dict(arch=self.arch, model=self.model.state_dict(), opt=self.opt.state_dict(),
                    sched=self.sched.state_dict(), scaler=self.precision.state_dict(),
                    history=self.history, loss_sum=self.loss_sum)

    def train_batch(self, batch, writer) -> dict:
        with self.precision.autocast():
            loss = self.task.loss(self.net, batch)
        value = self.finite(loss, "training")
        if value is not None:
            self.precision.step(loss, self.opt)
            writer.add_scalar("train/loss", value, self.step)
            self.loss_sum += value
        # stepped even for a skipped batch: the schedule
        # stays tied to the batch count a resume restores
        self.sched.step()
        return {"loss": f"{value:.4f}" if value is not None else "skipped"}

    def evaluate(self) -> dict:
        return self.task.evaluate(self.model, self.val_loader, self.device, self.dist.sum)

    def end_epoch(self, writer) -> None:
        metrics = self.evaluate()
        for name, value in metrics.items():
            writer.add_scalar(f"val/{name}", value, self.epoch)
        log_faces(writer, self.model, self.val_loader, self.task, self.device,
                  self.epoch)
        self.history.append({"epoch": self.epoch, "train_loss": self.loss_sum / len(self.batches),
                             "val": metrics})
        self.loss_sum = 0.0
        self.keep(metrics)

    def run(self) -> RetrainResult:
        writer = self.writer()
        if self.step == 0:  # the starting point: inherited weights score well before training
            log.info("before retraining: val %s %.4f", self.task.metric,
                     self.evaluate()[self.task.metric])
        self.train(writer)
        writer.close()
        return RetrainResult(self.arch, self.task.metric, self.best, self.out_dir, self.history)


def run_retrain(cfg: RetrainConfig) -> RetrainResult:
    with distributed(cfg) as dist:
        return Retrainer(cfg, dist).run()
