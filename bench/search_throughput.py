#!/usr/bin/env python
"""Training throughput (images/s of weight steps: forward, backward, optimizer step) of the
largest fixed subnet and of the supernet in hard and soft mode, and of dense θ steps: the
search-cost check. A search epoch (weight steps on 80 % of the training set, one θ pass over
the other 20 %) is priced against a training epoch of the largest subnet. With
nni installed (requirements-nni.txt), the same space as an NNI 3.0 model space, mutated by
NNI's GumbelDARTS (and Proxyless) strategy, is timed with the same batch, input and loss.

    python bench/search_throughput.py [--space pfld_fbnet] [--batch 64] [--steps 10]
    .venv-nni/bin/python bench/search_throughput.py          # also NNI's strategies
    python bench/search_throughput.py --space mbv2_landmark --space_kwargs '{"num_points": 106}'
    python bench/search_throughput.py --space hourglass_seg --batch 32 \
        --space_kwargs '{"img_size": 64, "cap": 32, "kernels": [3, 5]}'

Writes output/bench/search_throughput_<space>.json; the last line printed is the summary.
"""
import argparse
import json
import time

import _common
import torch

from lib.latency import build_lut, check_lut
from lib.spaces import make_arch
from lib.supernet import Supernet, build_subnet
from lib.config import SearchConfig, SpaceOptions
from lib.train.tasks import LandmarkTask, make_task


def largest_choices(space: str, kwargs: dict) -> dict:
    """Every op slot's candidate with the most MACs (averaged over the width grids), every
    width slot's widest multiplier."""
    lut = build_lut(space, kwargs, backend="flops", calib_archs=1, progress=False)
    return check_lut(lut, space, kwargs).corner(dearest=True)


def random_batch(task, batch: int, gen) -> list:
    x = torch.rand(batch, 3, task.img_size, task.img_size, generator=gen)
    if isinstance(task, LandmarkTask):
        return [x, torch.rand(batch, 2 * task.num_points, generator=gen),
                torch.rand(batch, 3, generator=gen) * 60 - 30]
    return [x, torch.randint(task.num_classes, (batch, task.img_size, task.img_size),
                             generator=gen)]


def images_per_second(model, step_hook, task, batch, steps, warmup=3) -> float:
    data = random_batch(task, batch, torch.Generator().manual_seed(0))
    params = model.weight_parameters() if hasattr(model, "weight_parameters") else \
        model.parameters()
    opt = torch.optim.Adam(params, 1e-3)
    model.train()

    def step():
        step_hook()
        loss = task.loss(model, data)
        opt.zero_grad(set_to_none=True)
        loss.backward()
        opt.step()

    return timed_rate(step, batch, steps, warmup)


def timed_rate(step, batch, steps, warmup) -> float:
    """images/s of ``step`` over ``steps`` calls after ``warmup`` untimed ones."""
    for _ in range(warmup):
        step()
    start = time.perf_counter()
    for _ in range(steps):
        step()
    return batch * steps / (time.perf_counter() - start)


def theta_images_per_second(net, task, batch, steps, warmup=3) -> float:
    """images/s of dense θ steps (every candidate runs; forward and backward to θ)."""
    data = random_batch(task, batch, torch.Generator().manual_seed(0))
    gen = torch.Generator().manual_seed(0)
    net.train()

    def step():
        net.sample(1.0, gen, dense=True)
        torch.autograd.grad(task.theta_loss(net, data), list(net.arch_parameters()),
                            allow_unused=True)

    return timed_rate(step, batch, steps, warmup)


