#!/usr/bin/env python
"""Each space's own small NAS-Bench: architectures trained on their own, several seeds each.

    python bench/groundtruth.py --space pfld_fbnet                 # train what is missing
    python bench/groundtruth.py --space pfld_fbnet --arch pop007 --seed 1   # one row again
    python bench/groundtruth.py --space pfld_fbnet --curves 10 20 40   # learning curves
    python bench/groundtruth.py --space pfld_fbnet --report        # what the table says

The plan (``bench/groundtruth/<space>_<dataset>.plan.json``, made once from the LUT and a
fixed seed): --population architectures drawn uniformly; two budgets where the population is
densest, each with at least --window architectures whose LUT latency lies within 85-100 % of
it (the matched controls of a target search there: population members first, more drawn when
too few); the space's hand-designed baselines; any --add'ed architecture (a search's pick).

Each table (``<space>_<dataset>.json``: the recipe of ``configs/groundtruth/<space>.yaml``;
``--curves E ..``: one table per epoch count under ``curves/``) trains what it is missing, one
(architecture, seed) at a time, seed 0 of everything first (a row another table already has
under the same recipe, e.g. the study's, is copied). A run is a from-scratch retrain
(``lib.train.run_retrain``, its best-validation checkpoint scored on the test split); it
resumes from its own checkpoint when killed, and a finished row is never trained again. Rows
are results only (no weights); ``--commit`` commits the table after each row, so another
machine continues where this one stopped.
"""
import argparse
import json
import logging
import random
import subprocess
import time
from dataclasses import replace
from pathlib import Path

import _common
import torch

from groundtruth_table import Table, TableError, recipe_id
from lib.config import RetrainConfig, parse_config, to_dict
from lib.latency import find_lut, random_choices, resolve_lut
from lib.latency.slots import fingerprint
from lib.spaces import full_kwargs, load_arch, make_arch, save_arch
from lib.train import run_retrain
from lib.train.evaluation import evaluate
from lib.train.tasks import make_task

log = logging.getLogger("groundtruth")
FOLDER = _common.ROOT / "bench" / "groundtruth"
ARCHS = _common.ROOT / "lib" / "spaces" / "archs"
# the instance each space is searched at on 2 cores (make demo, make vs_random_hourglass)
# and the kwargs its baselines take over their files' (the vs_random benches' --baseline_kwargs)
_HG = {"img_size": 64, "cap": 32, "kernels": [3, 5]}
_MB = {"num_points": 106, "img_size": 64}
SPACES = {"pfld_fbnet": {"kwargs": {}, "baselines": {"pfld_mbv2": {}, "pfld_mbv3_small": {}}},
          "hourglass_seg": {"kwargs": _HG, "baselines": {"hourglass_seg_mid": _HG}},
          "mbv2_landmark": {"kwargs": _MB, "baselines": {"mbv2_landmark_1.0": _MB}}}
BAND = 0.85  # a matched window: LUT latency within 85-100 % of its budget (target mode's band)
MAX_DRAWS = 200_000


def parse_args(argv=None):
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--space", default="pfld_fbnet", choices=sorted(SPACES))
    p.add_argument("--space_kwargs", type=json.loads, default=None,
                   help="the space instance (JSON; default: the one its searches use)")
    p.add_argument("--recipe", help="retraining config YAML (default: configs/groundtruth/"
                                    "<space>.yaml; --scale gpu: <space>_gpu.yaml)")
    p.add_argument("--scale", choices=("cpu", "gpu"), default="cpu",
                   help="gpu: the full-size recipe into its own table, beside the CPU one")
    p.add_argument("--lut", default="auto", help="LUT pricing the architectures (auto, a file, "
                                                 "flops)")
    p.add_argument("--folder", type=Path, default=FOLDER, help="where plan and tables live")
    p.add_argument("--runs_dir", type=Path, default=_common.ROOT / "ckpt_save" / "groundtruth")
    p.add_argument("--population", type=int, default=40)
    p.add_argument("--window", type=int, default=10, help="architectures per matched window")
    p.add_argument("--seeds", type=int, default=2, help="seeds per architecture")
    p.add_argument("--matched_seeds", type=int, default=3, help="seeds per matched control")
    p.add_argument("--plan_seed", type=int, default=2027)
    p.add_argument("--add", nargs="*", default=[], metavar="ID=FILE",
                   help="add architecture files to the plan (e.g. a search's pick)")
    p.add_argument("--curves", type=int, nargs="*", metavar="EPOCHS",
                   help="the learning-curve study: the population's cheapest, median and "
                        "dearest at each epoch count")
    p.add_argument("--arch", help="train this architecture of the plan (with --seed) only")
    p.add_argument("--seed", type=int, default=0)
    p.add_argument("--max_runs", type=int, default=None, help="stop after this many rows")
    p.add_argument("--report", action="store_true", help="print what the tables say")
    p.add_argument("--docs", type=Path, default=_common.ROOT / "docs",
                   help="where --report draws the learning curves")
    p.add_argument("--out", type=Path, default=_common.ROOT / "output" / "bench",
                   help="where --report writes its JSON")
    p.add_argument("--threads", type=int, default=None, help="torch threads (default: all)")
    p.add_argument("--dev_id", default="cpu")
    p.add_argument("--commit", action="store_true", help="git-commit the table after each row")
    p.add_argument("--progress", action="store_true", help="progress bars of each training")
    return p.parse_args(argv)


