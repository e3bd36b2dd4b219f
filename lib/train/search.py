"""The search loop: warm-up epochs train weights only; then every weight step on the
training part is followed by one θ step on the held-out part of the *training* set.
The task's validation metric of the argmax architecture picks ``checkpoint_best.pth``."""
from __future__ import annotations

import itertools
import logging
from dataclasses import dataclass
from pathlib import Path

import torch
from torch.utils.data import DataLoader, Subset
from tqdm import tqdm

from ..latency import CostLoss, LatencyTable, build_lut, check_lut, default_lut_path, load_lut
from ..spaces import full_kwargs, save_arch
from ..supernet import Supernet, temperature
from .checkpoint import save_checkpoint
from .config import to_dict
from .device import resolve_device, seed_everything
from .search_config import SearchConfig
from .tasks import make_task, recalibrate_bn

log = logging.getLogger(__name__)


@dataclass
class SearchResult:
    arch: dict
    predicted: float
    unit: str
    metric: str
    best: float
    out_dir: Path


def resolve_lut(spec: str, space: str, space_kwargs: dict) -> LatencyTable:
    if spec == "flops":
        lut = build_lut(space, space_kwargs, backend="flops", calib_archs=1, progress=False)
        return check_lut(lut, space, space_kwargs, "flops table")
    size = full_kwargs(space, space_kwargs)["img_size"]
    path = default_lut_path(space, size) if spec == "auto" else Path(spec)
    if not path.is_file():
        raise FileNotFoundError(f"{path}: no LUT; build one with tools/build_lut.py or pass "
                                "--lut flops")
    return load_lut(path, space, space_kwargs)


def split_theta(train, fraction: float, seed: int):
    """Disjoint (weight part, θ part) of the training set, seeded."""
    order = torch.randperm(len(train), generator=torch.Generator().manual_seed(seed)).tolist()
    n_theta = max(1, int(round(len(train) * fraction)))
    return Subset(train, order[n_theta:]), Subset(train, order[:n_theta])


