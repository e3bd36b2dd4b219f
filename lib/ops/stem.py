"""PeleeNet stem block."""
from __future__ import annotations

import torch
from torch import nn

from .layers import ConvBNAct


class PeleeStem(nn.Module):
    """3x3/s2 conv; then a 1x1 -> 3x3/s2 branch and a 2x2/s2 max-pool branch, concatenated
    and fused by a 1x1 conv (PeleeNet, Wang et al. 2018). Total stride 4.

    ``forward`` returns ``(first, out)``: the stride-2 feature map (PFLD's multi-scale head
    reads it) and the stem output.
    """

    def __init__(self, in_ch: int = 3, out_ch: int = 16, branch_ch: int | None = None):
        super().__init__()
        branch_ch = branch_ch or out_ch
        self.conv1 = ConvBNAct(in_ch, out_ch, 3, 2)
        self.branch_conv = nn.Sequential(
            ConvBNAct(out_ch, branch_ch, 1),
            ConvBNAct(branch_ch, out_ch, 3, 2),
        )
        self.branch_pool = nn.MaxPool2d(2, 2)
        self.fuse = ConvBNAct(2 * out_ch, out_ch, 1)

    def forward(self, x: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        first = self.conv1(x)
        out = self.fuse(torch.cat([self.branch_conv(first), self.branch_pool(first)], dim=1))
        return first, out
