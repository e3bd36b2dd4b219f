#!/usr/bin/env python
"""θ-gradient estimators side by side: how well each one's task gradient matches the
all-candidates gradient, and what a θ step with it costs.

Estimators (per op slot, at a Gumbel sample a; d_i = <dL/d out, out_i>, the directional
derivative of the loss along candidate i's output, from lib/supernet/probe.py):
- ``single``: straight-through with one path (the θ step before issue 12): only d_a.
- ``dense``: straight-through over every candidate's output (the θ step now): all d_i.
  The reference the others are scored against.
- ``soft``: FBNet's soft mixture (``--gumbel soft``): every candidate weighted in the forward.
- ``proxyless``: ProxylessNAS' binary gates: a and one more candidate b drawn from softmax(θ),
  the gradient on their two logits from d_a, d_b and the pair's renormalised probabilities.
- ``reinforce``: score function over K sampled paths with a leave-one-out baseline,
  (L_k - mean L) x d log p(a_k)/dθ; forward passes only.

Fidelity: per op slot, the cosine between the estimator's gradient summed over ``--batches``
batches and the dense gradient summed over the same batches; reported as the mean and the
minimum over slots, and the share of slots at cosine >= 0.5. Cost: seconds per θ step of each,
timed round robin (one step of each in turn, ``--rounds`` times; the median), over a
single-path weight step's seconds.

    python bench/theta_estimators.py --space pfld_fbnet \
        --supernet ckpt_save/supernet/checkpoint_last.pth
    python bench/theta_estimators.py --space mbv2_landmark --batch 16 \
        --space_kwargs '{"num_points": 106, "img_size": 64}'
    python bench/theta_estimators.py --space hourglass_seg --batch 16 \
        --space_kwargs '{"img_size": 64, "cap": 32, "kernels": [3, 5]}'

Writes output/bench/theta_estimators_<space>.json; the last line printed is the summary.
"""
import argparse
import json
import statistics
import time

import _common
import torch
import torch.nn.functional as F

from lib.supernet import MixedOp, Supernet
from lib.supernet.probe import candidate_derivatives, chain_to_theta
from lib.config import SpaceOptions
from lib.train.checkpoint import load_checkpoint
from lib.train.models import load_strict
from lib.train.tasks import make_task

ESTIMATORS = ("single", "dense", "soft", "proxyless", "reinforce")


def two_path_forward(pairs):
    """MixedOp.forward computing only the sampled candidate and its drawn partner (the
    ProxylessNAS cost), for timing."""
    def forward(self, x):
        out = self._run(self.active, x)
        other = pairs[self.label]
        return out + (self.weights[other] - self.weights[other].detach()) * self._run(other, x)
    return forward


def proxyless_gradient(model, derivatives, gen) -> tuple[dict, dict]:
    """Per slot: the sampled a, a partner b drawn from softmax(θ) without a, and the gradient
    on θ_a, θ_b of the binary gates: sum_j d_j p~_j (delta_ij - p~_i) over the pair."""
    grads, pairs = {}, {}
    for label, d in derivatives.items():
        theta = model.arch[label].detach()
        a = int(model.sample_weights[label].argmax())
        p = F.softmax(theta, -1).clone()
        p[a] = 0
        b = int(torch.multinomial(p, 1, generator=gen)) if p.sum() > 0 else a
        pairs[label] = b
        pair = torch.tensor([a, b])
        q = F.softmax(theta[pair], -1)
        jac = torch.diag(q) - q[:, None] * q[None, :]
        g = torch.zeros_like(theta)
        g.index_add_(0, pair, jac @ d[pair])
        grads[label] = g
    return grads, pairs


def reinforce_gradient(model, loss_fn, k, gen) -> dict:
    """Score function over k paths drawn from softmax(θ), leave-one-out baseline."""
    losses, scores = [], []
    probs = {label: F.softmax(logits.detach(), -1) for label, logits in model.arch.items()}
    for _ in range(k):
        choices = {label: model.candidates[label][int(torch.multinomial(p, 1, generator=gen))]
                   for label, p in probs.items()}
        model.fix(choices)
        with torch.no_grad():
            losses.append(float(loss_fn(model)))
        scores.append({label: F.one_hot(torch.tensor(model.candidates[label].index(c)),
                                        len(probs[label])).float() - probs[label]
                       for label, c in choices.items()})
    grads = {label: torch.zeros_like(p) for label, p in probs.items()}
    for loss, score in zip(losses, scores):
        baseline = (sum(losses) - loss) / (k - 1)
        for label in grads:
            grads[label] += (loss - baseline) * score[label] / k
    return grads


def theta_grads(model, loss_fn, tau, gen_state, mode, seed) -> dict:
    """θ's task gradient by ``mode`` at the Gumbel sample drawn from ``gen_state``."""
    gen = torch.Generator()
    gen.set_state(gen_state)
    if mode == "soft":
        model.gumbel = "soft"
        model.sample(tau, gen)
        model.gumbel = "hard"
        grads = torch.autograd.grad(loss_fn(model), list(model.arch.values()), allow_unused=True)
        return {k: g if g is not None else torch.zeros_like(v)
                for (k, v), g in zip(model.arch.items(), grads)}
    if mode == "reinforce":
        model.sample(tau, gen)
        return reinforce_gradient(model, loss_fn, 4, torch.Generator().manual_seed(seed))
    model.sample(tau, gen)
    _, d = candidate_derivatives(model, loss_fn)
    if mode == "proxyless":
        return proxyless_gradient(model, d, torch.Generator().manual_seed(seed))[0]
    if mode == "single":
        d = {label: v * F.one_hot(model.sample_weights[label].detach().argmax(), len(v))
             for label, v in d.items()}
    return chain_to_theta(model, d)


