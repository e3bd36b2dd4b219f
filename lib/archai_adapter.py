"""Archai as a peer: a registered space as an Archai ``EvolutionarySearchSpace``, this project's
LUT as its latency objective, partial training with this project's task code as its metric
objective, and ``EvolutionParetoSearch`` run for a wall-clock budget.

Optional (``pip install -r requirements-archai.txt``: archai 1.0.0, which imports pandas
without declaring it). The core never imports this module, and this module imports archai only
inside its functions, so the project imports and runs without it; the choice arithmetic
(sample, mutate, cross over) is plain Python and is tested without archai.

An Archai model here carries an architecture file (``{"space", "space_kwargs", "choices"}``)
as its ``arch``, not a network: every evaluator builds what it needs from it, so a model is
a few hundred bytes and the search keeps all of them (``clear_evaluated_models=False``: with
clearing on, a Pareto member of an earlier iteration could no longer be saved).
"""
from __future__ import annotations

import hashlib
import importlib.util
import itertools
import json
import logging
import random
import time
from pathlib import Path

import torch

from .spaces import (describe_space, full_kwargs, load_arch, make_arch, save_arch,
                     short_kwargs, validate_arch)
from .supernet import build_subnet

log = logging.getLogger(__name__)


def archai_available() -> bool:
    return importlib.util.find_spec("archai") is not None


def overrides(method):
    """Marks an override for archai's base classes, which refuse unmarked ones. The
    ``overrides`` package archai pins (3.1.0) finds the base class by reading bytecode and
    raises IndexError on Python 3.11 for a class defined inside a function; its metaclass only
    checks this attribute."""
    method.__override__ = True
    return method


def candidates_of(space: str, space_kwargs: dict) -> dict[str, tuple[str, ...]]:
    """Every slot's candidates, op slots and width slots alike (an architecture file's
    ``choices`` name both)."""
    return {label: tuple(slot.candidates)
            for label, slot in describe_space(space, space_kwargs).items()}


def sample_choices(candidates: dict, rng: random.Random) -> dict:
    return {label: rng.choice(options) for label, options in candidates.items()}


def mutate_choices(candidates: dict, choices: dict, rng: random.Random,
                   rate: float = 0.2) -> dict:
    """Each slot re-drawn among its other candidates with probability ``rate``; at least one
    slot always changes, so a mutation is never its parent (Archai discards repeats, and a
    no-op mutation would spend one of its tries)."""
    free = [label for label, options in candidates.items() if len(options) > 1]
    if not free:
        raise ValueError("a space with one candidate per slot has nothing to mutate")
    forced = rng.choice(free)
    child = dict(choices)
    for label in free:
        if label == forced or rng.random() < rate:
            child[label] = rng.choice([op for op in candidates[label] if op != choices[label]])
    return child


def crossover_choices(candidates: dict, parents: list[dict], rng: random.Random) -> dict:
    """Uniform crossover: each slot's choice from one parent drawn at random. Slots are
    independent in every registered space (a width slot only sets channel counts its blocks
    adapt to), so any mix is a valid architecture."""
    return {label: rng.choice(parents)[label] for label in candidates}


def arch_id(arch: dict) -> str:
    """A stable id of the architecture (space, kwargs, choices): Archai deduplicates by it."""
    blob = json.dumps({k: arch[k] for k in ("space", "space_kwargs", "choices")},
                      sort_keys=True)
    return hashlib.sha256(blob.encode()).hexdigest()[:16]


def archai_search_space(space: str, space_kwargs: dict | None = None, seed: int = 0,
                        mutation_rate: float = 0.2):
    """``space`` as an Archai ``EvolutionarySearchSpace`` over architecture files."""
    from archai.discrete_search.api import ArchaiModel
    from archai.discrete_search.api.search_space import EvolutionarySearchSpace

    kwargs = full_kwargs(space, space_kwargs or {})
    candidates = candidates_of(space, kwargs)
    # one seeded generator behind every proposal: a seeded search
    # proposes the same architectures for the same sequence of calls
    rng = random.Random(seed)

    def model(choices: dict) -> ArchaiModel:
        arch = validate_arch(make_arch(space, kwargs, choices), "Archai sample")
        return ArchaiModel(arch=arch, archid=arch_id(arch))

    class FaceSearchSpace(EvolutionarySearchSpace):
        @overrides
        def random_sample(self) -> ArchaiModel:
            return model(sample_choices(candidates, rng))

        @overrides
        def mutate(self, arch: ArchaiModel) -> ArchaiModel:
            return model(mutate_choices(candidates, arch.arch["choices"], rng, mutation_rate))

        @overrides
        def crossover(self, arch_list: list) -> ArchaiModel:
            return model(crossover_choices(candidates, [m.arch["choices"] for m in arch_list],
                                           rng))

        @overrides
        def save_arch(self, model: ArchaiModel, file_path: str) -> None:
            save_arch(model.arch, Path(file_path).with_suffix(".json"))

        @overrides
        def load_arch(self, file_path: str) -> ArchaiModel:
            arch = load_arch(file_path)  # canonical kwargs, like ``kwargs``
            if (arch["space"], arch["space_kwargs"]) != (space, kwargs):
                raise ValueError(f"{file_path}: an architecture of {arch['space']} "
                                 f"{short_kwargs(arch['space'], arch['space_kwargs'])}, not of "
                                 f"this search space {space} {short_kwargs(space, kwargs)}")
            return model(arch["choices"])

        @overrides
        def save_model_weights(self, model, file_path) -> None:
            raise NotImplementedError("models here are architecture files; partial training "
                                      "keeps no weights (EvolutionParetoSearch("
                                      "save_pareto_model_weights=False))")

        @overrides
        def load_model_weights(self, model, file_path) -> None:
            self.save_model_weights(model, file_path)

    return FaceSearchSpace()


