#!/usr/bin/env python
"""Which statistic of the per-round ratios repeats best: test-retest of the candidates.

    python bench/timing_estimators.py [--space pfld_fbnet] [--n 32] [--rounds 20]

Times --n random subnets in two independent drift-proof passes of exactly --rounds rounds
each (``lib.latency.relative``, no early stop), keeps every round's ratio to the reference,
and scores each statistic over the first 5, 10, ... rounds of pass 2 against pass 1 (MAPE and
Kendall τ). The one with the smallest pass-to-pass difference is what ``time_relative``
should keep; the per-round spread and the half-width of the median's distribution-free
interval set its default ``precision`` and rounds. Writes
output/bench/timing_estimators_<space>.json.
"""
import argparse
import json
import math
import random
import statistics

import _common

from lib.config import SpaceOptions
from lib.latency import Timing, random_choices, subnet, time_relative
from lib.latency.measure import sessions_of
from lib.latency.ranking import kendall_tau
from lib.latency.relative import median_ci95
from lib.latency.slots import input_shape_of, trace_slots


def _log_mean(values):
    return math.exp(statistics.fmean(map(math.log, values)))


ESTIMATORS = {"median": statistics.median, "geometric mean": _log_mean, "minimum": min,
              "lower-half mean": lambda v: _log_mean(sorted(v)[:max(1, len(v) // 2)])}


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--space", default="pfld_fbnet")
    parser.add_argument("--space_kwargs", type=json.loads, default={})
    parser.add_argument("--n", type=int, default=32, help="random subnets")
    parser.add_argument("--rounds", type=int, default=20, help="rounds per pass, all kept")
    parser.add_argument("--runs", type=int, default=Timing.runs)
    parser.add_argument("--sessions", type=int, default=Timing.sessions)
    parser.add_argument("--seed", type=int, default=1)
    parser.add_argument("--out", help="output folder (default output/bench)")
    args = parser.parse_args()
    kwargs = SpaceOptions(space=args.space, space_kwargs=args.space_kwargs).instance_kwargs()
    slots = trace_slots(args.space, kwargs)
    rng = random.Random(args.seed)
    shape = input_shape_of(args.space, kwargs)
    models = {f"random{i}": sessions_of("ort", subnet(args.space, kwargs,
                                                      random_choices(slots, rng)), shape)
              for i in range(args.n)}
    reference = sessions_of("ort", subnet(args.space, kwargs), shape)
    # precision 0: no model is ever done early, every pass has exactly --rounds rounds
    timing = Timing(runs=args.runs, sessions=args.sessions, precision=0.0,
                    min_rounds=args.rounds, max_rounds=args.rounds)
    passes = [{name: r.ratios for name, r in time_relative(models, reference, timing,
                                                            progress=True)[0].items()}
              for _ in range(2)]
    names = list(models)
    scores = {}
    for n in sorted({*range(5, args.rounds + 1, 5), args.rounds}):
        for kind, estimate in ESTIMATORS.items():
            first, second = ([estimate(p[m][:n]) for m in names] for p in passes)
            scores[f"{kind}, {n} rounds"] = {
                "mape_pct": 100 * statistics.fmean(abs(b / a - 1) for a, b in zip(first, second)),
                "kendall_tau": kendall_tau(first, second)}
    deviations = sorted(math.log(r / statistics.median(p[m])) for p in passes for m in names
                        for r in p[m])
    quantile = lambda q: math.expm1(deviations[round(q * (len(deviations) - 1))])  # noqa: E731
    halfwidths = sorted(math.expm1((high - low) / 2) for p in passes for m in names
                        for _, low, high in [median_ci95(map(math.log, p[m]))])
    spread = {"deviation_from_median_pct": {f"q{round(100 * q)}": 100 * quantile(q)
                                            for q in (0.01, 0.05, 0.25, 0.75, 0.95, 0.99)},
              "median_ci95_halfwidth_pct": {f"q{round(100 * q)}": 100 * halfwidths[
                  round(q * (len(halfwidths) - 1))] for q in (0.1, 0.5, 0.9)}}
    out = _common.write_result(f"timing_estimators_{args.space}", {
        "bench": "timing_estimators", "space": args.space, "space_kwargs": kwargs,
        "subnets": args.n, "rounds": args.rounds, "runs": args.runs, "sessions": args.sessions,
        "scores": scores, "spread": spread, "ratios": passes, "machine": _common.machine()},
        args.out)
    for name, s in scores.items():
        print(f"{name:>28}: test-retest MAPE {s['mape_pct']:.2f} %, tau {s['kendall_tau']:.3f}")
    print("per-round ratio around its model's median (1/5/25/75/95/99 %): " + ", ".join(
        f"{v:+.1f} %" for v in spread["deviation_from_median_pct"].values()))
    print(f"median's 95 % half-width after {args.rounds} rounds (10/50/90 %): " + ", ".join(
        f"{v:.1f} %" for v in spread["median_ci95_halfwidth_pct"].values()))
    print(f"wrote {out}")


if __name__ == "__main__":
    main()
