"""The search searches: θ's task gradient compares candidates in every op slot, warm-up epochs
never become a searched result, and target mode spends its budget."""
import itertools
import json
import math
import random

import pytest
import torch

from lib.data import ensure_synthetic
from lib.latency import build_lut, load_lut, save_lut
from lib.spaces import describe_space, get_space
from lib.supernet.probe import candidate_derivatives, chain_to_theta
from lib.config import SearchConfig
from lib.train import run_search
from lib.train.distributed import distributed
from lib.train.search import Searcher

# tiny instances on the synthetic faces (106 points, 19 mask classes)
DATA_KWARGS = {"pfld_fbnet": {"num_points": 106}, "mbv2_landmark": {"num_points": 106},
               "hourglass_seg": {"num_classes": 19}}


@pytest.fixture(scope="module")
def faces(tmp_path_factory):
    return ensure_synthetic(tmp_path_factory.mktemp("data") / "synthetic", 112,
                            {"train": 48, "val": 8, "test": 8}, seed=1)


def _config(faces, tmp_path, space="pfld_fbnet", **overrides) -> SearchConfig:
    kwargs = {**get_space(space).tiny_kwargs, **DATA_KWARGS[space]}
    values = dict(space=space, space_kwargs=kwargs, data_root=str(faces), dev_id="cpu",
                  snapshot=str(tmp_path), lut="flops", epochs=2, warmup_epochs=1, batch_size=8,
                  progress=False, seed=0)
    return SearchConfig(**{**values, **overrides})


def _cosine(a, b) -> float:
    return float(torch.nn.functional.cosine_similarity(a, b, dim=0))


def _reference_task_gradient(searcher, batch, tau, gen_state) -> dict:
    """The all-candidates task gradient on θ, computed independently of the dense MixedOp:
    redraw the same Gumbel sample, run the single sampled path, give candidate i the
    directional derivative <dL/dout, out_i> of the loss along its output, and chain through
    the soft sample to θ."""
    model = searcher.model
    searcher.gumbel_gen.set_state(gen_state)
    model.sample(tau, searcher.gumbel_gen)  # single path, the same sample
    _, derivatives = candidate_derivatives(model, lambda m: searcher.task.theta_loss(m, batch))
    return chain_to_theta(model, derivatives)


@pytest.mark.parametrize("space", sorted(DATA_KWARGS))
def test_theta_task_gradient_compares_candidates_in_every_op_slot(faces, tmp_path, space):
    """Averaged over 3 batches (3 Gumbel samples), every op slot's task gradient on θ points
    the way of the all-candidates gradient (cosine >= 0.5). A single-path straight-through
    step fails this where BatchNorm cancels the rescaling of the sampled candidate."""
    cfg = _config(faces, tmp_path, space)
    with distributed(cfg) as dist:
        searcher = Searcher(cfg, dist)
        got, want = {}, {}
        for step, batch in zip(range(3), searcher.theta.forever()):
            state = searcher.gumbel_gen.get_state()
            task, _, _ = searcher.theta_gradients(batch, tau=2.0)
            reference = _reference_task_gradient(searcher, batch, 2.0, state)
            for label, value in reference.items():
                got[label] = got.get(label, 0) + task[label]
                want[label] = want.get(label, 0) + value
    assert set(want) == set(searcher.model.mixed_ops)
    blind = {label: round(_cosine(got[label], want[label]), 3) for label in want
             if not _cosine(got[label], want[label]) >= 0.5}
    assert not blind, f"op slots whose θ task gradient misses the all-candidates one: {blind}"


def _binomial_tail(hits: int, trials: int, p: float) -> float:
    """P(X >= hits) for X ~ Binomial(trials, p)."""
    return sum(math.comb(trials, k) * p ** k * (1 - p) ** (trials - k)
               for k in range(hits, trials + 1))


