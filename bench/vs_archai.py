#!/usr/bin/env python
"""Archai's evolutionary Pareto search against this project's search, at the same wall-clock.

    .venv-archai/bin/python bench/vs_archai.py                      # make vs_archai (PFLD)
    .venv-archai/bin/python bench/vs_archai.py \\
        --search_config configs/vs_archai_hourglass_search.yaml \\
        --retrain_config configs/vs_archai_hourglass_retrain.yaml  # make vs_archai_hourglass

Needs requirements-archai.txt (its own venv: ``python3 -m venv .venv-archai &&
.venv-archai/bin/pip install -r requirements-archai.txt``).

1. Budgets: the 10th, 50th and 90th percentiles of the LUT latency of uniformly random
   architectures of the space (``--quantiles``).
2. Ours: one ``--mode target`` search per budget (``--search_config``), each timed; the three
   searched architectures are ours.
3. Archai: ``EvolutionParetoSearch`` over the same space (``lib/archai_adapter.py``: random
   sampling, mutation, crossover of architecture files), objectives the same LUT's latency and
   the validation metric after ``--steps`` steps of partial training from scratch (Adam at the
   retraining lr, batch ``--partial_batch``, the search's training subset), until it has spent
   the seconds
   our three searches took (checked per iteration, so it may run over by one iteration; both
   times are reported). Its picks: for each budget, the member of its final Pareto front with
   the best partial-training metric within the budget (what a user of its front would pick).
4. Every pick trained from scratch with one recipe (``--retrain_config``), scored on the test
   split; every trained network timed in one drift-proof onnxruntime run (1 thread).
5. Per side: the front of (measured latency, test error) of its trained picks, its hypervolume
   against a common reference point (1.1x the slowest trained network; the input-blind
   predictor's test error: a model must beat it to count), and its best test metric within
   each budget (measured latency at most budget x scale x (1 + ``--tolerance``), where scale,
   the trained models' median measured/LUT ratio, carries the LUT's budget into today's ms).

Writes output/bench/vs_archai_<space>.json, .md and .png. Runs go under
ckpt_save/vs_archai/<space>/ and resume: finished searches are read back from state.json with
the seconds they took, trainings continue from their checkpoints.
"""
import argparse
import json
import logging
import shutil
import statistics
import time
from dataclasses import replace

import _common
from search_vs_random import configs
from torch.utils.data import DataLoader

from lib.archai_adapter import (archai_available, archai_search_space, evolution_search,
                                partial_training)
from lib.atomic import atomic_write_text
from lib.latency import resolve_lut
from lib.spaces import make_arch, save_arch
from lib.train import run_retrain, run_search
from lib.train.device import resolve_device
from lib.train.evaluation import evaluate
from lib.train.sampling import hypervolume, pareto_front
from lib.train.tasks import make_task

log = logging.getLogger("vs_archai")


def parse_args():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--search_config", default="configs/vs_archai_pfld_search.yaml")
    parser.add_argument("--retrain_config", default="configs/vs_archai_retrain.yaml")
    parser.add_argument("--quantiles", type=float, nargs=3, default=[0.1, 0.5, 0.9],
                        help="budgets: these quantiles of random architectures' LUT latency")
    parser.add_argument("--seed", type=int, default=0, help="both searches' seed")
    parser.add_argument("--steps", type=int, default=160,
                        help="partial-training steps per Archai candidate")
    parser.add_argument("--partial_batch", type=int, default=16,
                        help="partial training's batch size (PFLD, 2 cores: 160 steps of 16 "
                             "scored 0.216-0.220 NME where 40 of 64, the same time, scored "
                             "0.256-0.319; the mean shape scores 0.1995)")
    parser.add_argument("--limit_val", type=int, default=256,
                        help="validation samples that score an Archai candidate")
    parser.add_argument("--init_models", type=int, default=10,
                        help="Archai's random initial population")
    parser.add_argument("--population", type=int, default=8,
                        help="Archai's new models per iteration at most (max_unseen_population)")
    parser.add_argument("--tolerance", type=float, default=0.05,
                        help="a model is within a budget when its measured latency is at most "
                             "budget x (1 + this)")
    _common.add_timing_args(parser)
    parser.add_argument("--runs_dir", default="ckpt_save/vs_archai")
    parser.add_argument("--out", default="output/bench")
    return parser.parse_args()


