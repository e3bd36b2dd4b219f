"""Pareto front over (cost, error), both minimised."""
from __future__ import annotations


def pareto_front(points: list[tuple[float, float]]) -> list[bool]:
    """``True`` for each point no other point dominates (<= in both, < in one)."""
    flags = []
    for i, (c, e) in enumerate(points):
        dominated = any((c2 <= c and e2 <= e) and (c2 < c or e2 < e)
                        for j, (c2, e2) in enumerate(points) if j != i)
        flags.append(not dominated)
    return flags