class Instance:
    """The space instance, its LUT, its task and the plan of architectures."""

    def __init__(self, args):
        self.args, self.space = args, args.space
        given = SPACES[self.space]["kwargs"] if args.space_kwargs is None else args.space_kwargs
        self.kwargs = full_kwargs(self.space, given)
        # the file's name goes into every row: a table says which LUT priced it
        spec = str(find_lut(self.space, self.kwargs)) if args.lut == "auto" else args.lut
        self.lut_name = Path(spec).name
        self.lut = resolve_lut(spec, self.space, self.kwargs)
        self.fingerprint = fingerprint(self.space, self.kwargs, self.lut.slots)
        self.base = self.config(args.recipe or _common.ROOT / "configs" / "groundtruth" /
                                f"{self.space}{'_gpu' if args.scale == 'gpu' else ''}.yaml")
        self.dataset = Path(self.base.data_root).name if self.base.data_root else \
            self.base.dataset
        self.task = make_task(self.space, self.kwargs, self.base.dataset, self.base.data_root)
        self.plan_path = args.folder / f"{self.space}_{self.dataset}.plan.json"
        self.plan = self.load_plan()

    def config(self, path) -> RetrainConfig:
        cfg = parse_config(RetrainConfig, ["--config", str(path), "--arch", "-",
                                           "--from_scratch"])
        return replace(cfg, dev_id=self.args.dev_id, progress=self.args.progress,
                       auto_resume=True)

    # -- the plan -----------------------------------------------------------------------------
    def load_plan(self) -> dict:
        if self.plan_path.is_file():
            plan = json.loads(self.plan_path.read_text())
            if plan["fingerprint"] != self.fingerprint:
                raise TableError(f"{self.plan_path}: drawn for space instance "
                                 f"{plan['fingerprint']}, this one is {self.fingerprint}")
        else:
            plan = self.draw_plan()
        for spec in self.args.add:
            name, _, file = spec.partition("=")
            if name not in plan["archs"]:
                plan["archs"][name] = self.entry("derived", load_arch(file))
        if not self.plan_path.is_file() or self.args.add:
            self.plan_path.parent.mkdir(parents=True, exist_ok=True)
            _common.atomic_write_text(self.plan_path, json.dumps(plan, indent=1) + "\n")
        return plan

    def entry(self, kind: str, arch: dict, windows=()) -> dict:
        """A plan entry: in-space architectures by their choices (priced by the LUT), others
        (a baseline of another width) by their whole architecture."""
        inside = arch["space"] == self.space and \
            full_kwargs(arch["space"], arch.get("space_kwargs", {})) == self.kwargs
        entry = {"kind": kind, "choices": arch["choices"],
                 "predicted": self.lut.predict(arch["choices"]) if inside else None,
                 "windows": list(windows), "seeds": self.args.seeds}
        if not inside:
            entry["arch"] = arch
        return entry

    def draw_plan(self) -> dict:
        args = self.args
        rng = random.Random(args.plan_seed)
        pool = []
        while len(pool) < args.population:
            choices = random_choices(self.lut.slots, rng)
            if choices not in pool:
                pool.append(choices)
        archs = {f"pop{i:03d}": self.entry("population", make_arch(self.space, self.kwargs, c))
                 for i, c in enumerate(pool)}
        budgets = dense_budgets([a["predicted"] for a in archs.values()], 2)
        for budget in budgets:
            name = f"b{budget:.4g}"
            inside = lambda c: BAND * budget <= self.lut.predict(c) <= budget  # noqa: E731
            members = [a for a, info in archs.items() if inside(info["choices"])]
            draws = 0
            while len(members) < args.window and draws < MAX_DRAWS:
                draws += 1
                choices = random_choices(self.lut.slots, rng)
                if inside(choices) and all(choices != a["choices"] for a in archs.values()):
                    members.append(f"{name}_{len(members):02d}")
                    archs[members[-1]] = self.entry("matched",
                                                    make_arch(self.space, self.kwargs, choices))
            # every member counts in the window's spread; the first --window are the matched
            # controls, with the extra seeds a comparison at that budget needs
            for index, member in enumerate(members):
                archs[member]["windows"].append(name)
                if index < args.window:
                    archs[member]["seeds"] = max(args.seeds, args.matched_seeds)
        for base, over in SPACES[self.space]["baselines"].items():
            arch = load_arch(ARCHS / f"{base}.json")
            archs[base] = self.entry("baseline", {**arch, "space_kwargs": {
                **arch["space_kwargs"], **over}})
        return {"space": self.space, "space_kwargs": self.kwargs,
                "fingerprint": self.fingerprint, "lut": self.lut_name,
                "plan_seed": args.plan_seed, "band": BAND,
                "budgets": {f"b{b:.4g}": b for b in budgets}, "archs": archs}

    def arch(self, arch_id: str) -> dict:
        info = self.plan["archs"][arch_id]
        return info.get("arch") or make_arch(self.space, self.kwargs, info["choices"])

    # -- tables -------------------------------------------------------------------------------
    def table(self, path: Path, cfg: RetrainConfig, ids=None, seeds=None) -> Table:
        """The table at ``path``, made (with the plan's ``ids``, each with ``seeds`` seeds
        or the plan's) when missing; refused when it was trained with another recipe or for
        another space instance."""
        recipe = _common.recipe_of(to_dict(cfg))
        if path.is_file():
            table = Table.load(path)
            table.check_recipe(recipe, self.fingerprint)
            return table
        archs = {i: {**info, "seeds": seeds or info["seeds"]}
                 for i, info in self.plan["archs"].items() if ids is None or i in ids}
        table = Table(path, {"space": self.space, "space_kwargs": self.kwargs,
                             "fingerprint": self.fingerprint, "dataset": self.dataset,
                             "metric": self.task.metric,
                             "higher_is_better": self.task.higher_is_better,
                             "lut": self.plan["lut"], "recipe": recipe,
                             "recipe_id": recipe_id(recipe),
                             "plan": {"file": self.plan_path.name,
                                      "budgets": self.plan["budgets"], "archs": archs},
                             "runs": []})
        table.save()
        return table

    def train(self, table: Table, cfg: RetrainConfig, arch_id: str, seed: int,
              folder: str = "") -> dict:
        """Train one (architecture, seed) from scratch and return its row."""
        root = self.args.runs_dir / table.path.stem / folder
        name = f"{arch_id}_s{seed}"
        file = root / "archs" / f"{arch_id}.json"
        save_arch(self.arch(arch_id), file)
        cfg = replace(cfg, seed=seed, arch=str(file), snapshot=str(root), name=name)
        resumed = (root / name / "checkpoint_last.pth").is_file()
        start = time.time()
        result = run_retrain(cfg)
        wall = time.time() - start
        report = evaluate(result.out_dir / "checkpoint_best.pth", cfg.dataset, cfg.data_root,
                          "test", runs=0)
        metric = self.task.metric
        return {"arch": arch_id, "seed": seed, "test": report[metric], "val": result.best,
                "train_loss_sum": sum(h["train_loss"] for h in result.history),
                "history": [[h["epoch"], round(h["train_loss"], 6), round(h["val"][metric], 6)]
                            for h in result.history],
                "params": report["params"], "macs": report["macs"],
                "predicted": table.archs[arch_id]["predicted"], "lut": table.data["lut"],
                "recipe_id": table.data["recipe_id"], "fingerprint": self.fingerprint,
                "commit": _git("rev-parse", "--short", "HEAD").strip(),
                "wall_s": round(wall, 1), "resumed": resumed, "device": cfg.dev_id,
                "threads": torch.get_num_threads(), "date": _common.machine()["date"]}