@pytest.mark.parametrize("space", ["pfld_fbnet", "mbv2_landmark"])
def test_search_recovers_a_planted_architecture(faces, tmp_path, space):
    """The supernet's own random weights, fixed at a planted architecture, label the images;
    with the weights frozen and the latency term off, the planted path is the one exact
    optimum, so θ steps alone must find it. Over 5 seeds, θ's argmax matches the planted
    choice (op and width slots) more often than chance with one-sided binomial p < 0.01
    (the single-path straight-through θ step does not: see the issue 12 note).
    Segmentation is left out: cross-entropy on the planted argmax labels rewards any path
    with more confident logits, so the planted path is not its optimum."""
    hits = trials = 0
    chance = 0.0
    for seed in range(5):
        cfg = _config(faces, tmp_path / str(seed), space, mode="add", alpha=0.0, tlr=0.1,
                      batch_size=16, seed=seed)
        with distributed(cfg) as dist:
            searcher = Searcher(cfg, dist)
            model = searcher.model
            rng = random.Random(seed)
            planted = {label: rng.choice(c) for label, c in model.candidates.items()}
            batches = searcher.batches.forever()  # the larger part of the tiny training set
            for _ in range(60):
                images, _, pose = next(batches)
                model.fix(planted)
                with torch.no_grad():
                    out = model(images)
                targets = out[0] if isinstance(out, tuple) else out
                searcher.theta_step([images, targets, pose], tau=1.0)
            derived = model.derive()
        hits += sum(derived[label] == value for label, value in planted.items())
        trials += len(planted)
        chance += sum(1 / len(model.candidates[label]) for label in planted)
    p_value = _binomial_tail(hits, trials, chance / trials)
    assert p_value < 0.01, (hits, trials, chance / trials)


def test_warmup_epochs_never_become_the_searched_result(faces, tmp_path, monkeypatch):
    """After warm-up-only epochs there is no arch.json and no checkpoint_best.pth; both appear
    with the first epoch in which θ trained."""
    seen = []
    end_epoch = Searcher.end_epoch

    def spy(self, writer):
        end_epoch(self, writer)
        seen.append((self.epoch, (self.out_dir / "arch.json").is_file(),
                     (self.out_dir / "checkpoint_best.pth").is_file()))

    monkeypatch.setattr(Searcher, "end_epoch", spy)
    result = run_search(_config(faces, tmp_path, epochs=3, warmup="epochs", warmup_epochs=2))
    assert seen == [(1, False, False), (2, False, False), (3, True, True)]
    assert json.loads((result.out_dir / "arch.json").read_text())["meta"]["epoch"] == 3


def test_metric_warmup_waits_for_the_trivial_predictor_to_be_beaten(faces, tmp_path, caplog):
    """With a margin no supernet reaches in one epoch, θ starts at the --warmup_epochs cap,
    and the log says so."""
    caplog.set_level("INFO", logger="lib.train.search")
    run_search(_config(faces, tmp_path, epochs=3, warmup_epochs=2, warmup_margin=0.99))
    ends = [r.getMessage() for r in caplog.records if "warm-up ends" in r.getMessage()]
    assert len(ends) == 1 and "--warmup_epochs 2 reached" in ends[0]
    assert "θ trains from epoch 3" in ends[0]


def test_metric_warmup_ends_when_the_trivial_predictor_is_beaten(faces, tmp_path, caplog,
                                                                monkeypatch):
    """Against a trivial predictor at NME 10, the first epoch beats it: θ trains from the
    second epoch although the cap would allow three warm-up epochs."""
    monkeypatch.setattr("lib.train.tasks.Task.trivial_score", lambda *args: 10.0)
    caplog.set_level("INFO", logger="lib.train.search")
    run_search(_config(faces, tmp_path, epochs=4, warmup_epochs=3))
    ends = [r.getMessage() for r in caplog.records if "warm-up ends" in r.getMessage()]
    assert len(ends) == 1 and "clearly beats the trivial 10.0000" in ends[0]
    assert "warm-up ends after epoch 1" in ends[0]


