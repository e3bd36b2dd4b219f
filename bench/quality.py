#!/usr/bin/env python
"""Searched vs hand-designed: searches at several latency budgets, retrains each derived
subnet from the supernet's weights, trains the hand-designed baselines from scratch with the
same retraining budget, and evaluates all of them on the test split with measured latency.

    python bench/quality.py --dataset synthetic --targets 0.22 0.30
    python bench/quality.py --dataset jd106 --data_root data/datatang106 \
        --search_config configs/datatang_search.yaml --retrain_config configs/datatang_retrain.yaml

Every search uses --mode target with --target_ms each budget (in the LUT's unit). Latency
is measured, not predicted: the fastest of --timings onnxruntime sessions (one thread, the
median of 300 runs each) of the exported subnet. Writes output/bench/quality_<dataset>.json, a markdown table
and a latency-vs-NME plot beside it; the last line printed is the summary. Goal on real data:
a searched subnet at least 3x faster than the hand-designed PFLD baseline (pfld_mbv2) at no
worse NME.
"""
import argparse
import logging
from dataclasses import replace

import _common

from lib.latency import time_ort
from lib.spaces import DeployView
from lib.train import RetrainConfig, SearchConfig, parse_config, run_retrain, run_search
from lib.train.evaluation import evaluate
from lib.train.models import subnet_from_checkpoint

ARCHS = _common.ROOT / "lib" / "spaces" / "archs"
BASELINES = ("pfld_mbv2", "pfld_mbv3_small")


def measured_ms(ckpt, timings: int) -> tuple[list[float], dict]:
    """Medians of ``timings`` fresh onnxruntime sessions (the fastest is the model's cost:
    see ``time_module``), and the checkpoint's architecture."""
    model, arch, _ = subnet_from_checkpoint(ckpt)
    size = arch["space_kwargs"].get("img_size", 112)
    return [time_ort(DeployView(model.eval()), [1, 3, size, size], 1, runs=300)
            for _ in range(timings)], arch


def row(name, kind, ckpt, args) -> dict:
    report = evaluate(ckpt, args.dataset, args.data_root, "test", runs=50)
    times, arch = measured_ms(ckpt, args.timings)
    predicted = arch.get("meta", {}).get("predicted")  # a searched arch carries its own
    return {"model": name, "kind": kind, "checkpoint": str(ckpt), "predicted_ms": predicted,
            "ms": min(times), "ms_sessions": times, "nme_box": report["nme_box"],
            "nme_io": report.get("nme_io"), "params": report["params"],
            "mmacs": report["macs"] / 1e6, "choices": report["choices"]}


def plot(path, rows) -> None:
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    fig, ax = plt.subplots(figsize=(6, 4))
    for kind, marker in (("searched", "o"), ("baseline", "s")):
        pts = [r for r in rows if r["kind"] == kind]
        ax.scatter([r["ms"] for r in pts], [r["nme_box"] for r in pts], marker=marker,
                   label=kind)
        for r in pts:
            ax.annotate(r["model"], (r["ms"], r["nme_box"]), fontsize=7,
                        textcoords="offset points", xytext=(4, 4))
    ax.set(xscale="log", xlabel="measured latency, ms (onnxruntime, 1 thread)",
           ylabel="test NME (box)")
    ax.legend()
    fig.tight_layout()
    fig.savefig(path, dpi=120)
    plt.close(fig)