def dense_budgets(latencies: list[float], count: int) -> list[float]:
    """``count`` budgets, each the upper end of a window [BAND x b, b] holding the most of
    ``latencies`` (windows disjoint): where the population is densest."""
    budgets = []
    for _ in range(count):
        free = [b for b in latencies
                if all(b < BAND * o or BAND * b > o for o in budgets)]
        if not free:
            break
        budgets.append(max(free, key=lambda b: (sum(BAND * b <= x <= b for x in latencies),
                                                -b)))
    return sorted(budgets)


def _git(*argv) -> str:
    done = subprocess.run(["git", *argv], cwd=_common.ROOT, capture_output=True, text=True)
    return done.stdout if done.returncode == 0 else ""


def commit(path: Path, message: str) -> None:
    """Commit the table alone; retried while another git process holds the index."""
    for attempt in range(10):
        add = subprocess.run(["git", "add", str(path)], cwd=_common.ROOT, capture_output=True)
        done = subprocess.run(["git", "commit", "-q", "-m", message, "--", str(path)],
                              cwd=_common.ROOT, capture_output=True, text=True)
        if add.returncode == 0 and done.returncode == 0:
            return
        time.sleep(3 + attempt)
    log.warning("could not commit %s: %s", path, done.stderr.strip())


def units(inst: Instance, args) -> list[tuple[Table, RetrainConfig, str, int]]:
    """Every missing (table, recipe, architecture, seed), in the order they are trained."""
    if args.curves:
        ids = curve_archs(inst.plan)
        todo = []
        for epochs in sorted(args.curves):
            cfg = replace(inst.base, epochs=epochs)
            path = args.folder / "curves" / f"{inst.space}_{inst.dataset}_e{epochs}.json"
            table = inst.table(path, cfg, ids, seeds=args.seeds)
            todo += [(epochs, seed, a, table, cfg) for a, seed in table.missing()]
        # each epoch count with all its seeds before the next: a study cut short still has
        # the shorter recipes' seed noise
        return [(t, c, a, s) for _, s, a, t, c in sorted(todo, key=lambda u: u[:3])]
    suffix = "_gpu" if args.scale == "gpu" else ""
    table = inst.table(args.folder / f"{inst.space}_{inst.dataset}{suffix}.json", inst.base)
    if args.arch:
        if args.arch not in table.archs:
            raise SystemExit(f"{table.path}: no architecture {args.arch!r} in the plan")
        return [(table, inst.base, args.arch, args.seed)]
    return [(table, inst.base, a, s) for a, s in table.missing()]


