"""The optional Archai adapter: the choice arithmetic without archai; the search space, the
evaluators and a short EvolutionParetoSearch with it (skipped without
requirements-archai.txt)."""
import random

import pytest

from lib.archai_adapter import (archai_available, candidates_of, crossover_choices,
                                mutate_choices, sample_choices)
from lib.data import ensure_synthetic
from lib.latency import resolve_lut
from lib.spaces import full_kwargs, get_space, load_arch, validate_arch

needs_archai = pytest.mark.skipif(not archai_available(),
                                  reason="archai is optional: pip install -r "
                                         "requirements-archai.txt")


def test_mutation_changes_a_slot_and_crossover_takes_each_slot_from_a_parent(space):
    name, kwargs = space
    candidates = candidates_of(name, kwargs)
    rng = random.Random(0)
    for _ in range(20):
        a, b = sample_choices(candidates, rng), sample_choices(candidates, rng)
        child = mutate_choices(candidates, a, rng)
        assert child != a and set(child) == set(a)
        assert all(child[s] in candidates[s] for s in candidates)
        mixed = crossover_choices(candidates, [a, b], rng)
        assert all(mixed[s] in (a[s], b[s]) for s in candidates)
    with pytest.raises(ValueError, match="nothing to mutate"):
        mutate_choices({"s": ("skip",)}, {"s": "skip"}, rng)


@needs_archai
def test_archai_samples_mutates_and_crosses_over_valid_architecture_files(space, tmp_path):
    from lib.archai_adapter import archai_search_space

    name, kwargs = space
    search_space = archai_search_space(name, kwargs, seed=0)
    parents = [search_space.random_sample() for _ in range(4)]
    children = [search_space.mutate(p) for p in parents]
    children += [search_space.crossover(parents[i:i + 2]) for i in range(3)]
    for i, model in enumerate(parents + children):
        search_space.save_arch(model, str(tmp_path / f"m{i}"))
        arch = load_arch(tmp_path / f"m{i}.json")  # strict: every slot, known candidates
        assert arch == validate_arch(model.arch)
        assert arch["space_kwargs"] == full_kwargs(name, kwargs)
        assert search_space.load_arch(tmp_path / f"m{i}.json").archid == model.archid
    assert all(c.archid != p.archid for c, p in zip(children, parents))


@needs_archai
def test_a_short_evolution_search_trains_candidates_and_returns_a_front(tmp_path):
    from lib.archai_adapter import archai_search_space, evolution_search, partial_training
    from lib.train.tasks import make_task

    root = ensure_synthetic(tmp_path / "faces", 112, {"train": 16, "val": 8, "test": 4}, seed=1)
    kwargs = full_kwargs("pfld_fbnet", {**get_space("pfld_fbnet").tiny_kwargs, "num_points": 106})
    task = make_task("pfld_fbnet", kwargs, "synthetic", root)
    splits = task.splits()
    metric = partial_training(task, splits["train"], splits["val"], steps=2, batch_size=8,
                              lr=1e-3)
    result = evolution_search(archai_search_space("pfld_fbnet", kwargs, seed=0),
                              resolve_lut("flops", "pfld_fbnet", kwargs), metric,
                              task.higher_is_better, tmp_path / "archai", wall_clock_s=0,
                              init_num_models=3, num_random_mix=1, mutations_per_parent=1,
                              num_crossovers=1, max_unseen_population=2)
    assert result["iterations"] == 1  # a spent budget still lets the first iteration finish
    assert len(result["evaluated"]) == 3 and result["front"]
    assert all(row["metric"] > 0 and row["latency_ms"] > 0 for row in result["evaluated"])
    front = {tuple(sorted(r["choices"].items())) for r in result["front"]}
    assert front <= {tuple(sorted(r["choices"].items())) for r in result["evaluated"]}
