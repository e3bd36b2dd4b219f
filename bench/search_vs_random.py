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
5. Latency: every distinct model measured with onnxruntime (1 thread) in one drift-proof run
   (``lib.latency.relative``: ratios to the space's first-candidate network re-timed every
   second, rounds until each ratio is known to ±--precision), as the LUT builder times.

Writes output/bench/search_vs_random_<space>_<dataset>.json (every row, the sizes used and a
``summary``), a markdown table and a PNG of metric against measured latency. Runs go under
ckpt_save/vs_random/<space>_<dataset>/ and resume (each search and training continues from its
checkpoint_last.pth), so an interrupted bench picks up where it stopped. ``--reuse`` points at
an earlier run's folder: a scratch training there of the same architecture, seed and recipe
(every retraining setting but paths and names) is copied instead of trained again, e.g. after
a change to the search alone.
"""
import argparse
import json
import logging
import random
import shutil
from dataclasses import replace
from functools import cached_property
from pathlib import Path

import _common
import torch
from torch.utils.data import DataLoader

from lib.atomic import atomic_write_text
from lib.latency import kendall_tau, random_choices, resolve_lut, time_ort
from lib.spaces import DeployView, full_kwargs, load_arch, make_arch, save_arch
from lib.supernet import build_subnet
from lib.config import RetrainConfig, SearchConfig, parse_config, to_dict
from lib.train import run_retrain, run_search
from lib.train.evaluation import evaluate
from lib.train.models import supernet_from_checkpoint
from lib.train.sampling import one_shot_score
from lib.train.tasks import make_task
from vs_random_report import plot, summarise, table

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
    _common.add_timing_args(parser)
    parser.add_argument("--calib_batches", type=int, default=8,
                        help="batches that re-estimate BatchNorm for a one-shot score")
    parser.add_argument("--noise_seeds", type=int, default=2,
                        help="the first target search's pick and its first random match are "
                             "also trained with this many other seeds: the training noise")
    parser.add_argument("--no_mul", action="store_true", help="skip the mul-mode search")
    parser.add_argument("--runs_dir", default="ckpt_save/vs_random",
                        help="searches and trainings go to <runs_dir>/<space>_<dataset>/")
    parser.add_argument("--out", default="output/bench", help="folder of the JSON, table, PNG")
    parser.add_argument("--reuse", help="an earlier run's <space>_<dataset> folder: a scratch "
                                        "training of the same architecture, seed and recipe "
                                        "is copied from it instead of trained again")
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
        full_kwargs(space, arch["space_kwargs"]) == full_kwargs(space, kwargs)


def budget_of(lut, arch: dict, space: str, kwargs: dict) -> float:
    """The LUT's price of a baseline of the searched space, else its measured latency
    (onnxruntime, one thread, median of 200 runs)."""
    if in_space(arch, space, kwargs):
        return lut.predict(arch["choices"])
    size = full_kwargs(arch["space"], arch["space_kwargs"])["img_size"]
    return time_ort(DeployView(build_subnet(arch).eval()), [1, 3, size, size])


# options newer than some reusable runs, with the value those runs trained with
_NEWER = {"amp": "off", "channels_last": False}


def _training_key(arch: dict, config: dict) -> str:
    return json.dumps({"space": arch["space"],
                       "kwargs": full_kwargs(arch["space"], arch["space_kwargs"]),
                       "choices": arch["choices"],
                       "recipe": _common.recipe_of({**_NEWER, **config})},
                      sort_keys=True)


class Bench:
    """One dataset's run; each phase reads what the ones before it left on ``self``."""

    def __init__(self, args):
        self.args = args
        self.search, self.retrain = configs(args)
        self.space, self.kwargs = self.search.space, self.search.instance_kwargs()
        root = self.search.data_root
        self.dataset = Path(root).name if root else self.search.dataset
        self.root = _common.ROOT / args.runs_dir / f"{self.space}_{self.dataset}"
        self.lut = resolve_lut(self.search.lut, self.space, self.kwargs)
        self.task = make_task(self.space, self.kwargs, self.search.dataset, root)
        self.rng = random.Random(1234)  # the target (when not given) and the random draws
        if args.target is None:
            args.target = round(_common.random_latency_quantiles(self.lut, [0.5])[0], 3)
        self.baselines = baseline_archs(args, self.space, self.kwargs)

    def targets(self) -> list[str]:
        return [name for name in self.searched if name.startswith("target")]

    def run_searches(self) -> None:
        args, seed = self.args, self.args.seeds[0]
        runs = [(f"target_s{s}", dict(mode="target", target_ms=args.target, seed=s))
                for s in args.seeds]
        if not args.no_mul:
            runs.append((f"mul_s{seed}", dict(mode="mul", seed=seed)))
        low, high = self.lut.bounds()
        budgets = {round(min(max(budget_of(self.lut, a, self.space, self.kwargs), low), high), 3)
                   for a in self.baselines.values()} - {args.target}  # the targets cover that
        runs += [(f"budget{b:g}_s{seed}", dict(mode="target", target_ms=b, seed=seed))
                 for b in sorted(budgets)]
        self.searched = {}
        for name, flags in runs:
            log.info("search %s (%s)", name, flags)
            result = run_search(replace(self.search, snapshot=str(self.root / name), **flags))
            self.searched[name] = {"choices": result.arch["choices"],
                                   "predicted": result.predicted, **flags,
                                   "supernet": result.out_dir / "checkpoint_last.pth"}

    def draw_random(self) -> None:
        """Random architectures at each search's LUT latency (not for the budget searches)."""
        self.pool, self.windows = [], {}
        for name, info in self.searched.items():
            if not name.startswith("budget"):
                picked, draws = draw_matched(self.lut, self.pool, info["predicted"], self.args,
                                             self.rng, info["choices"])
                self.windows[name] = {"random": [f"random_{i:03d}" for i in picked],
                                      "draws": draws}

    def arch_files(self) -> dict[str, Path]:
        """Writes every architecture file; ``self.archs`` keeps those of the space."""
        self.archs = {name: info["choices"] for name, info in self.searched.items()}
        self.archs.update({f"random_{i:03d}": c for i, c in enumerate(self.pool)})
        folder, files = self.root / "archs", {}
        for name, choices in self.archs.items():
            files[name] = folder / f"{name}.json"
            save_arch(make_arch(self.space, self.kwargs, choices,
                                predicted=self.lut.predict(choices)), files[name])
        for name, arch in self.baselines.items():
            files[name] = folder / f"{name}.json"
            save_arch(arch, files[name])
            if in_space(arch, self.space, self.kwargs):
                self.archs[name] = arch["choices"]
        return files

    def jobs(self, files) -> list[tuple]:
        """(run, architecture, supernet or None, training seed): every architecture and
        baseline from scratch, the inherited controls, the reseeded runs."""
        seed = self.retrain.seed
        jobs = [(name, name, None, seed) for name in files]
        for name in self.targets():
            for model in [name, *self.windows[name]["random"][:self.args.inherit]]:
                jobs.append((f"inherit_{name}_{model}", model, self.searched[name]["supernet"],
                             seed))
        first = self.targets()[0]
        for other in range(seed + 1, seed + 1 + self.args.noise_seeds):
            for model in [first, *self.windows[first]["random"][:1]]:
                jobs.append((f"{model}_seed{other}", model, None, other))
        return jobs

    def train_all(self) -> None:
        files = self.arch_files()
        jobs = self.jobs(files)
        self.rows = {}
        for index, (run, model, supernet, seed) in enumerate(jobs):
            log.info("training %d/%d: %s", index + 1, len(jobs), run)
            cfg = replace(self.retrain, seed=seed, arch=str(files[model]),
                          supernet=str(supernet) if supernet else None,
                          from_scratch=supernet is None, snapshot=str(self.root / "runs"),
                          name=run)
            if supernet is None and self.args.reuse:
                self.reuse(cfg, load_arch(files[model]))
            run_retrain(cfg)
            ckpt = self.root / "runs" / run / "checkpoint_best.pth"
            init = "inherited" if supernet else "scratch" if seed == self.retrain.seed \
                else "reseeded"
            kind = ("baseline" if model in self.baselines else "random"
                    if model.startswith("random") else model.split("_")[0].rstrip("0123456789."))
            choices = self.archs.get(model)
            self.rows[run] = {
                "run": run, "arch": model, "init": init, "train_seed": seed, "kind": kind,
                "supernet": str(supernet) if supernet else None, "choices": choices,
                "predicted": self.lut.predict(choices) if choices else None,
                "checkpoint": str(ckpt), self.task.metric: evaluate(
                    ckpt, cfg.dataset, cfg.data_root, "test", runs=0)[self.task.metric]}

    @cached_property
    def earlier(self) -> dict:
        """(architecture, recipe) of every finished run under ``--reuse`` -> its folder."""
        found = {}
        for ckpt in sorted(Path(self.args.reuse).glob("runs/*/checkpoint_last.pth")):
            state = torch.load(ckpt, map_location="cpu", weights_only=False)
            if state["epoch"] >= state["config"]["epochs"] and state["config"]["from_scratch"]:
                found[_training_key(state["arch"], state["config"])] = ckpt.parent
        return found

    def reuse(self, cfg, arch: dict) -> None:
        """Copy the earlier run of this architecture, seed and recipe into ``cfg``'s run
        folder, where the run resumes it as finished."""
        here = Path(cfg.snapshot) / cfg.name
        there = self.earlier.get(_training_key(arch, to_dict(cfg)))
        if there and not here.exists():
            log.info("reusing %s for %s", there, cfg.name)
            shutil.copytree(there, here)

    def one_shot(self) -> None:
        """Each target search's supernet scores every architecture of the space trained from
        scratch; Kendall τ against the trained scores, over all and the best 20 %."""
        splits = self.task.splits(self.retrain.limit_train, self.retrain.limit_val, 0)
        calib = DataLoader(splits["train"], self.search.batch_size, shuffle=True,
                           generator=torch.Generator().manual_seed(0))
        val = DataLoader(splits["val"], self.search.batch_size)
        scratch = [r for r in self.rows.values() if r["init"] == "scratch" and r["choices"]]
        trained = [r[self.task.metric] for r in scratch]
        best = sorted(range(len(scratch)), key=lambda i: trained[i],
                      reverse=self.task.higher_is_better)[:max(2, round(0.2 * len(scratch)))]
        self.taus = {}
        for name in self.targets():
            supernet, _ = supernet_from_checkpoint(self.searched[name]["supernet"])
            for r in scratch:
                arch = make_arch(self.space, self.kwargs, r["choices"])
                r.setdefault("one_shot", {})[name] = one_shot_score(
                    supernet, arch, self.task, calib, val, self.args.calib_batches)[0]
            scores = [r["one_shot"][name] for r in scratch]
            self.taus[name] = {"all": kendall_tau(scores, trained),
                               "top20": kendall_tau([scores[i] for i in best],
                                                    [trained[i] for i in best]),
                               "n": len(scratch), "n_top": len(best)}
            log.info("one-shot vs trained, %s supernet: Kendall τ %.3f (best 20 %%: %.3f)",
                     name, self.taus[name]["all"], self.taus[name]["top20"])

    def time_models(self) -> None:
        """Every distinct trained network in one drift-proof run in this process."""
        checkpoints = {r["arch"]: r["checkpoint"] for r in self.rows.values()
                       if r["init"] == "scratch"}
        timing = _common.timing_of(self.args)
        log.info("timing %d models: %s", len(checkpoints), timing.describe())
        times = _common.time_checkpoints(checkpoints, self.space, self.kwargs, timing)
        for r in self.rows.values():
            r["ms"] = times[r["arch"]].ms
            r["ms_ci95"] = list(times[r["arch"]].ci95)

    def write(self) -> None:
        result = summarise(self)
        out = _common.ROOT / self.args.out / f"search_vs_random_{self.space}_{self.dataset}.json"
        png, md = out.with_suffix(".png"), out.with_suffix(".md")
        out.parent.mkdir(parents=True, exist_ok=True)
        plot(png, self.rows, self.task, self.args.target)
        md.write_text(table(result, self.task.metric))
        atomic_write_text(out, json.dumps({**result, "plot": str(png), "table": str(md)},
                                          indent=1) + "\n")
        print(md.read_text())
        print(f"wrote {out}, {md} and {png}")
        s = result["summary"]
        mean = "-" if s["percentile_mean"] is None else f"{s['percentile_mean']:.0f}"
        print(f"search vs random {self.space} {self.dataset}: percentile mean "
              f"{mean}, better than the random median in "
              f"{s['seeds_better_than_median']}/{len(self.targets())} seeds, one-shot Kendall "
              f"τ {s['kendall_tau_oneshot']:.2f}; goal {'met' if s['goal_met'] else 'NOT met'}")


def main():
    logging.basicConfig(level=logging.INFO, format="%(asctime)s %(name)s: %(message)s",
                        datefmt="%H:%M:%S")
    bench = Bench(parse_args())
    bench.run_searches()
    bench.draw_random()
    bench.train_all()
    bench.one_shot()
    bench.time_models()
    bench.write()


if __name__ == "__main__":
    main()
