"""Rank agreement: how well one ordering (a LUT, θ) matches another (measurements, latency)."""
from __future__ import annotations


def kendall_tau(xs, ys) -> float:
    """Kendall's tau-b (ties in either list counted as in scipy); 0 when undefined."""
    concordant = discordant = ties_x = ties_y = 0
    for i in range(len(xs)):
        for j in range(i + 1, len(xs)):
            dx, dy = xs[i] - xs[j], ys[i] - ys[j]
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
