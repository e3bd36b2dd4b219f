"""MixedOp and the chooser that builds the supernet."""
from __future__ import annotations

import torch
from torch import nn

from ..ops import parse_op
from ..ops.blocks import Skip
from ..ops.layers import HiddenMask
from ..spaces.choosers import Chooser, Slot
from ..spaces.widths import ChannelMask, WidthSlot


class MixedOp(nn.Module):
    """All candidates of one slot. ``weights`` (set by the Supernet once per step) is a vector
    over candidates: a soft Gumbel sample or a straight-through one-hot.

    ``active`` is the sampled index when the sample is one-hot (hard mode, a fixed
    architecture), else None. ``dense`` decides what runs with a one-hot sample:

    - single path (weight steps): only the chosen candidate runs, times its weight (1 in
      value; the straight-through gradient then only says "rescale this candidate", which a
      following BatchNorm cancels);
    - dense (θ steps): every candidate runs and the output is still exactly the chosen one's,
      ``out_a + Σ_i (w_i - w_i.detach()) out_i``, so that dL/dw_i = <dL/dout, out_i> for every
      candidate: the straight-through gradient with all candidate outputs, which compares
      candidates instead of rescaling one.

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
        # hidden (expanded) channels follow the input width: see Supernet._install
        self.hidden_masks = [m for op in self.ops for m in op.modules()
                             if isinstance(m, HiddenMask)]
        self.weights: torch.Tensor | None = None
        self.active: int | None = None
        self.dense = False

    def forward(self, x):
        if self.weights is None:
            raise RuntimeError(f"MixedOp {self.label!r}: no sample set; call "
                               "Supernet.sample() or Supernet.fix() before forward")
        if self.active is None:
            # soft (FBNet): every candidate runs, weighted by the Gumbel-softmax sample
            return sum(w * self._run(i, x) for i, w in enumerate(self.weights))
        if not self.dense:
            return self._run(self.active, x) * self.weights[self.active]
        out = self._run(self.active, x)
        for i, w in enumerate(self.weights):
            # zero in value; carries <dL/dout, out_i> to w_i (and w_active's own term)
            out = out + (w - w.detach()) * (out if i == self.active else self._run(i, x))
        return out

    def _run(self, index: int, x):
        out = self.ops[index](x)
        return out if self._mask[index] is None else self._mask[index](out)


class SupernetChooser(Chooser):
    def build(self, slot: Slot) -> nn.Module:
        if slot.in_width:
            for op in slot.candidates:
                spec = parse_op(op)
                if spec.g > 1 or (spec.type == "gh" and spec.e):
                    # a channel shuffle, group boundaries or the ghost module's two halves
                    # do not keep a narrower subnet's hidden channels in leading order
                    raise ValueError(f"slot {slot.label!r}: {op!r} cannot follow a searched "
                                     "width (its hidden channels cannot be masked as a prefix)")
        return MixedOp(slot, self.width_modules.get(slot.out_width))

    def build_width(self, slot: WidthSlot, base_ch: int) -> int:
        # the widest: every narrower width is a prefix of its channels under the mask (FBNetV2)
        return max(slot.channels(c, base_ch) for c in slot.candidates)

    def width_module(self, slot: WidthSlot, channels: int) -> nn.Module:
        return ChannelMask(slot.label, channels)