class Searcher:
    def __init__(self, cfg: SearchConfig):
        self.cfg = cfg
        seed_everything(cfg.seed)
        self.device = resolve_device(cfg.dev_id)
        self.space_kwargs = cfg.space_kwargs_full()
        self.lut = resolve_lut(cfg.lut, cfg.space, self.space_kwargs)
        self.costs = {k: v.to(self.device) for k, v in self.lut.slot_costs().items()}
        self.cost_loss = CostLoss(cfg.mode, cfg.alpha, cfg.beta, self.lut.reference(),
                                  cfg.target_ms)
        self.task = make_task(cfg.space, self.space_kwargs, cfg.dataset, cfg.data_root)
        splits = self.task.splits(cfg.limit_train, cfg.limit_val, cfg.seed, cfg.augment)
        weight_part, theta_part = split_theta(splits["train"], cfg.theta_split, cfg.seed)
        loader_gen = torch.Generator().manual_seed(cfg.seed)
        self.weight_loader = DataLoader(weight_part, cfg.batch_size, shuffle=True,
                                        drop_last=len(weight_part) > cfg.batch_size,
                                        generator=loader_gen)
        self.theta_loader = DataLoader(theta_part, cfg.batch_size, shuffle=True,
                                       generator=loader_gen)
        self.val_loader = DataLoader(splits["val"], cfg.batch_size)
        self.model = Supernet(cfg.space, self.space_kwargs, cfg.gumbel).to(self.device)
        self.w_opt = torch.optim.Adam(self.model.weight_parameters(), cfg.lr, weight_decay=cfg.wd)
        total_steps = cfg.epochs * len(self.weight_loader)
        self.w_sched = torch.optim.lr_scheduler.CosineAnnealingLR(self.w_opt, total_steps)
        self.t_opt = torch.optim.AdamW(self.model.arch_parameters(), cfg.tlr,
                                       weight_decay=cfg.twd)
        self.gumbel_gen = torch.Generator().manual_seed(cfg.seed + 1)
        self.out_dir = Path(cfg.snapshot) / "supernet"
        self.step = 0
        self.best = None
        log.info("search: %s on %s, %d weight / %d θ / %d val samples, LUT %s (%s)", cfg.space,
                 self.device, len(weight_part), len(theta_part), len(splits["val"]),
                 self.lut.metadata.get("backend"), self.lut.unit)

    def weight_step(self, batch, tau) -> float:
        self.model.sample(tau, self.gumbel_gen)
        loss = self.task.loss(self.model, batch)
        self.w_opt.zero_grad(set_to_none=True)
        loss.backward()
        self.w_opt.step()
        self.w_sched.step()
        return loss.item()

    def theta_step(self, batch, tau) -> dict:
        self.model.sample(tau, self.gumbel_gen)
        task = self.task.theta_loss(self.model, batch)
        cost = self.lut.fixed["value"] + self.model.expected_cost(self.costs)
        loss, parts = self.cost_loss(task, cost)
        self.t_opt.zero_grad(set_to_none=True)
        loss.backward(inputs=list(self.model.arch_parameters()))  # no weight gradients
        self.t_opt.step()
        return parts

    def run(self) -> SearchResult:
        from torch.utils.tensorboard import SummaryWriter

        cfg = self.cfg
        writer = SummaryWriter(str(self.out_dir / "tensorboard"))
        theta_batches = itertools.cycle(self.theta_loader)
        to_device = lambda batch: [t.to(self.device) for t in batch]  # noqa: E731
        for epoch in range(cfg.epochs):
            tau = temperature(epoch, cfg.tau0, cfg.tau_decay)
            searching = epoch >= cfg.warmup_epochs
            bar = tqdm(self.weight_loader, desc=f"epoch {epoch + 1}/{cfg.epochs}"
                       + ("" if searching else " (warm-up)"), disable=not cfg.progress)
            for batch in bar:
                w_loss = self.weight_step(to_device(batch), tau)
                writer.add_scalar("train/weight_loss", w_loss, self.step)
                postfix = {"loss": f"{w_loss:.4f}"}
                if searching:
                    parts = self.theta_step(to_device(next(theta_batches)), tau)
                    for name, value in parts.items():
                        writer.add_scalar(f"theta/{name}", value, self.step)
                    postfix["lat"] = f"{parts['cost']:.3f}"
                bar.set_postfix(postfix)
                self.step += 1
            self.end_epoch(epoch, tau, writer)
        writer.close()
        arch = self.model.derived_arch()
        return SearchResult(arch, self.lut.predict(arch["choices"]), self.lut.unit,
                            self.task.metric, self.best, self.out_dir)

    def end_epoch(self, epoch: int, tau: float, writer) -> None:
        choices = self.model.derive()
        self.model.fix(choices)
        # BatchNorm running statistics mix every sampled path; the argmax path is scored with
        # its own (training uses batch statistics, so this does not disturb the search)
        if self.cfg.bn_batches:
            recalibrate_bn(self.model, self.weight_loader, self.device, self.cfg.bn_batches)
        metrics = self.task.evaluate(self.model, self.val_loader, self.device)
        score = metrics[self.task.metric]
        predicted = self.lut.predict(choices)
        writer.add_scalar("schedule/temperature", tau, epoch)
        writer.add_scalar("val/predicted_latency", predicted, epoch)
        for name, value in metrics.items():
            writer.add_scalar(f"val/{name}", value, epoch)
        for label, probs in self.model.probabilities().items():
            writer.add_scalars(f"probs/{label}", dict(zip(self.model.candidates[label],
                                                          probs.tolist())), epoch)
        improved = self.task.better(score, self.best)
        self.best = score if improved else self.best
        log.info("epoch %d: val %s %.4f%s, τ %.3f, argmax predicted %.4f %s", epoch + 1,
                 self.task.metric, score, " (best)" if improved else "", tau, predicted,
                 self.lut.unit)
        arch = self.model.derived_arch(predicted=predicted, unit=self.lut.unit,
                                       epoch=epoch + 1, **{f"val_{self.task.metric}": score})
        state = dict(kind="supernet", space=self.cfg.space, space_kwargs=self.model.space_kwargs,
                     gumbel=self.cfg.gumbel, arch=arch, model=self.model.state_dict(),
                     w_opt=self.w_opt.state_dict(), t_opt=self.t_opt.state_dict(),
                     w_sched=self.w_sched.state_dict(), epoch=epoch + 1, step=self.step,
                     tau=tau, best=self.best, metrics=metrics, config=to_dict(self.cfg),
                     lut_metadata=self.lut.metadata)
        save_checkpoint(self.out_dir / "checkpoint_last.pth", **state)
        if improved:
            save_checkpoint(self.out_dir / "checkpoint_best.pth", **state)
        save_arch(arch, self.out_dir / "arch.json")


def run_search(cfg: SearchConfig) -> SearchResult:
    return Searcher(cfg).run()
