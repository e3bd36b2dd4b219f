#!/usr/bin/env python
"""Sample subnets from a search and report their latency/error Pareto front.

    python tools/sample.py --supernet ckpt_save/supernet/checkpoint_last.pth --num 8

Writes output/pareto.csv and output/pareto.png (and output/arch_<id>.json per front member,
and the resolved options as output/sample_config.yaml).
"""
import sys
from pathlib import Path

import _bootstrap

from lib.atomic import atomic_open
from lib.config import SampleConfig, parse_config, save_config
from lib.spaces import make_arch, save_arch
from lib.train import load_checkpoint
from lib.train.sampling import sample_subnets, write_csv


def plot(rows: list[dict], path) -> None:
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    fig, ax = plt.subplots(figsize=(6, 4.5), dpi=120)
    for on_front, style in ((False, {"c": "0.6", "label": "sampled"}),
                            (True, {"c": "tab:red", "label": "Pareto front"})):
        pts = sorted((r["predicted"], r["val"]) for r in rows if r["on_front"] == on_front)
        if pts:
            ax.scatter(*zip(*pts), **style)
            if on_front:
                ax.plot(*zip(*pts), c="tab:red", lw=1)
    for r in rows:
        if r["arch_id"] == "argmax":
            ax.annotate("argmax", (r["predicted"], r["val"]), fontsize=8)
    ax.set_xlabel(f"LUT-predicted latency ({rows[0]['unit']})")
    ax.set_ylabel(f"val {rows[0]['metric']}, one-shot")
    ax.legend()
    ax.grid(alpha=0.3)
    fig.tight_layout()
    Path(path).parent.mkdir(parents=True, exist_ok=True)
    with atomic_open(path, "wb") as handle:
        fig.savefig(handle, format="png")
    plt.close(fig)


def main(argv=None) -> int:
    args = parse_config(SampleConfig, argv, __doc__.splitlines()[0])
    _bootstrap.setup_logging()
    rows = sample_subnets(args.supernet, args.num, args.seed, args.calib_batches,
                          data_root=args.data_root, limit_val=args.limit_val)
    ckpt = load_checkpoint(args.supernet, kind="supernet")
    write_csv(rows, f"{args.out}/pareto.csv")
    plot(rows, f"{args.out}/pareto.png")
    save_config(args, f"{args.out}/sample_config.yaml")
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
