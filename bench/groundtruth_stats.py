"""What a ground-truth table says: seed noise against the spread of architectures, and how
well a set of scores (a supernet's one-shot scores) ranks the table's architectures, each
figure with a bootstrap 95 % interval over the architectures.

Everything is in error terms (lower better): callers negate a higher-is-better metric."""
from __future__ import annotations

import random
import statistics
from itertools import combinations

from lib.latency import kendall_tau

BOOTSTRAP = 1000  # resamples: the 2.5/97.5 % quantiles to about ±0.01 in τ


def arch_means(runs: list[dict], key: str) -> dict[str, list[float]]:
    """Architecture id -> the ``key`` value of each of its runs."""
    values: dict[str, list[float]] = {}
    for run in runs:
        values.setdefault(run["arch"], []).append(run[key])
    return values


def seed_sd(values: dict[str, list[float]]) -> float | None:
    """The pooled within-architecture standard deviation (the seed noise of one run):
    Σ (n_i - 1) s_i² over Σ (n_i - 1), from architectures with two runs or more."""
    dof = sum(len(v) - 1 for v in values.values() if len(v) > 1)
    if not dof:
        return None
    pooled = sum((len(v) - 1) * statistics.variance(v) for v in values.values() if len(v) > 1)
    return (pooled / dof) ** 0.5


def spread(means: dict[str, float], sd: float | None) -> dict:
    """The spread of architecture means, and the share of pairs whose means differ by more
    than twice the seed sd (pairs the table tells apart)."""
    values = list(means.values())
    pairs = list(combinations(values, 2))
    apart = None if sd is None or not pairs else \
        sum(abs(a - b) > 2 * sd for a, b in pairs) / len(pairs)
    return {"n": len(values), "sd": statistics.stdev(values) if len(values) > 1 else None,
            "min": min(values, default=None), "max": max(values, default=None),
            "pairs_apart": apart}


def bootstrap(statistic, ids: list, seed: int = 0, resamples: int = BOOTSTRAP) -> list:
    """The 95 % percentile interval of ``statistic(ids)`` over resamples of ``ids`` with
    replacement (a statistic undefined on a resample returns None and is left out)."""
    rng = random.Random(seed)
    values = sorted(v for v in (statistic([rng.choice(ids) for _ in ids])
                                for _ in range(resamples)) if v is not None)
    if not values:
        return [None, None]
    return [values[int(0.025 * (len(values) - 1))], values[int(0.975 * (len(values) - 1))]]


def _with_interval(statistic, ids: list) -> dict:
    return {"value": statistic(ids), "ci95": bootstrap(statistic, ids), "n": len(ids)}


def tau_of(truth: dict, scores: dict):
    """Kendall τ between ground truth and scores over a list of ids (None below 2 ids)."""
    return lambda ids: kendall_tau([scores[i] for i in ids], [truth[i] for i in ids]) \
        if len(set(ids)) > 1 else None


def top_overlap(truth: dict, scores: dict, k: int):
    """The share of the k best by ground truth that are also among the k best by score."""
    def statistic(ids):
        unique = sorted(set(ids))
        if len(unique) < k:
            return None
        best = lambda by: set(sorted(unique, key=by.get)[:k])  # noqa: E731
        return len(best(truth) & best(scores)) / k
    return statistic


def percentile_of_pick(truth: dict, scores: dict):
    """The ground-truth percentile (100: the best, 0: the worst) of the id scored best."""
    def statistic(ids):
        unique = sorted(set(ids))
        if len(unique) < 2:
            return None
        pick = min(unique, key=scores.get)
        worse = sum(truth[i] > truth[pick] for i in unique)
        return 100 * worse / (len(unique) - 1)
    return statistic


def regret_of_pick(truth: dict, scores: dict):
    """How much worse the id scored best is than the best id, in the metric's unit."""
    def statistic(ids):
        unique = set(ids)
        return truth[min(unique, key=scores.get)] - min(truth[i] for i in unique)
    return statistic


def ranking(truth: dict, scores: dict, windows: dict[str, list], top: float = 0.2) -> dict:
    """How ``scores`` rank the ids of ``truth`` (both lower-is-better): Kendall τ over all,
    in the best ``top`` share and inside each window; the top-k overlap; per window the
    ground-truth percentile and the regret of the id the scores rank first."""
    ids = sorted(truth)
    best = sorted(ids, key=truth.get)[:max(2, round(top * len(ids)))]
    k = max(2, round(top * len(ids)))
    report = {"tau": _with_interval(tau_of(truth, scores), ids),
              "tau_top": _with_interval(tau_of(truth, scores), best),
              "top_k_overlap": {"k": k, **_with_interval(top_overlap(truth, scores, k), ids)},
              "windows": {}}
    for name, members in windows.items():
        inside = sorted(i for i in members if i in truth)
        report["windows"][name] = {
            "tau": _with_interval(tau_of(truth, scores), inside),
            "pick": min(inside, key=scores.get) if inside else None,
            "pick_percentile": _with_interval(percentile_of_pick(truth, scores), inside),
            "regret": _with_interval(regret_of_pick(truth, scores), inside) if inside
            else None}
    return report
