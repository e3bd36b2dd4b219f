#!/usr/bin/env python
"""Searched vs random architectures of the same LUT latency, trained the same way.

    python bench/search_vs_random.py                  # make vs_random (PFLD, synthetic faces)
    python bench/search_vs_random.py --search_config configs/datatang_search.yaml \\
        --retrain_config configs/datatang_retrain.yaml   # make vs_random_datatang

1. Searches with each of --seeds in ``--mode target`` at --target (default: the median LUT
   latency of uniformly random architectures), once in the default ``mul`` mode, and once at
   each hand-designed baseline's latency (LUT-predicted when the baseline lies in the space,
   else measured; clamped to the space's range: a slower baseline gets the dearest budget).
2. Per searched architecture, --random architectures drawn uniformly from the space and kept
   when the LUT predicts them within ±--tolerance of its latency (rejection sampling; one pool,
   so a random architecture in two windows serves both).
3. Trains every architecture and the baselines from scratch with the retraining recipe (same
   epochs, data, augmentation, lr, seed) and scores the best-validation checkpoint on the test
   split. Per target seed, the searched one and --inherit of its random ones are also trained
   from that search's supernet weights; the first seed's pick and its first random match are
   also trained with --noise_seeds other seeds (the training noise every comparison carries).
4. One-shot scores: each target search's supernet scores every architecture of the space that
   was trained (inherited weights, BatchNorm re-estimated, validation split); Kendall τ against
   the trained test scores, over all and within the best 20 %.
5. Latency: every distinct model measured with onnxruntime (1 thread), round robin in one run
   (``time_ort_round_robin``); the model's figure is the fastest round.

Writes output/bench/search_vs_random_<space>_<dataset>.json (every row, the sizes used and a
``summary``), a markdown table and a PNG of metric against measured latency. Runs go under
ckpt_save/vs_random/<space>_<dataset>/ and resume (each search and training continues from its
checkpoint_last.pth), so an interrupted bench picks up where it stopped.
"""
import argparse
import json
import logging
import random
import statistics
from dataclasses import replace
from pathlib import Path

import _common
import torch
from torch.utils.data import DataLoader

from lib.latency import kendall_tau
from lib.atomic import atomic_write_text
from lib.latency import time_ort
from lib.latency.lut import random_choices
from lib.latency.measure import export_onnx_bytes, time_ort_round_robin
from lib.latency.ranking import mean_ci95, percentile_among
from lib.spaces import DeployView, full_kwargs, jsonable, load_arch, make_arch, save_arch
from lib.supernet import build_subnet
from lib.train import RetrainConfig, SearchConfig, parse_config, run_retrain, run_search
from lib.train.evaluation import evaluate
from lib.train.models import subnet_from_checkpoint, supernet_from_checkpoint
from lib.train.sampling import one_shot_score
from lib.train.search import resolve_lut
from lib.train.tasks import make_task

log = logging.getLogger("vs_random")
ARCHS = _common.ROOT / "lib" / "spaces" / "archs"
BASELINES = {"pfld_fbnet": ["pfld_mbv2", "pfld_mbv3_small"],
             "mbv2_landmark": ["mbv2_landmark_1.0"], "hourglass_seg": ["hourglass_seg_mid"]}
MAX_DRAWS = 200_000  # uniform draws per window before giving up on --random matches