def test_expected_latency_is_silent_inside_the_target_band(faces, tmp_path):
    """θ starts with its expected latency in the middle of the target band, for a low and a
    high budget; there the 'expected' cost term puts no gradient on θ, so the task alone
    moves it. The Gumbel sample's ('sample') fires on the steps whose sampled path lands
    outside the band."""
    kwargs = {**get_space("pfld_fbnet").tiny_kwargs, **DATA_KWARGS["pfld_fbnet"]}
    table = build_lut("pfld_fbnet", kwargs, backend="flops", calib_archs=1, progress=False)
    table["fixed"]["value"] = 0.0  # the slots' spread, not the stem's constant
    save_lut(table, tmp_path / "lut.json")
    table = load_lut(tmp_path / "lut.json", "pfld_fbnet", kwargs)
    low, high = table.bounds()
    fired = {}
    for latency, budget in (("expected", low + 0.2 * (high - low)),
                            ("expected", low + 0.8 * (high - low)), ("sample", high)):
        cfg = _config(faces, tmp_path / latency, mode="target", lut=str(tmp_path / "lut.json"),
                      target_ms=budget, latency=latency)
        with distributed(cfg) as dist:
            searcher = Searcher(cfg, dist)
            start = table.fixed["value"] + float(searcher.model.expected_cost(
                searcher.costs, searcher.model.probabilities()))
            assert start == pytest.approx(0.95 * budget, rel=1e-3)  # θ starts mid-band
            fired.setdefault(latency, 0)
            for _, batch in zip(range(8), searcher.theta.forever()):
                task, cost, parts = searcher.theta_gradients(batch, tau=1.0)
                fired[latency] += any(g.abs().sum() > 0 for g in cost.values())
                assert any(g.abs().sum() > 0 for g in task.values())
    assert fired["expected"] == 0 and fired["sample"] > 0, fired


def test_target_mode_spends_the_budget(faces, tmp_path):
    """For two budgets inside the space's range, the derived architecture's predicted latency
    lands within 85-100 % of the budget."""
    kwargs = {**get_space("pfld_fbnet").tiny_kwargs, **DATA_KWARGS["pfld_fbnet"]}
    table = build_lut("pfld_fbnet", kwargs, backend="flops", calib_archs=1, progress=False)
    # the tiny space's stem, head and aux net outweigh its slots 14:1; without them any
    # architecture would lie within 85 % of any budget
    table["fixed"]["value"] = 0.0
    save_lut(table, tmp_path / "lut.json")
    lut = load_lut(tmp_path / "lut.json", "pfld_fbnet", kwargs)
    slots = describe_space("pfld_fbnet", kwargs)
    costs = sorted(lut.predict(dict(zip(slots, values)))
                   for values in itertools.product(*(s.candidates for s in slots.values())))
    slot_costs = lut.slot_costs()

    def expected(theta):  # θ's expected latency, softmax(θ) over the LUT's entries
        return sum(float(torch.softmax(theta[k], -1) @ c) for k, c in slot_costs.items())

    for share in (0.2, 0.8):  # budgets just above an architecture's cost: the band is not empty
        budget = costs[int(share * len(costs))] / 0.95
        runs = {alpha: run_search(_config(faces, tmp_path / f"{share}_{alpha}", mode="target",
                                          lut=str(tmp_path / "lut.json"), target_ms=budget,
                                          alpha=alpha, tlr=0.1, epochs=4, warmup_epochs=0,
                                          theta_split=0.5))
                for alpha in (None, 0.0)}
        result = runs[None]
        assert 0.85 * budget <= result.predicted <= budget, (share, result.predicted, budget)
        # the band is not only the derivation's doing: the cost term moved θ towards it
        # (a low budget: cheaper than the task alone; a high one: dearer)
        with_cost, task_only = (expected(r.theta) for r in runs.values())
        assert (with_cost < task_only) if share < 0.5 else (with_cost > task_only), \
            (share, with_cost, task_only, budget)
