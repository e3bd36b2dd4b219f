"""MixedOp and the chooser that builds the supernet."""
from __future__ import annotations

import torch
from torch import nn

from ..spaces.choosers import Chooser, Slot
from ..spaces.widths import ChannelMask, WidthSlot


class MixedOp(nn.Module):
    """All candidates of one slot. ``weights`` (set by the Supernet once per step) is a vector
    over candidates: a soft Gumbel sample or a straight-through one-hot.

    With a one-hot sample (hard mode, or a fixed architecture) only the chosen candidate runs;
    its output is multiplied by the weight, which is 1 in value but carries the
    straight-through gradient to the architecture logits.
    """

    def __init__(self, slot: Slot):
        super().__init__()
        self.label = slot.label
        self.candidates = slot.candidates
        self.ops = nn.ModuleList(slot.build(op) for op in slot.candidates)
        self.weights: torch.Tensor | None = None
        self.active: int | None = None  # index when the sample is one-hot, else None

    def forward(self, x):
        if self.weights is None:
            raise RuntimeError(f"MixedOp {self.label!r}: no sample set; call "
                               "Supernet.sample() or Supernet.fix() before forward")
        if self.active is not None:
            return self.ops[self.active](x) * self.weights[self.active]
        return sum(w * op(x) for w, op in zip(self.weights, self.ops))


class SupernetChooser(Chooser):
    def build(self, slot: Slot) -> nn.Module:
        return MixedOp(slot)

    def build_width(self, slot: WidthSlot, base_ch: int) -> int:
        return max(slot.channels(c, base_ch) for c in slot.candidates)

    def width_module(self, slot: WidthSlot, channels: int) -> nn.Module:
        return ChannelMask(slot.label, channels)