def parse_args():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--search_config", default="configs/demo.yaml")
    parser.add_argument("--retrain_config", default="configs/demo_retrain.yaml")
    parser.add_argument("--seeds", type=int, nargs="+", default=[0, 1, 2])
    parser.add_argument("--target", type=float, default=None,
                        help="budget of the target-mode searches, LUT unit (default: the "
                             "median LUT latency of uniformly random architectures)")
    parser.add_argument("--tolerance", type=float, default=0.05,
                        help="random architectures' LUT latency within ± this fraction")
    parser.add_argument("--random", type=int, default=10, help="random architectures per search")
    parser.add_argument("--inherit", type=int, default=3,
                        help="random architectures per target seed also trained from the "
                             "supernet's weights")
    parser.add_argument("--baselines", nargs="*", default=None,
                        help=f"architecture files in {ARCHS.relative_to(_common.ROOT)} "
                             "(default: the space's hand-designed ones)")
    parser.add_argument("--baseline_kwargs", type=json.loads, default={},
                        help="space kwargs for the baselines (JSON), e.g. the searched input "
                             "size; a baseline of the searched space and kwargs is priced by "
                             "the LUT and scored one-shot like the others")
    parser.add_argument("--rounds", type=int, default=5, help="round-robin timing rounds")
    parser.add_argument("--runs", type=int, default=100, help="timed runs per model per round")
    parser.add_argument("--calib_batches", type=int, default=8,
                        help="batches that re-estimate BatchNorm for a one-shot score")
    parser.add_argument("--noise_seeds", type=int, default=2,
                        help="the first target search's pick and its first random match are "
                             "also trained with this many other seeds: the training noise")
    parser.add_argument("--no_mul", action="store_true", help="skip the mul-mode search")
    parser.add_argument("--runs_dir", default="ckpt_save/vs_random",
                        help="searches and trainings go to <runs_dir>/<space>_<dataset>/")
    parser.add_argument("--out", default="output/bench", help="folder of the JSON, table, PNG")
    return parser.parse_args()


def configs(args):
    search = parse_config(SearchConfig, ["--config", args.search_config])
    retrain = parse_config(RetrainConfig, ["--config", args.retrain_config, "--arch", "-",
                                           "--from_scratch"])  # arch set per model
    common = {"progress": False, "auto_resume": True}
    search, retrain = replace(search, **common), replace(retrain, **common)
    if (search.dataset, search.data_root) != (retrain.dataset, retrain.data_root):
        raise SystemExit(f"{args.search_config} and {args.retrain_config} name different data")
    return search, retrain


def draw_matched(lut, pool: list[dict], center: float, args, rng, exclude: dict) -> tuple:
    """Indices into ``pool`` of ``args.random`` architectures within the window around
    ``center``, drawing (and appending to ``pool``) until there are enough; and the draws made."""
    low, high = center * (1 - args.tolerance), center * (1 + args.tolerance)
    inside = lambda c: low <= lut.predict(c) <= high and c != exclude  # noqa: E731
    picked = [i for i, c in enumerate(pool) if inside(c)][:args.random]
    draws = 0
    while len(picked) < args.random and draws < MAX_DRAWS:
        draws += 1
        choices = random_choices(lut.slots, rng)
        if inside(choices) and choices not in pool:
            pool.append(choices)
            picked.append(len(pool) - 1)
    if len(picked) < args.random:
        log.warning("only %d random architectures within ±%g of %.4f after %d draws",
                    len(picked), args.tolerance, center, draws)
    return picked, draws


def baseline_archs(args, space: str, kwargs: dict) -> dict:
    """Name -> architecture of each baseline file, with ``--baseline_kwargs`` applied."""
    names = BASELINES.get(space, []) if args.baselines is None else args.baselines
    archs = {}
    for name in names:
        arch = load_arch(ARCHS / f"{name}.json")
        arch["space_kwargs"] = {**arch.get("space_kwargs", {}), **args.baseline_kwargs}
        archs[name] = arch
    return archs


def in_space(arch: dict, space: str, kwargs: dict) -> bool:
    return arch["space"] == space and \
        jsonable(full_kwargs(space, arch["space_kwargs"])) == jsonable(full_kwargs(space, kwargs))


def budget_of(lut, arch: dict, space: str, kwargs: dict) -> float:
    """The LUT's price of a baseline of the searched space, else its measured latency
    (onnxruntime, one thread, median of 200 runs)."""
    if in_space(arch, space, kwargs):
        return lut.predict(arch["choices"])
    size = full_kwargs(arch["space"], arch["space_kwargs"])["img_size"]
    return time_ort(DeployView(build_subnet(arch).eval()), [1, 3, size, size])