class Bench:
    def __init__(self, args):
        self.args = args
        self.search, self.retrain = configs(args)
        self.space, self.kwargs = self.search.space, self.search.instance_kwargs()
        self.root = _common.ROOT / args.runs_dir / self.space
        self.lut = resolve_lut(self.search.lut, self.space, self.kwargs)
        self.task = make_task(self.space, self.kwargs, self.search.dataset, self.search.data_root)
        self.budgets = [round(b, 4) for b in
                        _common.random_latency_quantiles(self.lut, args.quantiles)]
        self.device = resolve_device(self.search.dev_id)
        self.state_path = self.root / "state.json"
        self.state = json.loads(self.state_path.read_text()) if self.state_path.exists() else {}

    def save_state(self) -> None:
        atomic_write_text(self.state_path, json.dumps(self.state, indent=1) + "\n")

    def ours(self) -> None:
        """One target-mode search per budget, each timed (a finished one is read back)."""
        runs = self.state.setdefault("ours", {})
        for budget in self.budgets:
            key = f"{budget:g}"
            if key in runs:
                continue
            log.info("our search at %s", key)
            # timed from scratch: a search resumed from a checkpoint would be undercounted
            shutil.rmtree(self.root / f"ours_{key}", ignore_errors=True)
            self.task.splits()  # any data generation happens before the clock starts
            start = time.perf_counter()
            result = run_search(replace(self.search, mode="target", target_ms=budget,
                                        seed=self.args.seed, auto_resume=False,
                                        snapshot=str(self.root / f"ours_{key}")))
            runs[key] = {"seconds": time.perf_counter() - start, "budget": budget,
                         "choices": result.arch["choices"], "predicted": result.predicted}
            self.save_state()

    def archai(self) -> None:
        """Archai's search for the seconds ours took; the clock includes its data setup."""
        if "archai" in self.state:
            return
        args, cfg = self.args, self.search
        budget_s = sum(run["seconds"] for run in self.state["ours"].values())
        log.info("Archai's search for %.0f s", budget_s)
        start = time.perf_counter()
        splits = self.task.splits(cfg.limit_train, args.limit_val, cfg.seed)
        metric = partial_training(self.task, splits["train"], splits["val"], args.steps,
                                  args.partial_batch, self.retrain.lr, self.retrain.wd,
                                  args.seed, self.device)
        result = evolution_search(
            archai_search_space(self.space, self.kwargs, args.seed), self.lut, metric,
            self.task.higher_is_better, self.root / "archai",
            budget_s - (time.perf_counter() - start), seed=args.seed,
            init_num_models=args.init_models, max_unseen_population=args.population,
            num_random_mix=2, mutations_per_parent=1, num_crossovers=3)
        result["seconds"] = time.perf_counter() - start
        result["budget_s"] = budget_s
        self.state["archai"] = result
        self.save_state()

    def picks(self) -> dict:
        """Name -> (side, budget, choices): ours per budget; Archai's front member with the
        best partial-training metric within each budget (repeats dropped)."""
        picks = {f"ours_{b:g}": ("ours", b, self.state["ours"][f"{b:g}"]["choices"])
                 for b in self.budgets}
        sign = -1 if self.task.higher_is_better else 1
        chosen = []
        for budget in self.budgets:
            inside = [m for m in self.state["archai"]["front"] if m["latency_ms"] <= budget]
            if not inside:
                log.warning("Archai's front has no member within %.4f", budget)
                continue
            best = min(inside, key=lambda m: sign * m["metric"])
            if best["choices"] not in chosen:
                chosen.append(best["choices"])
                picks[f"archai_{budget:g}"] = ("archai", budget, best["choices"])
        return picks

    def train(self) -> None:
        self.rows = {}
        for name, (side, budget, choices) in self.picks().items():
            path = self.root / "archs" / f"{name}.json"
            save_arch(make_arch(self.space, self.kwargs, choices,
                                predicted=self.lut.predict(choices)), path)
            cfg = replace(self.retrain, arch=str(path), from_scratch=True,
                          snapshot=str(self.root / "runs"), name=name)
            log.info("training %s", name)
            run_retrain(cfg)
            ckpt = self.root / "runs" / name / "checkpoint_best.pth"
            self.rows[name] = {"side": side, "budget": budget, "choices": choices,
                               "predicted": self.lut.predict(choices), "checkpoint": str(ckpt),
                               "test": evaluate(ckpt, cfg.dataset, cfg.data_root, "test",
                                                runs=0)[self.task.metric]}

    def time(self) -> None:
        timing = _common.timing_of(self.args)
        times = _common.time_checkpoints({n: r["checkpoint"] for n, r in self.rows.items()},
                                         self.space, self.kwargs, timing)
        for name, row in self.rows.items():
            row["ms"], row["ms_ci95"] = times[name].ms, list(times[name].ci95)

    def summarise(self) -> dict:
        splits = self.task.splits(self.retrain.limit_train, None, 0)
        trivial = self.task.trivial_score(DataLoader(splits["train"], 64),
                                          DataLoader(splits["test"](), 64))
        reference = (1.1 * max(r["ms"] for r in self.rows.values()), self.task.error(trivial))
        # Budgets are LUT numbers; the machine's speed moves between the table's build and this
        # run, so they are carried into measured ms by the trained models' median ratio.
        scale = statistics.median(r["ms"] / r["predicted"] for r in self.rows.values())
        sides = {}
        for side in ("ours", "archai"):
            names = [name for name, r in self.rows.items() if r["side"] == side]
            rows = [self.rows[name] for name in names]
            points = [(r["ms"], self.task.error(r["test"])) for r in rows]
            best = {}
            for budget in self.budgets:
                within = [r["test"] for r in rows
                          if r["ms"] <= budget * scale * (1 + self.args.tolerance)]
                best[f"{budget:g}"] = (max if self.task.higher_is_better else min)(within) \
                    if within else None
            sides[side] = {"models": len(rows),
                           "front": [n for n, keep in zip(names, pareto_front(points)) if keep],
                           "hypervolume": hypervolume(points, reference),
                           "best_within_budget": best}
        sides["ours"]["search_s"] = sum(r["seconds"] for r in self.state["ours"].values())
        archai = self.state["archai"]
        sides["archai"].update(search_s=archai["seconds"], budget_s=archai["budget_s"],
                               iterations=archai["iterations"],
                               evaluated=len(archai["evaluated"]),
                               pareto_size=len(archai["front"]))
        return {"space": self.space, "space_kwargs": self.kwargs, "metric": self.task.metric,
                "higher_is_better": self.task.higher_is_better, "budgets_ms": self.budgets,
                "measured_per_lut_ms": scale,
                "reference_point": {"ms": reference[0], "error": reference[1],
                                    "trivial_" + self.task.metric: trivial},
                "sides": sides, "rows": self.rows, "archai_evaluated": archai["evaluated"],
                "search_config": self.args.search_config,
                "retrain_config": self.args.retrain_config,
                "settings": {k: v for k, v in vars(self.args).items()
                             if k not in ("runs_dir", "out")},
                "machine": _common.machine()}

    def write(self) -> None:
        result = self.summarise()
        out = _common.ROOT / self.args.out / f"vs_archai_{self.space}.json"
        out.parent.mkdir(parents=True, exist_ok=True)
        plot(out.with_suffix(".png"), result)
        out.with_suffix(".md").write_text(table(result))
        _common.write_result(out.stem, result, out.parent)
        print(table(result))
        print(f"wrote {out} and its .md and .png")


