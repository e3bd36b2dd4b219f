"""What bench/search_vs_random.py reports: the JSON summary, the markdown table, the plot."""
import statistics
from pathlib import Path

import _common

from lib.latency.ranking import mean_ci95, percentile_among


def summarise(bench) -> dict:
    """The JSON of a finished :class:`search_vs_random.Bench`: sizes, per-search comparison,
    summary (the goal's figures), every row."""
    args, search, retrain, task = bench.args, bench.search, bench.retrain, bench.task
    searched, windows, rows, taus = bench.searched, bench.windows, bench.rows, bench.taus
    metric = task.metric
    scratch = {r["arch"]: r for r in rows.values() if r["init"] == "scratch"}
    per_search = {}
    for name, window in windows.items():
        mine = scratch[name][metric]
        randoms = [scratch[a][metric] for a in window["random"]]
        own = scratch[name].get("one_shot", {})  # the target searches' supernets' scores
        inherited = {r["arch"]: r[metric] for r in rows.values()
                     if r["init"] == "inherited" and r["run"].startswith(f"inherit_{name}_")}
        per_search[name] = {
            "mode": searched[name]["mode"], "seed": searched[name]["seed"],
            "choices": searched[name]["choices"], "predicted": searched[name]["predicted"],
            "ms": scratch[name]["ms"], metric: mine, "random_n": len(randoms),
            "random": window["random"], "random_draws": window["draws"],
            "inherited": inherited}
        if not randoms:  # an isolated corner of the space: nothing to compare with
            per_search[name].update({"random_mean": None, "random_ci95": None,
                                     "random_median": None, "random_ms": [],
                                     "percentile": None, "one_shot_percentile": None,
                                     "better_than_median": None})
            continue
        mean, low, high = mean_ci95(randoms)
        median = statistics.median(randoms)
        per_search[name].update({
            "random_mean": mean, "random_ci95": [low, high],
            "random_median": median, "random_ms": [scratch[a]["ms"] for a in window["random"]],
            "percentile": percentile_among(mine, randoms, task.higher_is_better),
            # where the search's own supernet puts its pick among the same random ones: low
            # here means θ missed what the supernet prefers, high here but low above means
            # the supernet's preference does not survive training
            "one_shot_percentile": percentile_among(
                own[name], [scratch[a]["one_shot"][name] for a in window["random"]],
                task.higher_is_better) if name in own else None,
            "better_than_median": (mine > median) if task.higher_is_better else (mine < median)})
    noise = {}  # per architecture trained with several seeds: its scores and their spread
    for r in rows.values():
        if r["init"] == "reseeded":
            noise.setdefault(r["arch"], [scratch[r["arch"]][metric]]).append(r[metric])
    noise = {arch: {"scores": v, "sd": statistics.stdev(v)} for arch, v in noise.items()}
    target = [v for k, v in per_search.items() if k.startswith("target")
              and v["percentile"] is not None]
    percentile_mean = sum(v["percentile"] for v in target) / len(target) if target else None
    wins = sum(v["better_than_median"] for v in target)
    tau = sum(t["all"] for t in taus.values()) / len(taus)
    tau_top = sum(t["top20"] for t in taus.values()) / len(taus)
    need = min(2, len(target))
    return {
        "bench": "search_vs_random", "space": search.space, "dataset": bench.dataset,
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
                  "timing_runs": args.runs, "timing_precision": args.precision,
                  "timing_max_rounds": args.max_rounds, "calib_batches": args.calib_batches},
        "summary": {"percentile_mean": percentile_mean, "seeds_better_than_median": wins,
                    "kendall_tau_oneshot": tau, "kendall_tau_oneshot_top20": tau_top,
                    "kendall_tau_per_supernet": taus, "training_noise": noise,
                    "goal_met": bool(target) and wins >= need and percentile_mean >= 75
                    and tau >= 0.5},
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
        randoms, percentile = ("none within the window (0)", "-") if s["random_mean"] is None \
            else (f"{s['random_mean']:.4f} [{s['random_ci95'][0]:.4f}, "
                  f"{s['random_ci95'][1]:.4f}] ({s['random_n']})", f"{s['percentile']:.0f}")
        lines.append(f"| {name} | {', '.join(s['choices'].values())} ({s['predicted']:.3f}) | "
                     f"{s['ms']:.3f} | {s[metric]:.4f} | {randoms} | {percentile} ({one_shot}) "
                     f"| {inh} |")
    for arch, n in result["summary"]["training_noise"].items():
        lines.append(f"\nTraining noise, {arch} with {len(n['scores'])} seeds: "
                     f"{', '.join(f'{v:.4f}' for v in n['scores'])} (sd {n['sd']:.4f})")
    lines += ["", "| model | init | LUT ms | measured ms (95 % CI) | " + metric + " test |",
              "|---|---|---|---|---|"]
    for r in result["rows"]:
        if r["init"] == "scratch" and r["kind"] != "random":
            predicted = f"{r['predicted']:.3f}" if r["predicted"] is not None else "-"
            lines.append(f"| {r['run']} | {r['init']} | {predicted} | {r['ms']:.3f} "
                         f"({r['ms_ci95'][0]:.3f}-{r['ms_ci95'][1]:.3f}) | "
                         f"{r[metric]:.4f} |")
    return "\n".join(lines) + "\n"


def plot(path: Path, rows: dict, task, target: float) -> None:
    with _common.figure(path) as ax:
        _scatter(ax, rows, task, target)


def _scatter(ax, rows: dict, task, target: float) -> None:
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
