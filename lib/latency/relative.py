"""Drift-proof timing: models are timed in alternation with one fixed reference model, and
what is kept is the ratio of each model's median to the reference's median at the moment
the model was timed (interpolated linearly between the reference bursts around it, which
are at most ``interval`` seconds apart).

Why: on these machines the speed of a core drifts by 5-35 % over minutes (thread CPU time
follows wall time, so it is the machine, not preemption). Two models timed minutes apart
then swap places; a ratio to a reference timed within the same second does not move with
the machine. The ratio times the reference's median over the whole run gives milliseconds.
Re-timing the reference by the clock rather than after every model keeps its share of the
run small for tables of thousands of small blocks; ``interval`` must stay well below the
time the machine's speed takes to change (here, tens of seconds and more).

A model's ratio is the median over rounds, and rounds repeat over the models whose median is
not yet known to ±``precision`` (distribution-free 95 % interval: order statistics) until
``max_rounds``. Every round opens fresh sessions (a session's memory placement can make it
about 30 % slower for its whole life: a fresh one each round turns that luck into noise the
interval sees, instead of a bias), and the fastest of ``sessions`` fresh sessions is one
round's value. The median, because the per-round ratios have heavy tails on both sides (a
slow session of the model or of the reference burst it is divided by). Measured by
bench/timing_estimators.py on 32 PFLD subnets, two passes each: at 20 rounds the median's
pass-to-pass difference was 2.1 % (Kendall τ 0.75) against the geometric mean's 2.7 % (0.73),
the minimum's 8 % (an earlier ad-hoc run of the same, in a quieter hour: 0.9 % against 1.9 %).
"""
from __future__ import annotations

import math
import statistics
import time
from dataclasses import dataclass, field

import numpy as np

# standalone: numpy and the standard library only (tqdm when there), because a measurement
# kit copies this file to a device that has neither torch nor this project (kit.py)
try:
    from tqdm import tqdm
except ImportError:  # pragma: no cover - a bare device
    tqdm = None

now = time.perf_counter  # the clock the reference is re-timed by (a test replaces it)


def median_ms(fn, warmup: int, runs: int) -> float:
    """One burst: the median of ``runs`` individually timed calls after ``warmup``."""
    for _ in range(warmup):
        fn()
    times = []
    for _ in range(runs):
        # each call timed on its own: the median then drops the calls a context
        # switch or a GC pause hit, which a total over the burst would keep
        start = time.perf_counter_ns()
        fn()
        times.append(time.perf_counter_ns() - start)
    return statistics.median(times) / 1e6


def median_ci95(values) -> tuple[float, float, float]:
    """(median, low, high): the median with its distribution-free 95 % interval, the order
    statistics x_(k) and x_(n+1-k) for the largest k with P(Binomial(n, 1/2) < k) <= 2.5 %.
    Below 6 values no such k exists and the interval is the whole range (coverage 1 - 2^(1-n))."""
    values = sorted(float(v) for v in values)
    n = len(values)
    if not n:
        raise ValueError("median_ci95 needs at least one value")
    k, below = 0, 0.0
    while below + math.comb(n, k) / 2 ** n <= 0.025:
        below += math.comb(n, k) / 2 ** n
        k += 1
    # k = 0 (n < 6): no order statistic qualifies; the extremes are the widest interval there is
    k = max(k, 1)
    return statistics.median(values), values[k - 1], values[n - k]


