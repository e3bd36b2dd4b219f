"""Small building layers shared by the blocks: conv-BN-act, eSE, channel shuffle."""
from __future__ import annotations

import torch
from torch import nn


def activation(name: str) -> nn.Module:
    if name == "relu":
        return nn.ReLU(inplace=True)
    if name == "relu6":
        return nn.ReLU6(inplace=True)
    if name == "hswish":
        return nn.Hardswish(inplace=True)
    if name == "none":
        return nn.Identity()
    raise ValueError(f"unknown activation {name!r}")


class ConvBNAct(nn.Sequential):
    """Conv2d (no bias) + BatchNorm + activation; padding keeps 'same' size at stride 1."""

    def __init__(self, in_ch, out_ch, kernel=1, stride=1, groups=1, dilation=1, act="relu",
                 padding=None):
        if padding is None:
            # 'same' for odd kernels: a dilated kxk conv spans d(k-1)+1 pixels
            padding = dilation * (kernel - 1) // 2
        # no conv bias: BatchNorm's shift replaces it
        super().__init__(
            nn.Conv2d(in_ch, out_ch, kernel, stride, padding, dilation=dilation,
                      groups=groups, bias=False),
            nn.BatchNorm2d(out_ch),
            activation(act),
        )


class HiddenMask(nn.Module):
    """Zeroes the hidden channels beyond the sampled input width x ``per_input`` (supernet
    only; ``mask`` is None in a subnet, where it is the identity and exports as nothing).
    Without it a masked input still leaves BatchNorm's shift in every hidden channel, and the
    supernet computes a wider block than the subnet and the LUT it is charged by."""

    def __init__(self, channels: int, per_input: int):
        super().__init__()
        self.channels, self.per_input = channels, per_input
        self.mask: torch.Tensor | None = None

    def forward(self, x):
        return x if self.mask is None else x * self.mask.view(1, -1, 1, 1)


class ESE(nn.Module):
    """Effective squeeze-excitation (VoVNetV2): global pool, 1x1 conv C->C, hard-sigmoid, scale."""

    def __init__(self, channels: int):
        super().__init__()
        # an average pool where the reference used a depthwise conv the size
        # of the map (REFERENCE.md): no weights tied to one input resolution
        self.pool = nn.AdaptiveAvgPool2d(1)
        self.fc = nn.Conv2d(channels, channels, 1, bias=True)
        # relu6(x + 3) / 6, the reference's gate: no exponential on the phone
        self.gate = nn.Hardsigmoid()

    def forward(self, x):
        return x * self.gate(self.fc(self.pool(x)))


class ChannelShuffle(nn.Module):
    """Mixes channels across groups after a grouped pointwise conv (ShuffleNet / FBNet)."""

    def __init__(self, groups: int):
        super().__init__()
        self.groups = groups

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        b, c, h, w = x.shape
        # [b, g, c/g, h, w] -> [b, c/g, g, h, w]: channel i of group j moves to i x g + j
        return x.view(b, self.groups, c // self.groups, h, w).transpose(1, 2).reshape(b, c, h, w)
