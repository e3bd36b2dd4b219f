#!/usr/bin/env python
"""The input pipeline against the training step: which one sets the pace of a PFLD search.

    python bench/input_pipeline.py [--faces 20000] [--batch 64] [--workers 0 1 2]

1. Generates ``data/synthetic_<faces>`` once (that many training faces, 112 px; not shipped).
2. The pipeline alone: images/s of reading (decoding each JPEG when read, "streamed", or
   indexing the array decoded up front, "preloaded"), ``--augment``'s landmark augmentation
   and collation, through the training loader (``lib.train.batches.Batches``) with each
   ``--workers`` count.
3. The step alone: images/s of the PFLD supernet's search step (a weight step and its share
   of dense θ steps, the ratio of a search with ``--theta_split 0.2``) on one batch held in
   memory.
4. Both: images/s of that step fed by the loader (streamed, augmented) with each workers count;
   what a search epoch runs at.

Writes output/bench/input_pipeline.json; prints a table.
"""
import argparse
import itertools
import time

import _common
import torch

from lib.config import SearchConfig
from lib.data import LandmarkListDataset, dataset_layout, ensure_synthetic
from lib.data.augment import Augmented, LandmarkAugment
from lib.train.batches import Batches, to_device
from lib.train.distributed import distributed
from lib.train.loop import _Silent
from lib.train.search import Searcher


def parse_args():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--faces", type=int, default=20000, help="training faces to generate")
    parser.add_argument("--batch", type=int, default=64)
    parser.add_argument("--workers", type=int, nargs="+", default=[0, 1, 2])
    parser.add_argument("--batches", type=int, default=30,
                        help="batches per pipeline-alone measurement")
    parser.add_argument("--steps", type=int, default=12, help="steps per step measurement")
    return parser.parse_args()


def rate(batches, count: int, work=lambda batch: None) -> float:
    """Images/s over ``count`` batches after one untimed (worker start-up, first-touch)."""
    work(next(batches))
    images, start = 0, time.perf_counter()
    for batch in itertools.islice(batches, count):
        work(batch)
        images += len(batch[0])
    return images / (time.perf_counter() - start)


def search_step(searcher: Searcher):
    """(a held batch, the search's own step on a batch): θ active from the first batch, its θ
    batches the held one, so that no loader runs inside the timed region."""
    searcher.theta_start = 0
    held = searcher.precision.inputs(to_device(next(iter(searcher.batches.epoch(0))),
                                               searcher.device))
    searcher.theta_batches = itertools.repeat(held)
    # the weight part is 80 % of the training set: 1 θ step per 4 weight steps
    searcher.theta, searcher.batches = [None] * 1, [None] * 4

    def step(batch):
        searcher.batch = (searcher.batch + 1) % 4
        searcher.train_batch(batch, _Silent())
    return held, step


def main():
    args = parse_args()
    root = ensure_synthetic(_common.ROOT / "data" / f"synthetic_{args.faces}", 112,
                            {"train": args.faces, "val": 64, "test": 64}, seed=0)
    layout = dataset_layout("synthetic", root, 106)
    cfg = SearchConfig(data_root=str(root), dev_id="cpu", batch_size=args.batch, workers=0,
                       limit_train=4 * args.batch, progress=False, warmup_epochs=0, epochs=2)
    result = {"faces": args.faces, "batch": args.batch, "machine": _common.machine(),
              "pipeline": {}, "step": None, "step_with_loader": {}}
    with distributed(cfg) as dist:
        held, step = search_step(Searcher(cfg, dist))
        result["step"] = rate(itertools.repeat(held), args.steps, step)
        print(f"search step alone: {result['step']:.0f} images/s")
        for mode in ("preloaded", "streamed"):
            base = LandmarkListDataset(root / "train_data" / "list.txt", 106, 112,
                                       preload=mode == "preloaded")
            data = Augmented(base, LandmarkAugment(layout), seed=0)
            for workers in args.workers:
                loader = Batches(data, args.batch, dist, seed=0, workers=workers)
                value = rate(loader.forever(), args.batches)
                result["pipeline"][f"{mode}, {workers} workers"] = value
                print(f"pipeline alone, {mode}, {workers} workers: {value:.0f} images/s")
                if mode == "streamed":
                    value = rate(loader.forever(), args.steps, step)
                    result["step_with_loader"][f"{workers} workers"] = value
                    print(f"step fed by the loader, {workers} workers: {value:.0f} images/s")
    path = _common.write_result("input_pipeline", result)
    print(f"wrote {path}")


if __name__ == "__main__":
    torch.manual_seed(0)
    main()
