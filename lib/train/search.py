"""The search loop. Warm-up epochs train weights only, until the supernet's validation
metric clearly beats the trivial predictor (or for a fixed count, ``--warmup epochs``). Then
every epoch interleaves the weight steps on the training part with one pass of θ steps over
the held-out part of the *training* set (FBNet's rhythm: about one θ pass per epoch). Only
epochs in which θ trained may become ``checkpoint_best.pth`` or write ``arch.json``.

A weight step runs one sampled path. A θ step runs every candidate (``Supernet.sample(...,
dense=True)``), so θ's task gradient compares candidates instead of only rescaling the sampled
one, which a following BatchNorm cancels (README: "The architecture gradient").

With several workers, the weights train under DDP; θ gets its gradients averaged by hand (it
is not DDP's) and every rank draws the same Gumbel noise, so all ranks sample the same path
and keep identical θ (checked every epoch)."""
from __future__ import annotations

import logging
from pathlib import Path

import torch

from ..config import SearchConfig
from ..latency import TARGET_BAND, TARGET_LOW, CostLoss, kendall_tau, resolve_lut, same_table
from ..spaces import full_kwargs, save_arch
from ..supernet import Supernet, temperature
from .batches import Batches, shard_loader, split_theta, to_device
from .checkpoint import load_checkpoint
from .distributed import Dist, distributed
from .loop import Trainer
from .models import load_strict
from .results import SearchResult
from .show import log_faces
from .tasks import make_task, recalibrate_bn

log = logging.getLogger(__name__)


