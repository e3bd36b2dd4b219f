"""Rank agreement: how well one ordering (a LUT, θ) matches another (measurements, latency)."""
from __future__ import annotations

import statistics


def kendall_tau(xs, ys) -> float:
    """Kendall's tau-b (ties in either list counted as in scipy); 0 when undefined."""
    concordant = discordant = ties_x = ties_y = 0
    for i in range(len(xs)):
        for j in range(i + 1, len(xs)):
            dx, dy = xs[i] - xs[j], ys[i] - ys[j]
            # a pair tied in both lists counts in neither denominator, as in scipy's tau-b
            if dx == 0 and dy == 0:
                continue
            if dx == 0:
                ties_x += 1
            elif dy == 0:
                ties_y += 1
            elif (dx > 0) == (dy > 0):
                concordant += 1
            else:
                discordant += 1
    pairs_x, pairs_y = concordant + discordant + ties_x, concordant + discordant + ties_y
    return (concordant - discordant) / ((pairs_x * pairs_y) ** 0.5) if pairs_x and pairs_y \
        else 0.0


# Two-sided 95 % quantiles of Student's t for 1..30 degrees of freedom; beyond 30 the table's
# last value (2.042) slightly overstates the interval (the limit is 1.960), which errs wide.
_T975 = (12.706, 4.303, 3.182, 2.776, 2.571, 2.447, 2.365, 2.306, 2.262, 2.228, 2.201, 2.179,
         2.160, 2.145, 2.131, 2.120, 2.110, 2.101, 2.093, 2.086, 2.080, 2.074, 2.069, 2.064,
         2.060, 2.056, 2.052, 2.048, 2.045, 2.042)


def mean_ci95(values) -> tuple[float, float, float]:
    """(mean, low, high): the mean with its 95 % t confidence interval (an independent sample
    from a roughly normal population); the interval is the mean itself for one value."""
    values = [float(v) for v in values]
    n = len(values)
    if not n:
        raise ValueError("mean_ci95 needs at least one value")
    mean = sum(values) / n
    if n == 1:
        return mean, mean, mean
    sd = (sum((v - mean) ** 2 for v in values) / (n - 1)) ** 0.5
    half = _T975[min(n - 1, len(_T975)) - 1] * sd / n ** 0.5
    return mean, mean - half, mean + half


def percentile_among(value: float, others, higher_is_better: bool) -> float:
    """The share (0-100) of ``others`` that ``value`` beats, ties counted half: 100 is better
    than all of them, 50 is the median."""
    others = list(others)
    if not others:
        raise ValueError("percentile_among needs at least one value to compare with")
    sign = 1 if higher_is_better else -1
    beats = sum(1.0 if sign * (value - o) > 0 else 0.5 if value == o else 0.0 for o in others)
    return 100.0 * beats / len(others)


def prediction_scores(predicted, measured) -> dict:
    """How well predictions match measurements: MAPE, Kendall τ, the share within ±10 % and
    the worst error."""
    # relative to the measurement: a 10 µs miss matters on a 0.2 ms model, not on a 3 ms one
    errors = [(p - m) / m for p, m in zip(predicted, measured)]
    return {"mape_pct": 100 * statistics.fmean(abs(e) for e in errors),
            "kendall_tau": kendall_tau(predicted, measured),
            "within_10pct": sum(abs(e) <= 0.10 for e in errors) / len(errors),
            "max_abs_error_pct": 100 * max(abs(e) for e in errors)}
