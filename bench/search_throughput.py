#!/usr/bin/env python
"""Training throughput (images/s of weight steps: forward, backward, optimizer step) at
batch 64, 112x112, for the largest fixed subnet and for the supernet in hard and soft mode.

    python bench/search_throughput.py [--space pfld_fbnet] [--batch 64] [--steps 10]

Writes output/bench/search_throughput.json; the last line printed is the summary.
"""
import argparse
import time

import _common
import torch

from lib.latency import build_lut, check_lut
from lib.spaces import make_arch
from lib.supernet import Supernet, build_subnet
from lib.train.losses import angle_loss, pfld_loss


def largest_choices(space: str, kwargs: dict) -> dict:
    """Every slot's candidate with the most MACs."""
    table = check_lut(build_lut(space, kwargs, backend="flops", calib_archs=1, progress=False),
                      space, kwargs)
    return {label: info["candidates"][int(table.slot_costs()[label].argmax())]
            for label, info in table.slots.items()}


def images_per_second(model, step_hook, batch, size, points, steps, warmup=3) -> float:
    gen = torch.Generator().manual_seed(0)
    x = torch.rand(batch, 3, size, size, generator=gen)
    target = torch.rand(batch, 2 * points, generator=gen)
    pose = torch.rand(batch, 3, generator=gen) * 60 - 30
    params = model.weight_parameters() if hasattr(model, "weight_parameters") else \
        model.parameters()
    opt = torch.optim.Adam(params, 1e-3)
    model.train()

    def step():
        step_hook()
        pred, pose_pred = model(x)
        loss = pfld_loss(pred, target, pose_pred, pose) + angle_loss(pose_pred, pose)
        opt.zero_grad(set_to_none=True)
        loss.backward()
        opt.step()

    for _ in range(warmup):
        step()
    start = time.perf_counter()
    for _ in range(steps):
        step()
    return batch * steps / (time.perf_counter() - start)


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--space", default="pfld_fbnet")
    parser.add_argument("--batch", type=int, default=64)
    parser.add_argument("--img_size", type=int, default=112)
    parser.add_argument("--num_points", type=int, default=106)
    parser.add_argument("--steps", type=int, default=10)
    args = parser.parse_args()
    kwargs = {"img_size": args.img_size, "num_points": args.num_points}
    torch.manual_seed(0)
    choices = largest_choices(args.space, kwargs)
    subnet = build_subnet(make_arch(args.space, kwargs, choices))
    rates = {"largest_subnet": images_per_second(subnet, lambda: None, args.batch,
                                                 args.img_size, args.num_points, args.steps)}
    for mode in ("hard", "soft"):
        net = Supernet(args.space, kwargs, gumbel=mode)
        gen = torch.Generator().manual_seed(0)
        rates[f"supernet_{mode}"] = images_per_second(
            net, lambda net=net, gen=gen: net.sample(1.0, gen), args.batch, args.img_size,
            args.num_points, args.steps)
    ratio = rates["supernet_hard"] / rates["largest_subnet"]
    result = {"bench": "search_throughput", "space": args.space, "batch": args.batch,
              "img_size": args.img_size, "steps": args.steps, "largest_choices": choices,
              "images_per_s": rates, "hard_over_largest": ratio, "goal_hard_over_largest": 0.7,
              "machine": _common.machine()}
    path = _common.write_result("search_throughput", result)
    for name, rate in rates.items():
        print(f"{name:>16}: {rate:8.1f} images/s")
    print(f"wrote {path}")
    print(f"search_throughput {args.space} batch {args.batch}: largest {rates['largest_subnet']:.0f}"
          f", hard {rates['supernet_hard']:.0f}, soft {rates['supernet_soft']:.0f} images/s; "
          f"hard/largest {ratio:.2f} (goal >= 0.7: {'met' if ratio >= 0.7 else 'NOT met'})")


if __name__ == "__main__":
    main()
