"""MixedOp and the chooser that builds the supernet."""
from __future__ import annotations

import torch
from torch import nn

from ..ops.blocks import Skip
from ..spaces.choosers import Chooser, Slot
from ..spaces.widths import ChannelMask, WidthSlot


class MixedOp(nn.Module):
    """All candidates of one slot. ``weights`` (set by the Supernet once per step) is a vector
    over candidates: a soft Gumbel sample or a straight-through one-hot.

    With a one-hot sample (hard mode, or a fixed architecture) only the chosen candidate runs;
    its output is multiplied by the weight, which is 1 in value but carries the
    straight-through gradient to the architecture logits.

    With a searched output width, each candidate's output is masked (FBNetV2) - except an
    identity ``skip``, whose input is masked already: masking it again would square the mask
    and zero the width's gradient wherever a narrower width was sampled.
    """

    def __init__(self, slot: Slot, mask: ChannelMask | None = None):
        super().__init__()
        self.label = slot.label
        self.candidates = slot.candidates
        self.ops = nn.ModuleList(slot.build(op) for op in slot.candidates)
        # shared with other slots of the same width: kept out of the module tree
        self._mask = [None if isinstance(op, Skip) and op.proj is None else mask
                      for op in self.ops]
        self.weights: torch.Tensor | None = None
        self.active: int | None = None  # index when the sample is one-hot, else None

    def forward(self, x):
        if self.weights is None:
            raise RuntimeError(f"MixedOp {self.label!r}: no sample set; call "
                               "Supernet.sample() or Supernet.fix() before forward")
        if self.active is not None:
            return self._run(self.active, x) * self.weights[self.active]
        return sum(w * self._run(i, x) for i, w in enumerate(self.weights))

    def _run(self, index: int, x):
        out = self.ops[index](x)
        return out if self._mask[index] is None else self._mask[index](out)


class SupernetChooser(Chooser):
    def build(self, slot: Slot) -> nn.Module:
        return MixedOp(slot, self.width_modules.get(slot.out_width))

    def build_width(self, slot: WidthSlot, base_ch: int) -> int:
        return max(slot.channels(c, base_ch) for c in slot.candidates)

    def width_module(self, slot: WidthSlot, channels: int) -> nn.Module:
        return ChannelMask(slot.label, channels)
