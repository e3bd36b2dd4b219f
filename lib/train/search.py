"""The search loop: warm-up epochs train weights only; then every weight step on the
training part is followed by one θ step on the held-out part of the *training* set.
The task's validation metric of the argmax architecture picks ``checkpoint_best.pth``.

With several workers, the weights train under DDP; θ gets its gradients averaged by hand (it
is not DDP's) and every rank draws the same Gumbel noise, so all ranks sample the same path
and keep identical θ (checked every epoch)."""
from __future__ import annotations

import logging
from dataclasses import dataclass
from pathlib import Path

import torch
from torch.utils.data import Subset

from ..latency import CostLoss, LatencyTable, build_lut, check_lut, default_lut_path, load_lut
from ..spaces import full_kwargs, save_arch
from ..supernet import Supernet, temperature
from .batches import Batches, shard_loader
from .checkpoint import load_checkpoint
from .distributed import Dist, distributed
from .loop import Trainer
from .models import load_strict
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
    theta: dict  # the final architecture logits, per slot


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


class Searcher(Trainer):
    kind = "supernet"

    def __init__(self, cfg: SearchConfig, dist: Dist):
        super().__init__(cfg, dist, Path(cfg.snapshot) / "supernet")
        self.space_kwargs = cfg.space_kwargs_full()
        self.lut = resolve_lut(cfg.lut, cfg.space, self.space_kwargs)
        self.costs = {k: v.to(self.device) for k, v in self.lut.slot_costs().items()}
        self.cost_loss = CostLoss(cfg.mode, cfg.alpha, cfg.beta, self.lut.reference(),
                                  cfg.target_ms)
        self.task = make_task(cfg.space, self.space_kwargs, cfg.dataset, cfg.data_root)
        splits = self.splits(self.task)
        weight_part, theta_part = split_theta(splits["train"], cfg.theta_split, cfg.seed)
        self.batches = Batches(weight_part, cfg.batch_size, dist, cfg.seed)
        self.theta = Batches(theta_part, cfg.batch_size, dist, cfg.seed + 1, drop_last=False)
        self.val_loader = shard_loader(splits["val"], cfg.batch_size, dist)
        self.model = Supernet(cfg.space, self.space_kwargs, cfg.gumbel).to(self.device)
        self.w_opt = torch.optim.Adam(self.model.weight_parameters(), cfg.lr, weight_decay=cfg.wd)
        self.w_sched = torch.optim.lr_scheduler.CosineAnnealingLR(
            self.w_opt, cfg.epochs * len(self.batches))
        self.t_opt = torch.optim.AdamW(self.model.arch_parameters(), cfg.tlr,
                                       weight_decay=cfg.twd)
        self.gumbel_gen = torch.Generator().manual_seed(cfg.seed + 1)  # the same on every rank
        self.theta_steps = 0
        path = self.resume_path()
        if path:
            self.restore(load_checkpoint(path, kind=self.kind), path)
        self.net = dist.wrap(self.model.net, cfg.sync_bn, find_unused=True)
        log.info("search: %s on %s x %d, %d weight / %d θ / %d val samples, LUT %s (%s)",
                 cfg.space, self.device, dist.world, len(weight_part), len(theta_part),
                 len(splits["val"]), self.lut.metadata.get("backend"), self.lut.unit)

    def restore(self, ckpt: dict, path) -> None:
        self.check_config(ckpt, path, space=self.cfg.space,
                          space_kwargs=self.model.space_kwargs, gumbel=self.cfg.gumbel)
        identity = lambda meta: (meta.get("backend"), meta.get("fingerprint"),  # noqa: E731
                                 None if meta.get("backend") == "flops" else meta.get("date"))
        old, new = identity(ckpt.get("lut_metadata", {})), identity(self.lut.metadata)
        if old != new:
            log.warning("%s was searched with another LUT (%s, built %s) than this run's "
                        "(%s, built %s)", path, old[0], old[2], new[0], new[2])
        load_strict(self.model, ckpt["model"], path)
        self.w_opt.load_state_dict(ckpt["w_opt"])
        self.t_opt.load_state_dict(ckpt["t_opt"])
        self.w_sched.load_state_dict(ckpt["w_sched"])
        self.gumbel_gen.set_state(ckpt["gumbel_rng"])
        self.theta_steps = ckpt["theta_steps"]
        self.load_position(ckpt, path)

    def state(self) -> dict:
        return dict(space=self.cfg.space, space_kwargs=self.model.space_kwargs,
                    gumbel=self.cfg.gumbel, arch=self.arch(), model=self.model.state_dict(),
                    w_opt=self.w_opt.state_dict(), t_opt=self.t_opt.state_dict(),
                    w_sched=self.w_sched.state_dict(), gumbel_rng=self.gumbel_gen.get_state(),
                    theta_steps=self.theta_steps, tau=self.tau(), lut_metadata=self.lut.metadata)

    def tau(self, epoch: int | None = None) -> float:
        """The temperature of ``epoch`` (0-based; default: the current one)."""
        epoch = self.epoch if epoch is None else epoch
        return temperature(epoch, self.cfg.tau0, self.cfg.tau_decay)

    def arch(self) -> dict:
        """The argmax architecture with its prediction and the last validation score."""
        predicted = self.lut.predict(self.model.derive())
        scores = {f"val_{k}": v for k, v in self.metrics.items() if k == self.task.metric}
        return self.model.derived_arch(predicted=predicted, unit=self.lut.unit, epoch=self.epoch,
                                       **scores)

    def train_batch(self, batch, writer) -> dict:
        tau = self.tau()
        w_loss = self.weight_step(batch, tau)
        if w_loss is not None:
            writer.add_scalar("train/weight_loss", w_loss, self.step)
        postfix = {"loss": "skipped" if w_loss is None else f"{w_loss:.4f}"}
        if self.epoch >= self.cfg.warmup_epochs:
            theta_batch = [t.to(self.device) for t in next(self.theta_batches)]
            self.theta_steps += 1
            parts = self.theta_step(theta_batch, tau)
            for name, value in (parts or {}).items():
                writer.add_scalar(f"theta/{name}", value, self.step)
            postfix["lat"] = f"{parts['cost']:.3f}" if parts else "skipped"
        return postfix

    def weight_step(self, batch, tau) -> float | None:
        self.model.sample(tau, self.gumbel_gen)
        loss = self.task.loss(self.net, batch)  # through DDP: weight gradients averaged
        value = self.finite(loss, "weight")
        if value is not None:
            self.w_opt.zero_grad(set_to_none=True)
            loss.backward()
            self.w_opt.step()
        self.w_sched.step()  # the schedule follows the step count, skipped steps included
        return value

    def theta_step(self, batch, tau) -> dict | None:
        self.model.sample(tau, self.gumbel_gen)
        task = self.task.theta_loss(self.model, batch)
        cost = self.lut.fixed["value"] + self.model.expected_cost(self.costs)
        loss, parts = self.cost_loss(task, cost)
        value = self.finite(loss, "θ")
        if value is None:
            return None
        self.t_opt.zero_grad(set_to_none=True)
        loss.backward(inputs=list(self.model.arch_parameters()))  # no weight gradients
        self.dist.mean_grads(self.model.arch_parameters())
        self.t_opt.step()
        return {**parts, "loss": value}

    def run(self) -> SearchResult:
        writer = self.writer()
        self.theta_batches = self.theta.forever(self.theta_steps)
        self.train(writer)
        writer.close()
        arch = self.model.derived_arch()
        return SearchResult(arch, self.lut.predict(arch["choices"]), self.lut.unit,
                            self.task.metric, self.best, self.out_dir,
                            {k: v.detach().cpu() for k, v in self.model.arch.items()})

    def end_epoch(self, writer) -> None:
        theta = torch.cat([p.detach().flatten() for p in self.model.arch_parameters()])
        self.dist.check_same(theta, "θ")  # averaged gradients and shared Gumbel noise
        choices = self.model.derive()
        self.model.fix(choices)
        # BatchNorm running statistics mix every sampled path; the argmax path is scored with
        # its own (training uses batch statistics, so this does not disturb the search)
        if self.cfg.bn_batches:
            recalibrate_bn(self.model, self.batches.epoch(self.epoch - 1), self.device,
                           self.cfg.bn_batches)
        metrics = self.task.evaluate(self.model, self.val_loader, self.device, self.dist.sum)
        predicted = self.lut.predict(choices)
        tau = self.tau(self.epoch - 1)  # the epoch just finished
        writer.add_scalar("schedule/temperature", tau, self.epoch - 1)
        writer.add_scalar("val/predicted_latency", predicted, self.epoch - 1)
        for name, value in metrics.items():
            writer.add_scalar(f"val/{name}", value, self.epoch - 1)
        for label, probs in self.model.probabilities().items():
            writer.add_scalars(f"probs/{label}", dict(zip(self.model.candidates[label],
                                                          probs.tolist())), self.epoch - 1)
        self.keep(metrics, f", τ {tau:.3f}, argmax predicted {predicted:.4f} {self.lut.unit}")
        if self.dist.main:
            save_arch(self.arch(), self.out_dir / "arch.json")


def run_search(cfg: SearchConfig) -> SearchResult:
    with distributed(cfg) as dist:
        return Searcher(cfg, dist).run()