def table(result: dict) -> str:
    metric, sides = result["metric"], result["sides"]
    fmt = lambda v: "-" if v is None else f"{v:.4f}"  # noqa: E731
    head = " | ".join(f"best {metric} within {b:g} ms (LUT)" for b in result["budgets_ms"])
    lines = [f"| search | wall-clock | models trained | hypervolume | {head} |",
             "|---|---|---|---|" + "---|" * len(result["budgets_ms"])]
    for side, label in (("ours", "ours (3 target searches)"),
                        ("archai", "Archai EvolutionParetoSearch")):
        s = sides[side]
        cells = " | ".join(fmt(v) for v in s["best_within_budget"].values())
        extra = f", {s['evaluated']} partially trained, {s['iterations']} iterations" \
            if side == "archai" else ""
        lines.append(f"| {label} | {s['search_s'] / 60:.1f} min{extra} | {s['models']} | "
                     f"{s['hypervolume']:.5f} | {cells} |")
    ref = result["reference_point"]
    lines.append(f"\nReference point: {ref['ms']:.4f} ms, error {ref['error']:.4f} (the "
                 f"input-blind predictor's test {metric}). Budgets in measured ms: LUT x "
                 f"{result['measured_per_lut_ms']:.3f} (the trained models' median ratio).")
    return "\n".join(lines) + "\n"


def plot(path, result: dict) -> None:
    with _common.figure(path) as ax:
        for side, style in (("ours", dict(c="tab:red", marker="*", s=120)),
                            ("archai", dict(c="tab:blue", marker="s", s=50))):
            rows = [r for r in result["rows"].values() if r["side"] == side]
            ax.scatter([r["ms"] for r in rows], [r["test"] for r in rows], label=side, **style)
        for budget in result["budgets_ms"]:
            ax.axvline(budget, color="0.7", ls="--", lw=0.8)
        ax.set(xlabel="measured latency, ms (onnxruntime, 1 thread)",
               ylabel=f"test {result['metric']}, trained from scratch",
               title=f"{result['space']}: the same search wall-clock")
        ax.legend(fontsize=8)
        ax.grid(alpha=0.3)


def main():
    logging.basicConfig(level=logging.INFO, format="%(asctime)s %(name)s: %(message)s",
                        datefmt="%H:%M:%S")
    if not archai_available():
        raise SystemExit("archai is not installed: python3 -m venv .venv-archai && "
                         ".venv-archai/bin/pip install -r requirements-archai.txt")
    bench = Bench(parse_args())
    bench.ours()
    bench.archai()
    bench.train()
    bench.time()
    bench.write()


if __name__ == "__main__":
    main()