def step_seconds(model, loss_fn, tau, mode, gen) -> float:
    """One θ step (forward and backward to θ, or the forward passes) of ``mode``."""
    params = list(model.arch.values())
    start = time.perf_counter()
    if mode == "reinforce":
        model.sample(tau, gen)
        reinforce_gradient(model, loss_fn, 4, gen)
    elif mode == "proxyless":
        model.sample(tau, gen)
        _, pairs = proxyless_gradient(model, {k: torch.zeros(len(model.candidates[k]))
                                              for k in model.mixed_ops}, gen)
        original = MixedOp.forward
        MixedOp.forward = two_path_forward(pairs)
        try:
            torch.autograd.grad(loss_fn(model), params, allow_unused=True)
        finally:
            MixedOp.forward = original
    else:
        model.gumbel = "soft" if mode == "soft" else "hard"
        model.sample(tau, gen, dense=mode == "dense")
        model.gumbel = "hard"
        torch.autograd.grad(loss_fn(model), params, allow_unused=True)
    return time.perf_counter() - start


def weight_step_seconds(model, task, batch, tau, gen) -> float:
    start = time.perf_counter()
    model.sample(tau, gen)
    task.loss(model, batch).backward()
    model.zero_grad(set_to_none=True)
    return time.perf_counter() - start


def cosine(a, b) -> float:
    return float(F.cosine_similarity(a.flatten(), b.flatten(), dim=0))


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--space", default="pfld_fbnet")
    parser.add_argument("--space_kwargs", type=json.loads, default={})
    parser.add_argument("--supernet", help="search checkpoint (default: a fresh supernet)")
    parser.add_argument("--batch", type=int, default=32)
    parser.add_argument("--batches", type=int, default=8)
    parser.add_argument("--rounds", type=int, default=5)
    parser.add_argument("--tau", type=float, default=3.0)
    args = parser.parse_args()
    kwargs = SpaceOptions(space=args.space, space_kwargs=args.space_kwargs).instance_kwargs()
    task = make_task(args.space, kwargs, "synthetic", None)
    torch.manual_seed(0)
    model = Supernet(args.space, kwargs)
    if args.supernet:
        load_strict(model, load_checkpoint(args.supernet, kind="supernet")["model"],
                    args.supernet)
    model.train()
    data = task.splits(limit_train=args.batch * args.batches, seed=0)["train"]
    batches = list(torch.utils.data.DataLoader(data, args.batch))
    gen = torch.Generator().manual_seed(1)
    sums = {mode: {} for mode in ESTIMATORS}
    for i, batch in enumerate(batches):
        state = torch.Generator().manual_seed(1000 + i).get_state()  # one sample for all
        for mode in ESTIMATORS:
            grads = theta_grads(model, lambda m, b=batch: task.theta_loss(m, b), args.tau, state,
                                mode, seed=i)
            for label in model.mixed_ops:
                sums[mode][label] = sums[mode].get(label, 0) + grads[label]
    fidelity = {}
    for mode in ESTIMATORS:
        cos = {label: cosine(sums[mode][label], sums["dense"][label]) for label in model.mixed_ops}
        fidelity[mode] = {"mean_cosine": statistics.fmean(cos.values()),
                          "min_cosine": min(cos.values()),
                          "share_ge_0.5": sum(c >= 0.5 for c in cos.values()) / len(cos),
                          "per_slot": cos}
    seconds = {mode: [] for mode in ("weight_step", *ESTIMATORS)}
    batch = batches[0]
    for _ in range(args.rounds):  # round robin: drift hits every estimator alike
        seconds["weight_step"].append(weight_step_seconds(model, task, batch, args.tau, gen))
        for mode in ESTIMATORS:
            seconds[mode].append(step_seconds(model, lambda m: task.theta_loss(m, batch),
                                              args.tau, mode, gen))
    median = {mode: statistics.median(v) for mode, v in seconds.items()}
    cost = {mode: median[mode] / median["weight_step"] for mode in ESTIMATORS}
    # the noise next to the figure: the same ratio within each round, lowest and highest
    spread = {mode: [min(a / w for a, w in zip(seconds[mode], seconds["weight_step"])),
                     max(a / w for a, w in zip(seconds[mode], seconds["weight_step"]))]
              for mode in ESTIMATORS}
    result = {"bench": "theta_estimators", "space": args.space, "space_kwargs": kwargs,
              "supernet": args.supernet, "batch": args.batch, "batches": args.batches,
              "tau": args.tau, "fidelity": fidelity, "seconds": seconds,
              "seconds_median": median, "cost_over_weight_step": cost,
              "cost_per_round_min_max": spread, "machine": _common.machine()}
    path = _common.write_result(f"theta_estimators_{args.space}", result)
    print(f"{'estimator':>10} {'mean cos':>9} {'min cos':>8} {'>=0.5':>6} {'cost':>6} "
          f"{'per round':>11}")
    for mode in ESTIMATORS:
        f = fidelity[mode]
        print(f"{mode:>10} {f['mean_cosine']:9.3f} {f['min_cosine']:8.3f} "
              f"{f['share_ge_0.5']:6.2f} {cost[mode]:5.2f}x {spread[mode][0]:5.2f}-"
              f"{spread[mode][1]:.2f}x")
    print(f"wrote {path}")
    print(f"theta_estimators {args.space}: " + ", ".join(
        f"{mode} cos {fidelity[mode]['mean_cosine']:.2f} at {cost[mode]:.1f}x"
        for mode in ESTIMATORS) + " (cost: x a single-path weight step)")


if __name__ == "__main__":
    main()
