"""Finetune a subnet: weights inherited strictly from the supernet (or random init with
``--from_scratch``); the task's validation metric picks ``checkpoint_best.pth``."""
from __future__ import annotations

import logging
from dataclasses import dataclass
from pathlib import Path

import torch
from torch.utils.data import DataLoader
from tqdm import tqdm

from ..spaces import jsonable, load_arch, validate_arch
from ..supernet import build_subnet, inherited_subnet
from .checkpoint import CheckpointError, load_checkpoint, save_checkpoint, set_rng_state
from .config import to_dict
from .device import resolve_device, seed_everything
from .models import subnet_from_checkpoint, supernet_from_checkpoint
from .retrain_config import RetrainConfig
from .tasks import make_task

log = logging.getLogger(__name__)


@dataclass
class RetrainResult:
    arch: dict
    metric: str
    best: float
    out_dir: Path


def resolve_arch(cfg: RetrainConfig) -> tuple[dict, torch.nn.Module]:
    """The architecture and its model, initialised as the flags ask."""
    supernet = ckpt = None
    if cfg.supernet:
        supernet, ckpt = supernet_from_checkpoint(cfg.supernet)
    arch = load_arch(cfg.arch) if cfg.arch else ckpt["arch"]
    if cfg.space_kwargs:
        arch = validate_arch({**arch, "space_kwargs": {**arch.get("space_kwargs", {}),
                                                       **cfg.space_kwargs}}, str(cfg.arch))
    if cfg.from_scratch:
        return arch, build_subnet(arch)
    same = (arch["space"], jsonable(arch.get("space_kwargs", {}))) == \
        (ckpt["space"], jsonable(ckpt["space_kwargs"]))
    if not same:
        raise CheckpointError(f"{cfg.supernet}: supernet is {ckpt['space']} "
                              f"{ckpt['space_kwargs']}, the architecture is "
                              f"{arch['space']} {arch.get('space_kwargs')}")
    model = inherited_subnet(supernet, arch)
    log.info("inherited weights from %s", cfg.supernet)
    return arch, model


class Retrainer:
    def __init__(self, cfg: RetrainConfig):
        self.cfg = cfg
        seed_everything(cfg.seed)
        self.device = resolve_device(cfg.dev_id)
        resumed = load_checkpoint(cfg.resume, kind="subnet") if cfg.resume else None
        if resumed:
            self.model, self.arch, _ = subnet_from_checkpoint(cfg.resume, resumed)
        else:
            self.arch, self.model = resolve_arch(cfg)
        self.model.to(self.device)
        self.task = make_task(self.arch["space"], self.arch.get("space_kwargs", {}), cfg.dataset,
                              cfg.data_root)
        splits = self.task.splits(cfg.limit_train, cfg.limit_val, cfg.seed, cfg.augment)
        self.train_loader = DataLoader(splits["train"], cfg.batch_size, shuffle=True,
                                       drop_last=len(splits["train"]) > cfg.batch_size,
                                       generator=torch.Generator().manual_seed(cfg.seed))
        self.val_loader = DataLoader(splits["val"], cfg.batch_size)
        self.opt = torch.optim.Adam(self.model.parameters(), cfg.lr, weight_decay=cfg.wd)
        self.sched = torch.optim.lr_scheduler.CosineAnnealingLR(
            self.opt, cfg.epochs * len(self.train_loader))
        self.out_dir = Path(cfg.snapshot) / cfg.name
        self.epoch, self.step, self.best = 0, 0, None
        if resumed:
            self.opt.load_state_dict(resumed["opt"])
            self.sched.load_state_dict(resumed["sched"])
            self.epoch, self.step, self.best = resumed["epoch"], resumed["step"], resumed["best"]
            set_rng_state(resumed["rng"])
            log.info("resumed %s at epoch %d", cfg.resume, self.epoch)

    def run(self) -> RetrainResult:
        from torch.utils.tensorboard import SummaryWriter

        cfg = self.cfg
        writer = SummaryWriter(str(self.out_dir / "tensorboard"))
        start = self.epoch
        if start == 0:  # the starting point: inherited weights score well before training
            metrics = self.task.evaluate(self.model, self.val_loader, self.device)
            log.info("before retraining: val %s %.4f", self.task.metric,
                     metrics[self.task.metric])
        for epoch in range(start, cfg.epochs):
            self.model.train()
            bar = tqdm(self.train_loader, desc=f"retrain {epoch + 1}/{cfg.epochs}",
                       disable=not cfg.progress)
            for batch in bar:
                loss = self.task.loss(self.model, [t.to(self.device) for t in batch])
                self.opt.zero_grad(set_to_none=True)
                loss.backward()
                self.opt.step()
                self.sched.step()
                writer.add_scalar("train/loss", loss.item(), self.step)
                bar.set_postfix(loss=f"{loss.item():.4f}")
                self.step += 1
            self.epoch = epoch + 1
            metrics = self.task.evaluate(self.model, self.val_loader, self.device)
            for name, value in metrics.items():
                writer.add_scalar(f"val/{name}", value, self.epoch)
            score = metrics[self.task.metric]
            improved = self.task.better(score, self.best)
            self.best = score if improved else self.best
            log.info("retrain epoch %d: val %s %.4f%s", self.epoch, self.task.metric, score,
                     " (best)" if improved else "")
            state = dict(kind="subnet", arch=self.arch, model=self.model.state_dict(),
                         opt=self.opt.state_dict(), sched=self.sched.state_dict(),
                         epoch=self.epoch, step=self.step, best=self.best, metrics=metrics,
                         config=to_dict(cfg))
            save_checkpoint(self.out_dir / "checkpoint_last.pth", **state)
            if improved:
                save_checkpoint(self.out_dir / "checkpoint_best.pth", **state)
        writer.close()
        return RetrainResult(self.arch, self.task.metric, self.best, self.out_dir)


def run_retrain(cfg: RetrainConfig) -> RetrainResult:
    return Retrainer(cfg).run()