@dataclass(frozen=True)
class Timing:
    """How one model is timed: per round, the fastest of ``sessions`` fresh sessions' medians
    of ``runs`` calls after ``warmup``; rounds until the 95 % interval of the median ratio
    is within ±``precision`` (at least ``min_rounds``, at most ``max_rounds``). 6 rounds are
    the fewest with a distribution-free 95 % interval of a median. On PFLD subnets its
    half-width after 20-30 rounds was 1.3-6.3 % (10th-90th percentile over two runs of
    bench/timing_estimators.py): ±2 % stops the steady models early, and 40 rounds bound the
    rest (a LUT build of PFLD in about a minute)."""
    warmup: int = 20
    runs: int = 200
    sessions: int = 1
    precision: float = 0.02
    min_rounds: int = 6
    max_rounds: int = 40
    interval: float = 1.0  # seconds between reference bursts at most

    def describe(self) -> str:
        return (f"ratio to a reference model re-timed every {self.interval:g} s (median over "
                f"rounds, until ±{100 * self.precision:g} % at 95 % or {self.max_rounds} "
                f"rounds) x the reference's median; a round: the fastest of {self.sessions} fresh "
                f"session(s)' median of {self.runs} runs")


@dataclass
class Relative:
    ratio: float  # median over rounds of model / reference
    ms: float  # ratio x the reference's median
    ci95: tuple[float, float]  # of ms, from the log ratios' interval
    ratios: list[float] = field(default_factory=list)  # one per round

    def as_dict(self) -> dict:
        return {"ratio": self.ratio, "ms": self.ms, "ci95": list(self.ci95),
                "rounds": len(self.ratios), "ratios": self.ratios}


def time_relative(models: dict, reference, timing: Timing = Timing(),
                  progress: bool = False) -> tuple[dict, dict]:
    """``models``: name -> session factory (``measure.sessions_of``); ``reference``: the
    reference model's factory. Returns ``({name: Relative}, reference)`` where
    ``reference`` holds its median ms and every value it took."""
    if not models:
        raise ValueError("time_relative needs at least one model")

    def value(fresh) -> float:
        return min(median_ms(fresh(), timing.warmup, timing.runs)
                   for _ in range(timing.sessions))

    logs = {name: [] for name in models}
    reference_ms = []
    pending = list(models)
    bar = _Bar() if tqdm is None else tqdm(total=timing.max_rounds, desc="timing rounds",
                                           disable=not progress)
    for round_ in range(timing.max_rounds):
        points = [(now(), value(reference))]  # (time, reference ms)
        timed = []  # (name, mid time, ms)
        for name in pending:
            start = now()
            ms = value(models[name])
            timed.append((name, (start + now()) / 2, ms))
            if now() - points[-1][0] >= timing.interval or name == pending[-1]:
                points.append((now(), value(reference)))
        times, values = zip(*points)
        for name, at, ms in timed:
            # log ratios: a model twice as slow and one twice as fast lie equally
            # far from 0, and the interval is taken on them symmetrically
            logs[name].append(math.log(ms / float(np.interp(at, times, values))))
        reference_ms += values
        bar.update()
        if round_ + 1 >= timing.min_rounds:
            # log1p(precision): ±precision on the ratio as a half-width in log space
            pending = [name for name in pending
                       if _halfwidth(logs[name]) > math.log1p(timing.precision)]
            bar.set_postfix(pending=len(pending))
        if not pending:
            break
    bar.close()
    scale = statistics.median(reference_ms)
    result = {}
    for name, values in logs.items():
        middle, low, high = median_ci95(values)
        result[name] = Relative(math.exp(middle), math.exp(middle) * scale,
                                (math.exp(low) * scale, math.exp(high) * scale),
                                [math.exp(v) for v in values])
    return result, {"ms": scale, "values": reference_ms}


def reference_summary(times: dict, reference: dict) -> dict:
    """What a table records of a :func:`time_relative` run: the reference's median ms, the
    range its bursts spanned (the machine's drift during the run) and the models' rounds."""
    rounds = [len(t.ratios) for t in times.values()]
    return {"ms": reference["ms"], "range": [min(reference["values"]), max(reference["values"])],
            "rounds": [min(rounds), max(rounds)]}


def _halfwidth(values: list[float]) -> float:
    _, low, high = median_ci95(values)
    return (high - low) / 2


class _Bar:
    """No progress bar where tqdm is not installed."""

    def update(self, *_):
        pass

    def set_postfix(self, **_):
        pass

    def close(self):
        pass
