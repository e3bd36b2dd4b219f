"""Width slots: searchable channel counts (FBNetV2-style channel masking).

A width slot's candidates are multipliers written as strings ("0.5", "1.25"). They scale a
base: a fixed channel count (MobileNetV2's per-stage widths) or the width chosen at another
width slot (the hourglass's compounding growth). Channels are rounded to a multiple of
``divisor`` and capped.

The supernet builds every layer at the slot's widest reachable width and multiplies the
layer outputs by a mask ``sum_i w_i * [c < channels_i]``; the subnet builds the chosen width.
Latency is tabled over a small channel grid per width slot and interpolated bilinearly
(exact when the grid holds every reachable width, as in ``mbv2_landmark``).
"""
from __future__ import annotations

from dataclasses import dataclass

import torch
from torch import nn

MAX_GRID = 5


def make_divisible(value: float, divisor: int = 8) -> int:
    """MobileNet rounding: nearest multiple of ``divisor``, at least ``divisor``, and never
    more than 10% below ``value``."""
    rounded = max(divisor, int(value + divisor / 2) // divisor * divisor)
    return rounded + divisor if rounded < 0.9 * value else rounded


@dataclass(frozen=True)
class WidthSlot:
    label: str
    candidates: tuple[str, ...]
    base: int | str  # channels the multipliers scale, or the width slot whose value they scale
    cap: int | None = None
    divisor: int = 8

    def channels(self, candidate: str, base_channels: int) -> int:
        ch = make_divisible(base_channels * float(candidate), self.divisor)
        return min(ch, self.cap) if self.cap else ch

    def info(self) -> dict:
        return {"kind": "width", "candidates": list(self.candidates), "base": self.base,
                "cap": self.cap, "divisor": self.divisor}

    @classmethod
    def from_info(cls, label: str, info: dict) -> WidthSlot:
        """The inverse of ``info()`` (as stored in a LUT's slot table)."""
        return cls(label, tuple(info["candidates"]), info["base"], info["cap"], info["divisor"])


def parse_multiplier(label: str, value: str) -> float:
    try:
        number = float(value)
    except ValueError:
        number = -1.0
    if number <= 0:
        raise ValueError(f"width slot {label!r}: candidate {value!r} is not a positive number")
    return number


def base_channels(slot: WidthSlot, values: dict[str, int]) -> int:
    if isinstance(slot.base, str):
        if slot.base not in values:
            raise ValueError(f"width slot {slot.label!r}: base slot {slot.base!r} must be "
                             "declared before it")
        return values[slot.base]
    return slot.base


def candidate_channels(width_slots: dict[str, WidthSlot],
                       index: dict[str, int]) -> tuple[dict[str, int], dict[str, list[int]]]:
    """``(chosen, candidates)``: the channels of each width slot's ``index``-th candidate,
    and of all its candidates, in declaration order: a scaled width's candidates scale the
    width chosen at its base slot."""
    chosen, candidates = {}, {}
    for label, slot in width_slots.items():
        base = base_channels(slot, chosen)
        candidates[label] = [slot.channels(c, base) for c in slot.candidates]
        chosen[label] = candidates[label][index[label]]
    return chosen, candidates


def resolve(width_slots: dict[str, WidthSlot], choices: dict[str, str]) -> dict[str, int]:
    """Channels of every width slot under an architecture's choices."""
    return candidate_channels(width_slots, {label: slot.candidates.index(choices[label])
                                            for label, slot in width_slots.items()})[0]


def reachable(width_slots: dict[str, WidthSlot]) -> dict[str, list[int]]:
    """Every channel count each width slot can take, over all architectures."""
    reach: dict[str, list[int]] = {}
    for label, slot in width_slots.items():
        bases = reach[slot.base] if isinstance(slot.base, str) else [slot.base]
        reach[label] = sorted({slot.channels(c, b) for c in slot.candidates for b in bases})
    return reach


def grids(width_slots: dict[str, WidthSlot]) -> dict[str, list[int]]:
    return {label: grid_of(values) for label, values in reachable(width_slots).items()}


def grid_of(values: list[int], max_points: int = MAX_GRID) -> list[int]:
    """The channel grid a LUT measures: every reachable value when few, else ``max_points``
    spread over them (ends included)."""
    if len(values) <= max_points:
        return list(values)
    step = (len(values) - 1) / (max_points - 1)
    return sorted({values[round(i * step)] for i in range(max_points)})


def interp_weights(grid: list[int], channels: int) -> torch.Tensor:
    """Linear interpolation weights of ``channels`` over ``grid`` (clamped at the ends)."""
    w = torch.zeros(len(grid))
    if channels <= grid[0] or len(grid) == 1:
        w[0] = 1.0
    elif channels >= grid[-1]:
        w[-1] = 1.0
    else:
        hi = next(i for i, g in enumerate(grid) if g >= channels)
        lo = hi - 1
        t = (channels - grid[lo]) / (grid[hi] - grid[lo])
        w[lo], w[hi] = 1.0 - t, t
    return w


class ChannelMask(nn.Module):
    """Supernet side of a width slot: zeroes the channels beyond the sampled width.
    ``mask`` ([C], differentiable in the slot's sample weights) is set per step."""

    def __init__(self, label: str, channels: int):
        super().__init__()
        self.label, self.channels = label, channels
        self.mask: torch.Tensor | None = None

    def forward(self, x):
        if self.mask is None:
            raise RuntimeError(f"ChannelMask {self.label!r}: no sample set; call "
                               "Supernet.sample() or Supernet.fix() before forward")
        return x * self.mask.view(1, -1, 1, 1)