def train(retrain, root: Path, name: str, arch_file: Path, supernet: Path | None = None) -> Path:
    run_retrain(replace(retrain, arch=str(arch_file), supernet=str(supernet) if supernet else None,
                        from_scratch=supernet is None, snapshot=str(root), name=name))
    return root / name / "checkpoint_best.pth"


def test_score(ckpt: Path, retrain, metric: str) -> float:
    return evaluate(ckpt, retrain.dataset, retrain.data_root, "test", runs=1)[metric]


def main():
    args = parse_args()
    logging.basicConfig(level=logging.INFO, format="%(asctime)s %(name)s: %(message)s",
                        datefmt="%H:%M:%S")
    search, retrain = configs(args)
    space, kwargs = search.space, search.space_kwargs_full()
    dataset = Path(search.data_root).name if search.data_root else search.dataset
    root = _common.ROOT / args.runs_dir / f"{space}_{dataset}"
    lut = resolve_lut(search.lut, space, kwargs)
    task = make_task(space, kwargs, search.dataset, search.data_root)
    rng = random.Random(1234)
    if args.target is None:
        sample = sorted(lut.predict(random_choices(lut.slots, rng)) for _ in range(4000))
        args.target = round(sample[len(sample) // 2], 3)
    baselines = baseline_archs(args, space, kwargs)

    # 1. searches
    runs = [(f"target_s{s}", dict(mode="target", target_ms=args.target, seed=s))
            for s in args.seeds]
    if not args.no_mul:
        runs.append((f"mul_s{args.seeds[0]}", dict(mode="mul", seed=args.seeds[0])))
    low, high = lut.bounds()
    budgets = {round(min(max(budget_of(lut, a, space, kwargs), low), high), 3)
               for a in baselines.values()} - {args.target}  # the target searches cover that
    for budget in sorted(budgets):
        runs.append((f"budget{budget:g}_s{args.seeds[0]}",
                     dict(mode="target", target_ms=budget, seed=args.seeds[0])))
    searched = {}
    for name, flags in runs:
        log.info("search %s (%s)", name, flags)
        result = run_search(replace(search, snapshot=str(root / name), **flags))
        searched[name] = {"choices": result.arch["choices"], "predicted": result.predicted,
                          "supernet": root / name / "supernet" / "checkpoint_last.pth", **flags}

    # 2. random architectures at matched LUT latency
    pool, windows = [], {}
    for name, info in searched.items():
        if name.startswith("budget"):
            continue
        picked, draws = draw_matched(lut, pool, info["predicted"], args, rng, info["choices"])
        windows[name] = {"random": [f"random_{i:03d}" for i in picked], "draws": draws}

    # 3. training: every architecture of the space and the baselines from scratch, then the
    # inherited runs
    archs = {name: info["choices"] for name, info in searched.items()}
    archs.update({f"random_{i:03d}": c for i, c in enumerate(pool)})
    arch_dir = root / "archs"
    files = {}
    for name, choices in archs.items():
        files[name] = arch_dir / f"{name}.json"
        save_arch(make_arch(space, kwargs, choices, predicted=lut.predict(choices)), files[name])
    for name, arch in baselines.items():
        files[name] = arch_dir / f"{name}.json"
        save_arch(arch, files[name])
        if in_space(arch, space, kwargs):
            archs[name] = arch["choices"]
    jobs = [(name, name, None, retrain.seed) for name in files]
    targets = [n for n in searched if n.startswith("target")]
    for name in targets:
        for model in [name, *windows[name]["random"][:args.inherit]]:
            jobs.append((f"inherit_{name}_{model}", model, searched[name]["supernet"],
                         retrain.seed))
    for seed in range(retrain.seed + 1, retrain.seed + 1 + args.noise_seeds):
        for model in [targets[0], windows[targets[0]]["random"][0]]:
            jobs.append((f"{model}_seed{seed}", model, None, seed))
    rows = {}
    for index, (run, model, supernet, seed) in enumerate(jobs):
        log.info("training %d/%d: %s", index + 1, len(jobs), run)
        ckpt = train(replace(retrain, seed=seed), root / "runs", run, files[model], supernet)
        init = "inherited" if supernet else "scratch" if seed == retrain.seed else "reseeded"
        rows[run] = {"run": run, "arch": model, "init": init, "train_seed": seed,
                     "supernet": str(supernet) if supernet else None,
                     "kind": ("baseline" if model in baselines else "random"
                              if model.startswith("random") else model.split("_")[0].rstrip(
                                  "0123456789.")),
                     "choices": archs.get(model), "predicted": lut.predict(archs[model])
                     if model in archs else None, "checkpoint": str(ckpt),
                     task.metric: test_score(ckpt, retrain, task.metric)}

    # 4. one-shot scores of every trained architecture of the space, by each target supernet
    splits = task.splits(retrain.limit_train, retrain.limit_val, 0)
    calib = DataLoader(splits["train"], search.batch_size, shuffle=True,
                       generator=torch.Generator().manual_seed(0))
    val = DataLoader(splits["val"], search.batch_size)
    scratch = [r for r in rows.values() if r["init"] == "scratch" and r["choices"]]
    taus = {}
    for name in (n for n in searched if n.startswith("target")):
        supernet, _ = supernet_from_checkpoint(searched[name]["supernet"])
        for r in scratch:
            arch = make_arch(space, kwargs, r["choices"])
            r.setdefault("one_shot", {})[name] = one_shot_score(
                supernet, arch, task, calib, val, args.calib_batches)[0]
        trained = [r[task.metric] for r in scratch]
        one_shot = [r["one_shot"][name] for r in scratch]
        top = sorted(range(len(scratch)), key=lambda i: trained[i],
                     reverse=task.higher_is_better)[:max(2, round(0.2 * len(scratch)))]
        taus[name] = {"all": kendall_tau(one_shot, trained),
                      "top20": kendall_tau([one_shot[i] for i in top],
                                           [trained[i] for i in top]), "n": len(scratch),
                      "n_top": len(top)}
        log.info("one-shot vs trained, %s supernet: Kendall τ %.3f (best 20 %%: %.3f)", name,
                 taus[name]["all"], taus[name]["top20"])

    # 5. measured latency, round robin over every distinct model
    graphs = {}
    for r in rows.values():
        if r["init"] == "scratch":
            model, arch, _ = subnet_from_checkpoint(r["checkpoint"])
            size = arch["space_kwargs"].get("img_size", kwargs["img_size"])
            shape = [1, 3, size, size]
            graphs[r["arch"]] = (export_onnx_bytes(DeployView(model.eval()), shape), shape)
    log.info("timing %d models, %d rounds round robin", len(graphs), args.rounds)
    times = time_ort_round_robin(graphs, args.rounds, args.runs)
    for r in rows.values():
        r["ms_rounds"] = times[r["arch"]]
        r["ms"] = min(r["ms_rounds"])

    result = summarise(args, search, retrain, task, searched, windows, rows, taus, dataset)
    name = f"search_vs_random_{space}_{dataset}"
    out = _common.ROOT / args.out / f"{name}.json"
    png, md = out.with_suffix(".png"), out.with_suffix(".md")
    out.parent.mkdir(parents=True, exist_ok=True)
    plot(png, rows, task, args.target)
    md.write_text(table(result, task.metric))
    atomic_write_text(out, json.dumps({**result, "plot": str(png), "table": str(md)},
                                      indent=1) + "\n")
    print(md.read_text())
    print(f"wrote {out}, {md} and {png}")
    s = result["summary"]
    print(f"search vs random {space} {dataset}: percentile mean {s['percentile_mean']:.0f}, "
          f"better than the random median in {s['seeds_better_than_median']}/{len(args.seeds)} "
          f"seeds, one-shot Kendall τ {s['kendall_tau_oneshot']:.2f}; goal "
          f"{'met' if s['goal_met'] else 'NOT met'}")


def summarise(args, search, retrain, task, searched, windows, rows, taus, dataset) -> dict:
    metric = task.metric
    scratch = {r["arch"]: r for r in rows.values() if r["init"] == "scratch"}
    per_search = {}
    for name, window in windows.items():
        mine = scratch[name][metric]
        randoms = [scratch[a][metric] for a in window["random"]]
        mean, low, high = mean_ci95(randoms)
        median = statistics.median(randoms)
        own = scratch[name].get("one_shot", {})  # the target searches' supernets' scores
        inherited = {r["arch"]: r[metric] for r in rows.values()
                     if r["init"] == "inherited" and r["run"].startswith(f"inherit_{name}_")}
        per_search[name] = {
            "mode": searched[name]["mode"], "seed": searched[name]["seed"],
            "choices": searched[name]["choices"], "predicted": searched[name]["predicted"],
            "ms": scratch[name]["ms"], metric: mine, "random_n": len(randoms),
            "random": window["random"], "random_draws": window["draws"],
            "random_mean": mean, "random_ci95": [low, high],
            "random_median": median, "random_ms": [scratch[a]["ms"] for a in window["random"]],
            "percentile": percentile_among(mine, randoms, task.higher_is_better),
            # where the search's own supernet puts its pick among the same random ones: low
            # here means θ missed what the supernet prefers, high here but low above means
            # the supernet's preference does not survive training
            "one_shot_percentile": percentile_among(
                own[name], [scratch[a]["one_shot"][name] for a in window["random"]],
                task.higher_is_better) if name in own else None,
            "better_than_median": (mine > median) if task.higher_is_better else (mine < median),
            "inherited": inherited}
    noise = {}  # per architecture trained with several seeds: its scores and their spread
    for r in rows.values():
        if r["init"] == "reseeded":
            noise.setdefault(r["arch"], [scratch[r["arch"]][metric]]).append(r[metric])
    noise = {arch: {"scores": v, "sd": statistics.stdev(v)} for arch, v in noise.items()}
    target = [v for k, v in per_search.items() if k.startswith("target")]
    percentile_mean = sum(v["percentile"] for v in target) / len(target)
    wins = sum(v["better_than_median"] for v in target)
    tau = sum(t["all"] for t in taus.values()) / len(taus)
    tau_top = sum(t["top20"] for t in taus.values()) / len(taus)
    need = min(2, len(target))
    return {
        "bench": "search_vs_random", "space": search.space, "dataset": dataset,
        "metric": metric, "higher_is_better": task.higher_is_better,
        "sizes": {"search_config": args.search_config, "retrain_config": args.retrain_config,
                  "search_epochs": search.epochs, "warmup": search.warmup,
                  "warmup_epochs": search.warmup_epochs, "train_epochs": retrain.epochs,
                  "lr": retrain.lr, "batch_size": retrain.batch_size, "augment": retrain.augment,
                  "train_seed": retrain.seed, "search_limit_train": search.limit_train,
                  "limit_train": retrain.limit_train, "limit_val": retrain.limit_val,
                  "target": args.target,
                  "tolerance": args.tolerance, "random_per_search": args.random,
                  "inherit": args.inherit, "noise_seeds": args.noise_seeds,
                  "timing_rounds": args.rounds,
                  "timing_runs": args.runs, "calib_batches": args.calib_batches},
        "summary": {"percentile_mean": percentile_mean, "seeds_better_than_median": wins,
                    "kendall_tau_oneshot": tau, "kendall_tau_oneshot_top20": tau_top,
                    "kendall_tau_per_supernet": taus, "training_noise": noise,
                    "goal_met": wins >= need and percentile_mean >= 75 and tau >= 0.5},
        "searches": per_search, "rows": list(rows.values()), "machine": _common.machine()}


def table(result: dict, metric: str) -> str:
    lines = [f"| search | arch (LUT ms) | measured ms | {metric} scratch | random mean [95 % CI] "
             f"(n) | percentile (one-shot) | {metric} inherited: searched / random |",
             "|---|---|---|---|---|---|---|"]
    for name, s in result["searches"].items():
        inherited = s["inherited"]
        inh = (f"{inherited.get(name, float('nan')):.4f} / " + ", ".join(
            f"{v:.4f}" for k, v in inherited.items() if k != name)) if inherited else "-"
        one_shot = "-" if s["one_shot_percentile"] is None else f"{s['one_shot_percentile']:.0f}"
        lines.append(f"| {name} | {', '.join(s['choices'].values())} ({s['predicted']:.3f}) | "
                     f"{s['ms']:.3f} | {s[metric]:.4f} | {s['random_mean']:.4f} "
                     f"[{s['random_ci95'][0]:.4f}, {s['random_ci95'][1]:.4f}] ({s['random_n']}) "
                     f"| {s['percentile']:.0f} ({one_shot}) | {inh} |")
    for arch, n in result["summary"]["training_noise"].items():
        lines.append(f"\nTraining noise, {arch} with {len(n['scores'])} seeds: "
                     f"{', '.join(f'{v:.4f}' for v in n['scores'])} (sd {n['sd']:.4f})")
    lines += ["", "| model | init | LUT ms | measured ms (rounds) | " + metric + " test |",
              "|---|---|---|---|---|"]
    for r in result["rows"]:
        if r["init"] == "scratch" and r["kind"] != "random":
            predicted = f"{r['predicted']:.3f}" if r["predicted"] is not None else "-"
            lines.append(f"| {r['run']} | {r['init']} | {predicted} | {r['ms']:.3f} "
                         f"({min(r['ms_rounds']):.3f}-{max(r['ms_rounds']):.3f}) | "
                         f"{r[metric]:.4f} |")
    return "\n".join(lines) + "\n"


def plot(path: Path, rows: dict, task, target: float) -> None:
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    fig, ax = plt.subplots(figsize=(7, 4.5))
    styles = {"random": dict(c="0.6", marker="o", label="random (matched LUT latency)"),
              "target": dict(c="tab:red", marker="*", s=120, label=f"searched, target {target:g}"),
              "mul": dict(c="tab:orange", marker="P", s=80, label="searched, mul"),
              "budget": dict(c="tab:purple", marker="D", label="searched, baseline's budget"),
              "baseline": dict(c="tab:blue", marker="s", label="hand-designed")}
    for kind, style in styles.items():
        pts = [r for r in rows.values() if r["kind"] == kind and r["init"] == "scratch"]
        if pts:
            ax.scatter([r["ms"] for r in pts], [r[task.metric] for r in pts], **style)
    inherited = [r for r in rows.values() if r["init"] == "inherited"]
    if inherited:
        ms = {r["arch"]: r["ms"] for r in rows.values() if r["init"] == "scratch"}
        ax.scatter([ms[r["arch"]] for r in inherited], [r[task.metric] for r in inherited],
                   facecolors="none", edgecolors="k", label="inherited weights (same archs)")
    for r in rows.values():
        if r["kind"] == "baseline":
            ax.annotate(r["arch"], (r["ms"], r[task.metric]), fontsize=7,
                        textcoords="offset points", xytext=(4, 4))
    ax.set(xscale="log", xlabel="measured latency, ms (onnxruntime, 1 thread, round robin)",
           ylabel=f"test {task.metric}, trained")
    ax.legend(fontsize=7)
    ax.grid(alpha=0.3)
    fig.tight_layout()
    fig.savefig(path, dpi=120)
    plt.close(fig)


if __name__ == "__main__":
    main()
