#!/usr/bin/env python
"""Sample subnets from a search and report their latency/error Pareto front.

    python tools/sample.py --supernet ckpt_save/supernet/checkpoint_last.pth --num 8

Writes output/pareto.csv and output/pareto.png (and output/arch_<id>.json per front member).
"""
import argparse
import sys

import _bootstrap

from lib.spaces import make_arch, save_arch
from lib.train import load_checkpoint
from lib.train.sampling import plot, sample_subnets, write_csv


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--supernet", required=True, help="search checkpoint")
    parser.add_argument("--num", type=int, default=8, help="subnets to sample (deduplicated)")
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--calib_batches", type=int, default=8,
                        help="training batches for BatchNorm recalibration")
    parser.add_argument("--data_root", default=None, help="override the search's data root")
    parser.add_argument("--limit_val", type=int, default=None)
    parser.add_argument("--out", default="output", help="output folder")
    args = parser.parse_args(argv)
    _bootstrap.setup_logging()
    rows = sample_subnets(args.supernet, args.num, args.seed, args.calib_batches,
                          data_root=args.data_root, limit_val=args.limit_val)
    ckpt = load_checkpoint(args.supernet, kind="supernet")
    write_csv(rows, f"{args.out}/pareto.csv")
    plot(rows, f"{args.out}/pareto.png")
    for row in rows:
        mark = "*" if row["on_front"] else " "
        print(f"{mark} {row['arch_id']:>9}  {row['predicted']:.4f} {row['unit']}  "
              f"{row['metric']} {row['val']:.4f}  {row['params']:>7} params")
        if row["on_front"]:
            save_arch(make_arch(ckpt["space"], ckpt["space_kwargs"], row["choices"]),
                      f"{args.out}/arch_{row['arch_id']}.json")
    print(f"wrote {args.out}/pareto.csv and {args.out}/pareto.png (* = on the front)")
    return 0


if __name__ == "__main__":
    sys.exit(_bootstrap.run_main(main))