def nni_rates(space: str, kwargs: dict, task, batch: int, steps: int) -> tuple[dict, dict]:
    """images/s of NNI's supernets of ``space`` (weight steps, like ours), and why any could
    not be timed."""
    from lib.nni_adapter import nni_available, nni_model_space

    if not nni_available():
        return {}, {"nni": "not installed (pip install -r requirements-nni.txt)"}
    from nni.nas.oneshot.pytorch.supermodule.base import BaseSuperNetModule
    from nni.nas.strategy import GumbelDARTS, Proxyless

    def resample(supernet):
        """What NNI's training module does before each step (Proxyless samples a path)."""
        memo = {}
        for module in supernet.modules():
            if isinstance(module, BaseSuperNetModule):
                memo.update(module.resample(memo=memo))

    rates, skipped = {}, {}
    for name, strategy in (("nni_gumbel_darts", GumbelDARTS), ("nni_proxyless", Proxyless)):
        try:
            torch.manual_seed(0)
            supernet = strategy().mutate_model(nni_model_space(space, kwargs))
            rates[name] = images_per_second(supernet, lambda net=supernet: resample(net), task,
                                            batch, steps)
        except Exception as exc:  # a peer that fails on this space is reported, not fatal
            skipped[name] = f"{type(exc).__name__}: {exc}"
    return rates, skipped


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--space", default="pfld_fbnet")
    parser.add_argument("--space_kwargs", type=json.loads, default={},
                        help="JSON mapping over the space's defaults")
    parser.add_argument("--batch", type=int, default=64)
    parser.add_argument("--steps", type=int, default=10)
    parser.add_argument("--no_nni", action="store_true", help="skip NNI's strategies")
    args = parser.parse_args()
    kwargs = SpaceOptions(space=args.space, space_kwargs=args.space_kwargs).instance_kwargs()
    task = make_task(args.space, kwargs, "synthetic", None)
    torch.manual_seed(0)
    choices = largest_choices(args.space, kwargs)
    subnet = build_subnet(make_arch(args.space, kwargs, choices))
    rates = {"largest_subnet": images_per_second(subnet, lambda: None, task, args.batch,
                                                 args.steps)}
    for mode in ("hard", "soft"):
        net = Supernet(args.space, kwargs, gumbel=mode)
        gen = torch.Generator().manual_seed(0)
        rates[f"supernet_{mode}"] = images_per_second(
            net, lambda net=net, gen=gen: net.sample(1.0, gen), task, args.batch, args.steps)
    rates["theta_dense"] = theta_images_per_second(Supernet(args.space, kwargs), task,
                                                   args.batch, args.steps)
    ratio = rates["supernet_hard"] / rates["largest_subnet"]
    # a search epoch: weight steps on 1 - f of the training set, one dense θ pass over f
    # (SearchConfig.theta_split); a training epoch of the largest subnet: all of it
    f = SearchConfig.theta_split
    epoch_ratio = rates["largest_subnet"] * ((1 - f) / rates["supernet_hard"]
                                             + f / rates["theta_dense"])
    peers, skipped = nni_rates(args.space, kwargs, task, args.batch, args.steps) \
        if not args.no_nni else ({}, {"nni": "--no_nni"})
    rates.update(peers)
    over_nni = rates["supernet_hard"] / peers["nni_gumbel_darts"] \
        if "nni_gumbel_darts" in peers else None
    result = {"bench": "search_throughput", "space": args.space, "space_kwargs": kwargs,
              "batch": args.batch, "steps": args.steps, "largest_choices": choices,
              "images_per_s": rates, "hard_over_largest": ratio, "goal_hard_over_largest": 0.7,
              "theta_split": f, "search_epoch_over_largest_epoch": epoch_ratio,
              "goal_search_epoch_over_largest_epoch": 2.0,
              "hard_over_nni_gumbel_darts": over_nni, "goal_hard_over_nni": 30,
              "nni_skipped": skipped, "machine": _common.machine()}
    path = _common.write_result(f"search_throughput_{args.space}", result)
    for name, rate in rates.items():
        print(f"{name:>16}: {rate:8.1f} images/s")
    for name, why in skipped.items():
        print(f"{name:>16}: skipped, {why}")
    print(f"wrote {path}")
    nni = (f"; hard/NNI GumbelDARTS {over_nni:.1f}x (goal >= 30: "
           f"{'met' if over_nni >= 30 else 'NOT met'})" if over_nni else
           f"; NNI skipped ({next(iter(skipped.values()))})")
    print(f"search_throughput {args.space} batch {args.batch}: largest {rates['largest_subnet']:.0f}"
          f", hard {rates['supernet_hard']:.0f}, soft {rates['supernet_soft']:.0f}, θ dense "
          f"{rates['theta_dense']:.0f} images/s; hard/largest {ratio:.2f} (goal >= 0.7: "
          f"{'met' if ratio >= 0.7 else 'NOT met'}); search epoch / largest-subnet epoch "
          f"{epoch_ratio:.2f} (goal <= 2: {'met' if epoch_ratio <= 2 else 'NOT met'})"
          + nni)


if __name__ == "__main__":
    main()
