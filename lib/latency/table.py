"""Queries on a checked latency table: an architecture's predicted cost, per-slot cost
tensors for the supernet's differentiable expected cost, corners and bounds."""
from __future__ import annotations

from dataclasses import dataclass
from functools import cached_property

import torch

from ..spaces.widths import WidthSlot, interp_weights, resolve
from .slots import channel_grid, op_slots, searched, slot_entries


@dataclass
class LatencyTable:
    metadata: dict
    entries: dict
    fixed: dict
    slots: dict  # label -> traced slot info, of the space the table was checked against

    @property
    def unit(self) -> str:
        return self.metadata["unit"]

    @cached_property
    def width_slots(self) -> dict[str, WidthSlot]:
        return {label: WidthSlot.from_info(label, info)
                for label, info in self.slots.items() if info.get("kind") == "width"}

    @property
    def scale(self) -> float:
        """Factor on the summed entries, fitted with the fixed part on whole models (1 for
        tables calibrated by an offset only)."""
        return self.fixed.get("scale", 1.0)

    def predict(self, choices: dict[str, str]) -> float:
        # the scale is inside sum_entries: the fixed part was fitted
        # beside it (build.fit_fixed), so it is not scaled again
        return self.fixed["value"] + self.sum_entries(choices)

    def sum_entries(self, choices: dict[str, str]) -> float:
        """Sum of the slot entries of an architecture (times :attr:`scale`); widths between
        grid points are interpolated bilinearly."""
        widths = resolve(self.width_slots, choices)
        costs = self.slot_costs()
        total = 0.0
        for label, info in op_slots(self.slots).items():
            # a one-hot through slot_cost: the same arithmetic as the supernet's expected
            # cost, so a price and θ's expectation cannot disagree on how entries combine
            chosen = torch.zeros(len(info["candidates"]))
            chosen[info["candidates"].index(choices[label])] = 1.0
            g_in, g_out = (interp_weights(self.slots[info[f"{side}_width"]]["grid"],
                                          widths[info[f"{side}_width"]])
                           if f"{side}_width" in info else None for side in ("in", "out"))
            total += float(slot_cost(costs[label], chosen, g_in, g_out))
        return total

    def slot_costs(self) -> dict[str, torch.Tensor]:
        """Per op slot, the cost of each candidate in candidate order (for the expected cost):
        ``[op]``, or ``[op, in grid, out grid]`` for a block between searched widths; entries
        times :attr:`scale`. (A new dict of the shared, read-only tensors.)"""
        return dict(self._slot_costs)

    @cached_property
    def _slot_costs(self) -> dict[str, torch.Tensor]:
        # built once: predict() runs per architecture, and rejection sampling calls it
        # hundreds of thousands of times (the table does not change after loading)
        costs = {}
        for label, info in op_slots(self.slots).items():
            values = self.scale * torch.tensor([self.entries[key]["value"] for *_, key in
                                                slot_entries(label, info, self.slots)])
            n_in, n_out = (len(channel_grid(info, side, self.slots)) for side in ("in", "out"))
            costs[label] = values.view(-1, n_in, n_out) if searched(info) else values
        return costs

    def op_costs(self) -> dict[str, list[float]]:
        """Per op slot, each candidate's cost averaged over the width grid (when searched)."""
        return {label: (c.flatten(1).mean(1) if c.dim() > 1 else c).tolist()
                for label, c in self.slot_costs().items()}

    def corner(self, dearest: bool) -> dict[str, str]:
        """The cheapest (or dearest) architecture by the entries: per op slot the candidate
        with the lowest (highest) cost, averaged over the width grid; per width slot the
        narrowest (widest) multiplier."""
        pick = max if dearest else min
        choices = {}
        for label, per_op in self.op_costs().items():
            choices[label] = self.slots[label]["candidates"][per_op.index(pick(per_op))]
        choices.update({label: pick(slot.candidates, key=float)
                        for label, slot in self.width_slots.items()})
        return choices

    def reference(self) -> float:
        """Expected cost under uniform choices (over the grid for searched widths): the scale
        used to normalise the cost term."""
        return self.fixed["value"] + sum(float(c.mean()) for c in self.slot_costs().values())

    def bounds(self) -> tuple[float, float]:
        # per-slot extremes: each slot's price is a convex combination of its entries
        # (one-hot op, interpolation weights summing to 1), so these bound every architecture
        costs = self.slot_costs().values()
        return (self.fixed["value"] + sum(float(c.min()) for c in costs),
                self.fixed["value"] + sum(float(c.max()) for c in costs))


def slot_cost(cost: torch.Tensor, op: torch.Tensor, g_in: torch.Tensor | None = None,
              g_out: torch.Tensor | None = None) -> torch.Tensor:
    """One slot's cost under weights ``op`` over its candidates: ``Σ_o op_o cost_o``, or for
    a block between searched widths (cost ``[op, in grid, out grid]``) also weighted by its
    input and output widths' weights on the channel grids (None: that side is fixed).
    One-hot weights price an architecture; θ's softmax prices its expectation."""
    # the table's CPU float tensors follow θ's device and dtype
    cost = cost.to(op)
    if cost.dim() == 1:
        return (op * cost).sum()
    # a fixed side has a grid of one channel count (slots.channel_grid), which weight 1 selects
    one = torch.ones(1, device=op.device, dtype=op.dtype)
    return torch.einsum("o,i,j,oij->", op, one if g_in is None else g_in,
                        one if g_out is None else g_out, cost)