def curve_archs(plan: dict) -> list[str]:
    """The population's cheapest, median and dearest architecture by the LUT."""
    population = sorted((info["predicted"], a) for a, info in plan["archs"].items()
                        if info["kind"] == "population")
    return [population[i][1] for i in (0, len(population) // 2, -1)]


def borrowed(folder: Path, table: Table, arch_id: str, seed: int) -> dict | None:
    """The row of this architecture and seed in another table of the same recipe and space
    instance (the learning-curve study's at the chosen length): copied, not trained again."""
    for path in sorted(folder.rglob("*.json")):
        if path == table.path or path.name.endswith(".plan.json"):
            continue
        other = Table.load(path)
        if (other.data["recipe_id"], other.data["fingerprint"]) != \
                (table.data["recipe_id"], table.data["fingerprint"]):
            continue
        row = other.row(arch_id, seed)
        if row and other.archs[arch_id]["choices"] == table.archs[arch_id]["choices"]:
            return {**row, "copied_from": path.name}
    return None


def run(args) -> None:
    inst = Instance(args)
    todo = units(inst, args)[:args.max_runs]
    log.info("%d runs to train", len(todo))
    for index, (table, cfg, arch_id, seed) in enumerate(todo):
        log.info("run %d/%d: %s %s seed %d", index + 1, len(todo), table.path.name, arch_id,
                 seed)
        known = table.row(arch_id, seed)
        row = None if known else borrowed(args.folder, table, arch_id, seed)
        row = row or inst.train(table, cfg, arch_id, seed, folder="repro" if known else "")
        if known:  # a reproduction: compare, keep the table as it is
            print(f"{arch_id} seed {seed}: test {table.data['metric']} {row['test']:.5f}, the "
                  f"table's {known['test']:.5f} (difference {row['test'] - known['test']:+.5f})")
            continue
        table.append(row)
        log.info("%s seed %d: test %s %.5f (%.0f s)", arch_id, seed, table.data["metric"],
                 row["test"], row["wall_s"])
        if args.commit:
            commit(table.path, f"groundtruth: {table.path.stem} {arch_id} seed {seed}")


def main(argv=None):
    logging.basicConfig(level=logging.INFO, format="%(asctime)s %(name)s: %(message)s",
                        datefmt="%H:%M:%S")
    args = parse_args(argv)
    if args.threads:
        torch.set_num_threads(args.threads)
    try:
        if args.report:
            from groundtruth_report import report

            report(Instance(args), args)
        else:
            run(args)
    except TableError as err:
        raise SystemExit(f"error: {err}") from None


if __name__ == "__main__":
    main()