def table(rows) -> str:
    lines = ["| model | predicted ms | measured ms | params | MMACs | NME box | NME io |",
             "|---|---|---|---|---|---|---|"]
    for r in rows:
        predicted = f"{r['predicted_ms']:.3f}" if r["predicted_ms"] is not None else "-"
        io = f"{r['nme_io']:.4f}" if r["nme_io"] is not None else "-"
        lines.append(f"| {r['model']} | {predicted} | {r['ms']:.3f} | {r['params']:,} | "
                     f"{r['mmacs']:.1f} | {r['nme_box']:.4f} | {io} |")
    return "\n".join(lines) + "\n"


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--dataset", default="synthetic")
    parser.add_argument("--data_root", default=None)
    parser.add_argument("--targets", type=float, nargs="+", default=[0.22, 0.30],
                        help="latency budgets (LUT unit, ms for the shipped LUT)")
    parser.add_argument("--search_config", default="configs/demo.yaml")
    parser.add_argument("--retrain_config", default="configs/demo_retrain.yaml")
    parser.add_argument("--baselines", nargs="*", default=list(BASELINES),
                        help=f"architecture files in {ARCHS.relative_to(_common.ROOT)}")
    parser.add_argument("--timings", type=int, default=3, help="onnxruntime sessions per model")
    args = parser.parse_args()
    logging.basicConfig(level=logging.INFO, format="%(asctime)s %(name)s: %(message)s",
                        datefmt="%H:%M:%S")
    root = _common.ROOT / "ckpt_save" / "bench_quality" / args.dataset
    data = ["--dataset", args.dataset] + (["--data_root", args.data_root] if args.data_root
                                          else [])
    search = parse_config(SearchConfig, ["--config", args.search_config, *data])
    retrain = parse_config(RetrainConfig, ["--config", args.retrain_config, *data,
                                           "--arch", "-", "--from_scratch"])  # set per model
    rows = []
    for target in args.targets:
        snapshot = root / f"target_{target:g}"
        run_search(replace(search, mode="target", target_ms=target,
                                    snapshot=str(snapshot), progress=False))
        # the search's result is its final θ (checkpoint_last.pth, as in the Makefile)
        searched = snapshot / "supernet" / "checkpoint_last.pth"
        run_retrain(replace(retrain, arch=None, from_scratch=False, supernet=str(searched),
                            snapshot=str(snapshot), name="subnet", progress=False))
        rows.append(row(f"searched @{target:g} ms", "searched",
                        snapshot / "subnet" / "checkpoint_best.pth", args))
    for name in args.baselines:
        run_retrain(replace(retrain, arch=str(ARCHS / f"{name}.json"), from_scratch=True,
                            snapshot=str(root), name=name, progress=False))
        rows.append(row(name, "baseline", root / name / "checkpoint_best.pth", args))
    name = f"quality_{args.dataset}"
    md = _common.ROOT / "output" / "bench" / f"{name}.md"
    png = md.with_suffix(".png")
    md.parent.mkdir(parents=True, exist_ok=True)
    md.write_text(table(rows))
    plot(png, rows)
    reference = next((r for r in rows if r["model"] == "pfld_mbv2"), None)
    verdict = ""
    if reference:
        wins = [r for r in rows if r["kind"] == "searched" and r["nme_box"] <= reference[
            "nme_box"] and reference["ms"] / r["ms"] >= 3]
        fastest = max((r for r in rows if r["kind"] == "searched"),
                      key=lambda r: reference["ms"] / r["ms"])
        verdict = (f"; best speed-up over pfld_mbv2 {reference['ms'] / fastest['ms']:.1f}x at "
                   f"NME {fastest['nme_box']:.4f} vs {reference['nme_box']:.4f}; goal (>= 3x, "
                   f"no worse NME) {'met' if wins else 'NOT met'}")
    out = _common.write_result(name, {"bench": "quality", "dataset": args.dataset,
                                      "data_root": args.data_root, "targets": args.targets,
                                      "search_config": args.search_config,
                                      "retrain_config": args.retrain_config, "rows": rows,
                                      "table": str(md), "plot": str(png),
                                      "machine": _common.machine()})
    print(table(rows))
    print(f"wrote {out}, {md} and {png}")
    print(f"quality {args.dataset}: " + ", ".join(f"{r['model']} {r['ms']:.3f} ms NME "
                                                  f"{r['nme_box']:.4f}" for r in rows) + verdict)


if __name__ == "__main__":
    main()
