#!/usr/bin/env python
"""How well a supernet ranks its space's ground-truth architectures.

    python bench/rank_supernet.py --supernet ckpt_save/supernet/checkpoint_last.pth
    python bench/rank_supernet.py --supernet CKPT --table bench/groundtruth/X.json

Scores every architecture of the table that lies in the supernet's space one-shot, with the
code ``tools/sample.py`` scores its samples with (``lib.train.sampling.one_shot_score``:
inherited weights, BatchNorm re-estimated on --calib_batches training batches, validation
split), and compares the scores with the table's seed-mean test metric: Kendall τ over all,
in the best 20 % and inside each matched window; the top-k overlap; per window the
ground-truth percentile (100: the window's best) and the regret of the architecture the
supernet ranks first. Every figure has a bootstrap 95 % interval over the architectures.

Writes output/bench/rank_supernet_<run>.json (the scores too) and prints a summary last."""
import argparse
import logging
import statistics
from pathlib import Path

import _common
import torch
from torch.utils.data import DataLoader
from tqdm import tqdm

from groundtruth_stats import arch_means, ranking
from groundtruth_table import Table
from lib.spaces import make_arch, short_kwargs
from lib.train.models import supernet_from_checkpoint
from lib.train.sampling import one_shot_score
from lib.train.tasks import make_task

log = logging.getLogger("rank_supernet")


def parse_args(argv=None):
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--supernet", required=True, help="search checkpoint")
    p.add_argument("--table", type=Path, help="ground-truth table (default: bench/groundtruth/"
                                              "<space>_<dataset>.json of the search)")
    p.add_argument("--calib_batches", type=int, default=8)
    p.add_argument("--batch_size", type=int, default=64)
    p.add_argument("--limit_val", type=int, default=None)
    p.add_argument("--out", type=Path, default=_common.ROOT / "output" / "bench")
    return p.parse_args(argv)


def truth_of(table: Table) -> dict[str, float]:
    """Architecture id -> its seed-mean test metric as an error (lower better), for the
    architectures of the table's own space instance."""
    sign = -1.0 if table.data["higher_is_better"] else 1.0
    return {a: sign * statistics.fmean(v) for a, v in arch_means(table.runs, "test").items()
            if "arch" not in table.archs[a]}


def one_shot_scores(supernet, ckpt: dict, table: Table, ids, args) -> dict[str, float]:
    cfg = ckpt["config"]
    task = make_task(supernet.space, supernet.space_kwargs, cfg["dataset"], cfg["data_root"])
    splits = task.splits(table.data["recipe"].get("limit_train"), args.limit_val, 0)
    calib = DataLoader(splits["train"], args.batch_size, shuffle=True,
                       generator=torch.Generator().manual_seed(0))
    val = DataLoader(splits["val"], args.batch_size)
    sign = -1.0 if task.higher_is_better else 1.0
    scores = {}
    for arch_id in tqdm(ids, desc="one-shot scores"):
        arch = make_arch(supernet.space, supernet.space_kwargs, table.archs[arch_id]["choices"])
        scores[arch_id] = sign * one_shot_score(supernet, arch, task, calib, val,
                                                args.calib_batches)[0]
    return scores


def main(argv=None):
    logging.basicConfig(level=logging.INFO, format="%(asctime)s %(name)s: %(message)s",
                        datefmt="%H:%M:%S")
    args = parse_args(argv)
    supernet, ckpt = supernet_from_checkpoint(args.supernet)
    dataset = Path(ckpt["config"]["data_root"]).name if ckpt["config"]["data_root"] else \
        ckpt["config"]["dataset"]
    path = args.table or _common.ROOT / "bench" / "groundtruth" / \
        f"{supernet.space}_{dataset}.json"
    table = Table.load(path)
    if (table.data["space"], table.data["space_kwargs"]) != (supernet.space,
                                                              supernet.space_kwargs):
        raise SystemExit(f"error: {path} is of {table.data['space']} "
                         f"{short_kwargs(table.data['space'], table.data['space_kwargs'])}, "
                         f"the supernet {supernet.space} "
                         f"{short_kwargs(supernet.space, supernet.space_kwargs)}")
    truth = truth_of(table)
    if len(truth) < 2:
        raise SystemExit(f"error: {path} has {len(truth)} trained architectures of the space")
    scores = one_shot_scores(supernet, ckpt, table, sorted(truth), args)
    result = {"supernet": str(args.supernet), "table": str(path), "metric": table.data["metric"],
              "errors": "truth and scores: lower better (a higher-is-better metric negated)",
              **ranking(truth, scores, table.windows()), "scores": scores, "truth": truth,
              "machine": _common.machine()}
    name = Path(args.supernet).resolve().parent.name
    out = _common.write_result(f"rank_supernet_{name}", result, args.out)
    tau = result["tau"]
    print(f"wrote {out}")
    print(f"{args.supernet} on {path.name}: Kendall τ {tau['value']:.2f} "
          f"[{tau['ci95'][0]:.2f}, {tau['ci95'][1]:.2f}] over {tau['n']} architectures; best "
          f"20 %: {result['tau_top']['value']:.2f}; top-{result['top_k_overlap']['k']} overlap "
          f"{result['top_k_overlap']['value']:.2f}")
    for window, w in result["windows"].items():
        pct = w["pick_percentile"]
        if pct["value"] is not None:
            print(f"  window {window}: τ {w['tau']['value']:.2f}, pick {w['pick']} at "
                  f"percentile {pct['value']:.0f} [{pct['ci95'][0]:.0f}, {pct['ci95'][1]:.0f}], "
                  f"regret {w['regret']['value']:.4f}")


if __name__ == "__main__":
    main()
