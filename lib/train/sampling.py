"""Subnets from a finished search: the argmax plus K samples of the learned per-slot
distributions, each scored one-shot (inherited weights, BatchNorm recalibrated on a few
training batches) on the validation split and priced by the LUT."""
from __future__ import annotations

import csv
import json
import logging

import torch
from torch.utils.data import DataLoader
from tqdm import tqdm

from ..atomic import atomic_open
from ..latency import count_macs, resolve_lut
from ..spaces import DeployView, deployed_params
from ..supernet import inherited_subnet
from .models import supernet_from_checkpoint
from .tasks import make_task, recalibrate_bn

log = logging.getLogger(__name__)
FIELDS = ["arch_id", "choices", "predicted", "unit", "params", "macs", "metric", "val",
          "on_front"]


def one_shot_score(supernet, arch: dict, task, calib, val, calib_batches: int = 8):
    """``(validation metric, model)`` of ``arch`` with the supernet's weights, BatchNorm
    re-estimated on ``calib_batches`` batches of ``calib``: how the supernet ranks it."""
    model = inherited_subnet(supernet, arch)
    # the supernet's running statistics mix every sampled path; without re-estimating them
    # (as SPOS does) one-shot scores would mostly reflect mismatched statistics
    recalibrate_bn(model, calib, "cpu", calib_batches)
    return task.evaluate(model, val, "cpu")[task.metric], model


def sample_subnets(supernet_ckpt, num: int = 8, seed: int = 0, calib_batches: int = 8,
                   batch_size: int = 64, data_root=None, limit_val=None,
                   progress: bool = True) -> list[dict]:
    supernet, ckpt = supernet_from_checkpoint(supernet_ckpt)
    cfg = ckpt["config"]
    lut = resolve_lut(cfg["lut"], supernet.space, supernet.space_kwargs)
    task = make_task(supernet.space, supernet.space_kwargs, cfg["dataset"],
                     data_root or cfg["data_root"])
    splits = task.splits(None, limit_val, seed)
    gen = torch.Generator().manual_seed(seed)
    calib = DataLoader(splits["train"], batch_size, shuffle=True, generator=gen)
    val = DataLoader(splits["val"], batch_size)
    candidates = [supernet.derive()] + supernet.sample_archs(num, gen)
    # samples from a peaked θ repeat the argmax and each other: each architecture is scored once
    unique = list({json.dumps(c, sort_keys=True): c for c in candidates}.values())
    rows = []
    for index, choices in enumerate(tqdm(unique, desc="score subnets", disable=not progress)):
        arch = supernet.derived_arch(choices)
        score, model = one_shot_score(supernet, arch, task, calib, val, calib_batches)
        macs, _ = count_macs(DeployView(model), [1, 3, task.img_size, task.img_size])
        rows.append({"arch_id": "argmax" if index == 0 else f"sample{index}",
                     "choices": choices, "predicted": lut.predict(choices), "unit": lut.unit,
                     "params": deployed_params(model),
                     "macs": macs, "metric": task.metric, "val": score})
    # the front minimises both coordinates: cost, and the metric negated when higher is better
    sign = -1 if task.higher_is_better else 1
    front = pareto_front([(r["predicted"], sign * r["val"]) for r in rows])
    for row, flag in zip(rows, front):
        row["on_front"] = flag
    return rows


def write_csv(rows: list[dict], path) -> None:
    with atomic_open(path, "w") as handle:
        writer = csv.DictWriter(handle, FIELDS)
        writer.writeheader()
        for row in rows:
            writer.writerow({**row, "choices": json.dumps(row["choices"], sort_keys=True)})


def pareto_front(points: list[tuple[float, float]]) -> list[bool]:
    """``True`` for each point no other point dominates (<= in both, < in one)."""
    flags = []
    for i, (c, e) in enumerate(points):
        dominated = any((c2 <= c and e2 <= e) and (c2 < c or e2 < e)
                        for j, (c2, e2) in enumerate(points) if j != i)
        flags.append(not dominated)
    return flags


def hypervolume(points: list[tuple[float, float]], reference: tuple[float, float]) -> float:
    """The area dominated by ``points`` (both coordinates minimised) and bounded by
    ``reference``: the larger, the better the front. Points not better than the reference in
    both coordinates add nothing."""
    inside = sorted((c, e) for c, e in points if c < reference[0] and e < reference[1])
    area, ceiling = 0.0, reference[1]
    for c, e in inside:  # by cost; each new best error adds the slab between it and the last
        if e < ceiling:
            area += (reference[0] - c) * (ceiling - e)
            ceiling = e
    return area
