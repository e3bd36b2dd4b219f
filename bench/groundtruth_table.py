"""A space's ground-truth table on disk: the plan (which architectures, which seeds, the
matched-latency windows) and the finished runs, one row per (architecture, seed), under one
recipe and one space instance.

    {"space", "space_kwargs", "fingerprint", "dataset", "recipe", "recipe_id", "lut",
     "plan": {"budgets": {name: value}, "archs": {id: {kind, choices | file, predicted,
              windows, seeds}}},
     "runs": [{arch, seed, test, val, train_loss_sum, history, params, macs, predicted, ...}]}

Rows of another recipe or space instance are refused by name: a table mixes no two ways of
training. Written atomically after every row, so a killed runner loses at most the run it was
training (and that run resumes from its own checkpoint)."""
from __future__ import annotations

import hashlib
import json
from pathlib import Path

from lib.atomic import atomic_write_text


class TableError(ValueError):
    pass


def recipe_id(recipe: dict) -> str:
    return hashlib.sha256(json.dumps(recipe, sort_keys=True).encode()).hexdigest()[:12]


class Table:
    def __init__(self, path, data: dict):
        self.path, self.data = Path(path), data

    @classmethod
    def load(cls, path) -> "Table":
        path = Path(path)
        try:
            data = json.loads(path.read_text())
        except json.JSONDecodeError as err:
            raise TableError(f"{path}: line {err.lineno}: not valid JSON ({err.msg}); the file "
                             "is torn or edited by hand: restore it from git") from None
        for key in ("space", "fingerprint", "recipe_id", "plan", "runs"):
            if key not in data:
                raise TableError(f"{path}: not a ground-truth table (no {key!r})")
        table = cls(path, data)
        for index, run in enumerate(data["runs"]):
            table.check_row(run, f"{path}: row {index + 1}")
        return table

    def check_row(self, run: dict, where: str) -> None:
        """Refuse a row of another recipe or space instance, naming what differs."""
        label = f"{where} ({run.get('arch')}, seed {run.get('seed')})"
        if run.get("recipe_id") != self.data["recipe_id"]:
            raise TableError(f"{label} was trained with recipe {run.get('recipe_id')}, the "
                             f"table's is {self.data['recipe_id']}")
        if run.get("fingerprint") != self.data["fingerprint"]:
            raise TableError(f"{label} is of space instance {run.get('fingerprint')}, the "
                             f"table's is {self.data['fingerprint']}")
        if run.get("arch") not in self.data["plan"]["archs"]:
            raise TableError(f"{label}: architecture not in the table's plan")

    def check_recipe(self, recipe: dict, fingerprint: str) -> None:
        """Refuse to add to this table with another recipe or for another instance."""
        if fingerprint != self.data["fingerprint"]:
            raise TableError(f"{self.path}: built for space instance {self.data['fingerprint']} "
                             f"({self.data['space']} {self.data['space_kwargs']}), this run is "
                             f"{fingerprint}")
        if recipe_id(recipe) != self.data["recipe_id"]:
            theirs = self.data["recipe"]
            differ = sorted(k for k in {*theirs, *recipe} if theirs.get(k) != recipe.get(k))
            raise TableError(f"{self.path}: trained with another recipe; it differs in " +
                             ", ".join(f"{k} {theirs.get(k)!r} (here {recipe.get(k)!r})"
                                       for k in differ))

    @property
    def archs(self) -> dict:
        return self.data["plan"]["archs"]

    @property
    def runs(self) -> list[dict]:
        return self.data["runs"]

    def row(self, arch: str, seed: int) -> dict | None:
        return next((r for r in self.runs if (r["arch"], r["seed"]) == (arch, seed)), None)

    def missing(self) -> list[tuple[str, int]]:
        """(architecture, seed) units not yet trained, seed 0 of everything first, so that a
        table cut short still covers every architecture once."""
        units = [(seed, order, arch) for order, (arch, info) in enumerate(self.archs.items())
                 for seed in range(info["seeds"]) if self.row(arch, seed) is None]
        return [(arch, seed) for seed, _, arch in sorted(units)]

    def append(self, run: dict) -> None:
        self.check_row(run, str(self.path))
        if self.row(run["arch"], run["seed"]) is not None:
            raise TableError(f"{self.path}: already has {run['arch']} seed {run['seed']}")
        self.runs.append(run)
        self.save()

    def save(self) -> None:
        # one row a line: diffs of a growing table stay one line per run
        runs = ",\n  ".join(json.dumps(r, sort_keys=True) for r in self.runs)
        head = json.dumps({k: v for k, v in self.data.items() if k != "runs"}, indent=1)
        atomic_write_text(self.path, head[:-2] + f',\n "runs": [\n  {runs}\n ]\n}}\n'
                          if self.runs else head[:-2] + ',\n "runs": []\n}\n')

    def windows(self) -> dict[str, list[str]]:
        """Budget name -> the ids of the architectures in its matched window."""
        return {name: [a for a, info in self.archs.items() if name in info.get("windows", [])]
                for name in self.data["plan"]["budgets"]}