def lut_latency(lut):
    """The LUT's latency of a model's architecture as an Archai evaluator (cheap)."""
    from archai.discrete_search.api import ModelEvaluator

    class LutLatency(ModelEvaluator):
        @overrides
        def evaluate(self, model, budget=None) -> float:
            return lut.predict(model.arch["choices"])

    return LutLatency()


def partial_training(task, train_set, val_set, steps: int, batch_size: int, lr: float,
                     wd: float = 0.0, seed: int = 0, device: str = "cpu"):
    """An Archai evaluator: the architecture trained from scratch for ``steps`` steps with the
    retraining recipe's optimiser (Adam, constant lr: the cosine schedule of a full run would
    be cut short anyway), then its validation metric. Every candidate sees the same
    initialisation seed and the same batches, so two candidates differ by architecture only."""
    from archai.discrete_search.api import ModelEvaluator

    if len(train_set) < batch_size:
        raise ValueError(f"partial training: {len(train_set)} training samples, fewer than one "
                         f"batch of {batch_size}")
    val_loader = torch.utils.data.DataLoader(val_set, batch_size)

    class PartialTraining(ModelEvaluator):
        @overrides
        def evaluate(self, model, budget=None) -> float:
            torch.manual_seed(seed)
            net = build_subnet(model.arch).to(device).train()
            opt = torch.optim.Adam(net.parameters(), lr, weight_decay=wd)
            loader = torch.utils.data.DataLoader(
                train_set, batch_size, shuffle=True, drop_last=True,
                generator=torch.Generator().manual_seed(seed))
            # cycle replays the first pass's batches as saved (no
            # reshuffle): every candidate sees the very same sequence
            for batch in itertools.islice(itertools.cycle(loader), steps):
                loss = task.loss(net, [t.to(device) for t in batch])
                opt.zero_grad(set_to_none=True)
                loss.backward()
                opt.step()
            return task.evaluate(net, val_loader, device)[task.metric]

    return PartialTraining()


class _BudgetSpent(Exception):
    pass


def evolution_search(space_obj, lut, metric_evaluator, higher_is_better: bool, out_dir,
                     wall_clock_s: float, seed: int = 0, **search_kwargs) -> dict:
    """Archai's ``EvolutionParetoSearch`` until ``wall_clock_s`` is spent. The budget is
    checked when an iteration starts (Archai records nothing of an iteration cut short), so
    the search may overrun by up to one iteration; the seconds it really took are returned
    with every evaluated architecture and its objectives, and the final Pareto front."""
    from archai.discrete_search.algos import EvolutionParetoSearch
    from archai.discrete_search.api import SearchObjectives

    objectives = SearchObjectives()
    objectives.add_objective("latency_ms", lut_latency(lut), higher_is_better=False,
                             compute_intensive=False)
    objectives.add_objective("metric", metric_evaluator, higher_is_better=higher_is_better,
                             compute_intensive=True)
    # num_iters is effectively unbounded: the wall-clock check below ends the search
    search = EvolutionParetoSearch(space_obj, objectives, str(out_dir), num_iters=10_000,
                                   save_pareto_model_weights=False,
                                   clear_evaluated_models=False, seed=seed, **search_kwargs)
    start = time.perf_counter()

    def check(iteration: int) -> None:
        spent = time.perf_counter() - start
        # the first iteration always runs: a budget shorter than one still yields a front
        if iteration > 1 and spent >= wall_clock_s:
            raise _BudgetSpent
        log.info("Archai iteration %d, %.0f of %.0f s spent", iteration, spent, wall_clock_s)

    search.subscribe_start_iteration(check)
    try:
        search.search()
    except _BudgetSpent:
        pass
    seconds = time.perf_counter() - start
    state = search.search_state
    evaluated = [{"choices": m.arch["choices"], "latency_ms": float(lat), "metric": float(met),
                  "iteration": it}
                 for it, results in enumerate(state.results, 1)
                 for m, lat, met in zip(results["models"], results["latency_ms"],
                                        results["metric"])]
    front = state.get_pareto_frontier()
    return {"seconds": seconds, "iterations": len(state.results), "evaluated": evaluated,
            "front": [{"choices": m.arch["choices"],
                       "latency_ms": float(front["evaluation_results"]["latency_ms"][i]),
                       "metric": float(front["evaluation_results"]["metric"][i])}
                      for i, m in enumerate(front["models"])]}