class Searcher(Trainer):
    kind = "supernet"

    def __init__(self, cfg: SearchConfig, dist: Dist):
        super().__init__(cfg, dist, Path(cfg.snapshot) / "supernet")
        self.space_kwargs = cfg.instance_kwargs()
        self.lut = resolve_lut(cfg.lut, cfg.space, self.space_kwargs, [cfg.snapshot])
        self.costs = {k: v.to(self.device) for k, v in self.lut.slot_costs().items()}
        self.cost_loss = CostLoss(cfg.mode, cfg.alpha, cfg.beta, self.lut.reference(),
                                  cfg.target_ms)
        self.task = make_task(cfg.space, self.space_kwargs, cfg.dataset, cfg.data_root)
        splits = self.splits(self.task)
        weight_part, theta_part = split_theta(splits["train"], cfg.theta_split, cfg.seed)
        self.batches = Batches(weight_part, cfg.batch_size, dist, cfg.seed, workers=self.workers)
        self.theta = Batches(theta_part, cfg.batch_size, dist, cfg.seed + 1, drop_last=False,
                             workers=self.workers)
        self.val_loader = shard_loader(splits["val"], cfg.batch_size, dist)
        self.model = self.precision.prepare(
            Supernet(cfg.space, self.space_kwargs, cfg.gumbel).to(self.device))
        if cfg.mode == "target":
            # θ starts at the maximum-entropy distribution in the middle of the band: from
            # uniform, the band's penalty spent the few θ steps of a short search on reaching
            # it (τ(θ, -latency) 1.00 in every slot) before the task could move θ
            self.model.sample(1.0, torch.Generator().manual_seed(cfg.seed))  # widths' channels
            self.model.start_at(self.costs, (1 + TARGET_LOW) / 2 * cfg.target_ms
                                - self.lut.fixed["value"])
        self.w_opt = torch.optim.Adam(self.model.weight_parameters(), cfg.lr, weight_decay=cfg.wd)
        self.w_sched = torch.optim.lr_scheduler.CosineAnnealingLR(
            self.w_opt, cfg.epochs * len(self.batches))
        self.t_opt = torch.optim.AdamW(self.model.arch_parameters(), cfg.tlr,
                                       weight_decay=cfg.twd)  # as NNI's FBNet (REFERENCE.md)
        self.gumbel_gen = torch.Generator().manual_seed(cfg.seed + 1)  # the same on every rank
        self.theta_steps = 0
        # the epoch (0-based) from which θ trains; None while the warm-up decides
        self.theta_start = cfg.warmup_epochs if cfg.warmup == "epochs" or \
            not cfg.warmup_epochs else None
        self.trivial = None  # the trivial predictor's validation metric ('metric' warm-up)
        self.grad_norms = {}  # per slot: summed |task gradient|, |cost gradient|, steps
        self._derived = (None, None)  # (θ steps, target-mode derivation) memo
        path = self.resume_path()
        if path:
            self.restore(load_checkpoint(path, kind=self.kind), path)
        elif self.theta_start is None:
            self.trivial = self.task.trivial_score(self.theta.epoch(0), self.val_loader,
                                                   self.dist.sum)
            log.info("warm-up: θ starts once val %s clearly beats the trivial predictor's "
                     "%.4f (margin %.2f), at the latest after epoch %d", self.task.metric,
                     self.trivial, cfg.warmup_margin, cfg.warmup_epochs)
        self.net = dist.wrap(self.model.net, cfg.sync_bn, find_unused=True)
        log.info("search: %s on %s x %d, %d weight / %d θ / %d val samples, LUT %s (%s)",
                 cfg.space, self.device, dist.world, len(weight_part), len(theta_part),
                 len(splits["val"]), self.lut.metadata.get("backend"), self.lut.unit)

    def restore(self, ckpt: dict, path) -> None:
        # checkpoints written before the canonical form hold only the kwargs they were given
        ckpt["space_kwargs"] = full_kwargs(ckpt["space"], ckpt["space_kwargs"])
        self.check_config(ckpt, path, space=self.cfg.space,
                          space_kwargs=self.model.space_kwargs, gumbel=self.cfg.gumbel)
        old = ckpt.get("lut_metadata", {})
        if not same_table(old, self.lut, self.cfg.space, self.model.space_kwargs):
            log.warning("%s was searched with another LUT (%s, built %s) than this run's "
                        "(%s, built %s)", path, old.get("backend"), old.get("date"),
                        self.lut.metadata.get("backend"), self.lut.metadata.get("date"))
        load_strict(self.model, ckpt["model"], path)
        self.w_opt.load_state_dict(ckpt["w_opt"])
        self.t_opt.load_state_dict(ckpt["t_opt"])
        self.w_sched.load_state_dict(ckpt["w_sched"])
        self.gumbel_gen.set_state(ckpt["gumbel_rng"])
        self.theta_steps = ckpt["theta_steps"]
        # checkpoints from before the 'metric' warm-up started θ at --warmup_epochs
        self.theta_start = ckpt.get("theta_start", self.cfg.warmup_epochs)
        self.trivial = ckpt.get("trivial")
        self.precision.load_state_dict(ckpt.get("scaler"))
        self.load_position(ckpt, path)

    def state(self) -> dict:
        return dict(space=self.cfg.space, space_kwargs=self.model.space_kwargs,
                    gumbel=self.cfg.gumbel, arch=self.arch(), model=self.model.state_dict(),
                    w_opt=self.w_opt.state_dict(), t_opt=self.t_opt.state_dict(),
                    w_sched=self.w_sched.state_dict(), gumbel_rng=self.gumbel_gen.get_state(),
                    theta_steps=self.theta_steps, theta_start=self.theta_start,
                    trivial=self.trivial, tau=self.tau(), lut_metadata=self.lut.metadata,
                    scaler=self.precision.state_dict())

    def tau(self, epoch: int | None = None) -> float:
        """The temperature of ``epoch`` (0-based; default: the current one)."""
        epoch = self.epoch if epoch is None else epoch
        return temperature(epoch, self.cfg.tau0, self.cfg.tau_decay)

    def derive(self) -> dict[str, str]:
        """The searched architecture: the argmax, moved into the budget band in target mode
        (the most probable architecture that spends the budget; see Supernet.derive).
        Memoised per θ step: the band search prices many single-slot changes."""
        if self.cfg.mode != "target":
            return self.model.derive()
        if self._derived[0] != self.theta_steps:
            band = tuple(f * self.cfg.target_ms for f in TARGET_BAND)
            self._derived = (self.theta_steps, self.model.derive(self.lut.predict, band))
        return dict(self._derived[1])

    def arch(self) -> dict:
        """The searched architecture with its prediction and the last validation score."""
        choices = self.derive()
        scores = {f"val_{k}": v for k, v in self.metrics.items() if k == self.task.metric}
        return self.model.derived_arch(choices, predicted=self.lut.predict(choices),
                                       argmax_predicted=self.lut.predict(self.model.derive()),
                                       unit=self.lut.unit, epoch=self.epoch, **scores)

    def theta_trains(self, epoch: int) -> bool:
        return self.theta_start is not None and epoch >= self.theta_start

    def train_batch(self, batch, writer) -> dict:
        tau = self.tau()
        w_loss = self.weight_step(batch, tau)
        if w_loss is not None:
            writer.add_scalar("train/weight_loss", w_loss, self.step)
        postfix = {"loss": "skipped" if w_loss is None else f"{w_loss:.4f}"}
        if not self.theta_trains(self.epoch):
            return postfix
        # one pass over the θ part per epoch, spread evenly over the weight steps
        n_theta, n_weights, b = len(self.theta), len(self.batches), self.batch
        for _ in range((b + 1) * n_theta // n_weights - b * n_theta // n_weights):
            theta_batch = self.precision.inputs(to_device(next(self.theta_batches),
                                                          self.device))
            self.theta_steps += 1
            parts = self.theta_step(theta_batch, tau)
            for name, value in (parts or {}).items():
                writer.add_scalar(f"theta/{name}", value, self.theta_steps)
            postfix["lat"] = f"{parts['cost']:.3f}" if parts else "skipped"
        return postfix

    def weight_step(self, batch, tau) -> float | None:
        self.model.sample(tau, self.gumbel_gen)  # one path
        with self.precision.autocast():
            loss = self.task.loss(self.net, batch)  # through DDP: weight gradients averaged
        value = self.finite(loss, "weight")
        if value is not None:
            self.precision.step(loss, self.w_opt)
        self.w_sched.step()  # the schedule follows the step count, skipped steps included
        return value

    def theta_gradients(self, batch, tau) -> tuple[dict, dict, dict] | None:
        """θ's gradient in two parts, ``(task, cost, parts)``, each ``{label: tensor}``:
        ``d loss/d task x d task/dθ`` and the cost term's own path to θ. The task part comes
        from a dense sample (every candidate's output); None for a skipped non-finite step."""
        self.model.sample(tau, self.gumbel_gen, dense=True)
        with self.precision.autocast():
            task = self.task.theta_loss(self.model, batch)
        weights = self.model.policy() if self.cfg.latency == "expected" else None
        cost = self.lut.fixed["value"] + self.model.expected_cost(self.costs, weights)
        task_value = task.detach().requires_grad_()
        loss, parts = self.cost_loss(task_value, cost)
        if self.finite(loss, "θ") is None:
            return None
        labels, params = zip(*self.model.arch.items())
        d_task, *cost_grads = torch.autograd.grad(loss, (task_value, *params), allow_unused=True,
                                                  retain_graph=True)  # the sample is shared
        task_grads = self.precision.grad(task, params)  # no weight gradients
        if self.dist.any(task_grads is None):  # fp16 overflow on some rank: all skip
            self.precision.back_off()
            return None
        zero = [torch.zeros_like(p) for p in params]
        return ({k: d_task * g if g is not None else z
                 for k, g, z in zip(labels, task_grads, zero)},
                {k: g if g is not None else z for k, g, z in zip(labels, cost_grads, zero)},
                parts)

    def theta_step(self, batch, tau) -> dict | None:
        grads = self.theta_gradients(batch, tau)
        if grads is None:
            return None
        task_grads, cost_grads, parts = grads
        for label, p in self.model.arch.items():
            p.grad = task_grads[label] + cost_grads[label]
            sums = self.grad_norms.setdefault(label, [0.0, 0.0, 0])
            # summed on θ's device, read at the epoch's end: no host sync per slot and step
            sums[0] += task_grads[label].detach().norm()
            sums[1] += cost_grads[label].detach().norm()
            sums[2] += 1
        self.dist.mean_grads(self.model.arch_parameters())
        self.t_opt.step()
        return parts

    def run(self) -> SearchResult:
        writer = self.writer()
        self.theta_batches = self.theta.forever(self.theta_steps)
        self.train(writer)
        writer.close()
        arch = self.arch()
        return SearchResult(arch, arch["meta"]["predicted"], self.lut.unit, self.task.metric,
                            self.best, self.out_dir,
                            {k: v.detach().cpu() for k, v in self.model.arch.items()})

    def end_epoch(self, writer) -> None:
        epoch = self.epoch - 1  # the epoch just finished
        theta = torch.cat([p.detach().flatten() for p in self.model.arch_parameters()])
        self.dist.check_same(theta, "θ")  # averaged gradients and shared Gumbel noise
        searched = self.theta_trains(epoch)
        # while θ is untrained its argmax is each slot's first candidate by tie-break (mbv2:
        # the narrowest width); the warm-up scores the dearest architecture instead
        choices = self.derive() if searched else self.lut.corner(dearest=True)
        self.model.fix(choices)
        # BatchNorm running statistics mix every sampled path; the derived path is scored with
        # its own (training uses batch statistics, so this does not disturb the search)
        if self.cfg.bn_batches:
            recalibrate_bn(self.model, self.batches.epoch(epoch), self.device,
                           self.cfg.bn_batches)
        metrics = self.task.evaluate(self.model, self.val_loader, self.device, self.dist.sum)
        predicted = self.lut.predict(choices)
        tau = self.tau(epoch)
        writer.add_scalar("schedule/temperature", tau, epoch)
        writer.add_scalar("val/predicted_latency", predicted, epoch)
        for name, value in metrics.items():
            writer.add_scalar(f"val/{name}", value, epoch)
        for label, probs in self.model.probabilities().items():
            writer.add_scalars(f"probs/{label}", dict(zip(self.model.candidates[label],
                                                          probs.tolist())), epoch)
        # the derived (or, warming up, the dearest) path on a few fixed validation faces
        log_faces(writer, self.model, self.val_loader, self.task, self.device, epoch)
        note = f", temperature {tau:.3f}, {'derived' if searched else 'dearest'} predicted " \
            f"{predicted:.4f} {self.lut.unit}"
        if searched:
            self.log_theta(writer, epoch)
            self.keep(metrics, note)
            if self.dist.main:
                save_arch(self.arch(), self.out_dir / "arch.json")
        else:
            self.end_warmup(metrics)  # before the checkpoint, which records the decision
            self.keep(metrics, note + " (warm-up: not a search result)", rank=False)

    def end_warmup(self, metrics: dict) -> None:
        """'metric' warm-up: θ starts after this epoch when the metric clearly beats the
        trivial predictor, or when --warmup_epochs is reached."""
        if self.theta_start is not None:
            return
        score, name = metrics[self.task.metric], self.task.metric
        if self.task.clearly_better(score, self.trivial, self.cfg.warmup_margin):
            reason = f"val {name} {score:.4f} clearly beats the trivial {self.trivial:.4f}"
        elif self.epoch >= self.cfg.warmup_epochs:
            reason = (f"--warmup_epochs {self.cfg.warmup_epochs} reached (val {name} "
                      f"{score:.4f}, trivial predictor {self.trivial:.4f})")
        else:
            return
        self.theta_start = self.epoch
        log.info("warm-up ends after epoch %d: %s; θ trains from epoch %d on", self.epoch,
                 reason, self.epoch + 1)

    def log_theta(self, writer, epoch: int) -> None:
        """Per op slot: Kendall τ between θ and -latency (1: θ ranks candidates purely by
        cost) and the epoch's mean task and cost gradient norms on θ."""
        lines = []
        for label, latency in self.lut.op_costs().items():
            tau = kendall_tau(self.model.arch[label].detach().tolist(), [-c for c in latency])
            task, cost_norm, steps = self.grad_norms.pop(label, (0.0, 0.0, 1))
            task, cost_norm = float(task) / steps, float(cost_norm) / steps
            writer.add_scalar(f"theta_vs_latency/{label}", tau, epoch)
            writer.add_scalars(f"theta_grad/{label}", {"task": task, "cost": cost_norm}, epoch)
            lines.append(f"  {label:<20} {tau:+.2f}  {task:.2e}  {cost_norm:.2e}")
        log.info("epoch %d θ per slot: Kendall τ(θ, -latency), mean |task grad|, "
                 "|cost grad|\n%s", epoch + 1, "\n".join(lines))


def run_search(cfg: SearchConfig) -> SearchResult:
    with distributed(cfg) as dist:
        return Searcher(cfg, dist).run()
