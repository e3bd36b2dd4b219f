"""The block catalogue: every block is built as ``cls(in_ch, out_ch, stride, spec)``.

A residual connection is added automatically when stride is 1 and widths match, for every
block whose body ends in a linear (BN) projection.
"""
from __future__ import annotations

import torch
from torch import nn

from .grammar import OpSpec, parse_op
from .layers import ESE, ChannelShuffle, ConvBNAct, HiddenMask, activation


def _check_groups(spec: OpSpec, *channels: int) -> None:
    for ch in channels:
        if ch % spec.g:
            raise ValueError(f"{spec}: {ch} channels are not divisible by g{spec.g}")


class _Residual(nn.Module):
    """Base: ``body(x) (+ x when shapes allow)``."""

    def __init__(self, in_ch, out_ch, stride):
        super().__init__()
        self.use_residual = stride == 1 and in_ch == out_ch

    def forward(self, x):
        out = self.body(x)
        return out + x if self.use_residual else out


class InvertedResidual(_Residual):
    """1x1 expand (kept at e1) - BN - act, kxk depthwise - BN, [eSE], act, 1x1 project - BN."""

    def __init__(self, in_ch, out_ch, stride, spec: OpSpec):
        super().__init__(in_ch, out_ch, stride)
        # expansion scales the input width (MobileNetV2), so under a searched input width the
        # hidden channels shrink with it (HiddenMask, per_input = e)
        hidden = in_ch * spec.e
        _check_groups(spec, in_ch, hidden, out_ch)
        # the 1x1 expansion is kept even at e1, as NNI's PFLD
        # space builds it (REFERENCE.md): ir_k3_e1 is not dw_k3
        # HiddenMasks go inside the conv-BN-act (after BN's shift), keeping the state-dict keys
        layers = [ConvBNAct(in_ch, hidden, 1, groups=spec.g, act=spec.act)
                  .append(HiddenMask(hidden, spec.e))]
        if spec.g > 1:
            layers.append(ChannelShuffle(spec.g))
        layers.append(ConvBNAct(hidden, hidden, spec.k, stride, groups=hidden, dilation=spec.d,
                                act="none").append(HiddenMask(hidden, spec.e)))
        if spec.se:
            layers.append(ESE(hidden))
        layers += [activation(spec.act), ConvBNAct(hidden, out_ch, 1, groups=spec.g, act="none")]
        self.body = nn.Sequential(*layers)


class DepthwiseSeparable(_Residual):
    """kxk depthwise - BN - act, [eSE], 1x1 pointwise - BN."""

    def __init__(self, in_ch, out_ch, stride, spec: OpSpec):
        super().__init__(in_ch, out_ch, stride)
        layers = [ConvBNAct(in_ch, in_ch, spec.k, stride, groups=in_ch, dilation=spec.d,
                            act=spec.act).append(HiddenMask(in_ch, 1))]
        if spec.se:
            layers.append(ESE(in_ch))
        layers.append(ConvBNAct(in_ch, out_ch, 1, act="none"))
        self.body = nn.Sequential(*layers)


class GhostModule(nn.Module):
    """1x1 primary conv to half the outputs (carrying the stride) + cheap kxk depthwise on
    those, concatenated (GhostNet)."""

    def __init__(self, in_ch, out_ch, stride, kernel, act):
        super().__init__()
        if out_ch % 2:
            raise ValueError(f"ghost module needs an even output width, got {out_ch}")
        # GhostNet's ratio 2: the primary conv makes half the outputs,
        # the cheap depthwise derives the other half from them
        half = out_ch // 2
        self.primary = ConvBNAct(in_ch, half, 1, stride, act=act)
        self.cheap = ConvBNAct(half, half, kernel, groups=half, act=act)

    def forward(self, x):
        y = self.primary(x)
        return torch.cat([y, self.cheap(y)], dim=1)


class Ghost(_Residual):
    """``gh_kK``: one ghost module. ``gh_kK_eE``: ghost bottleneck (ghost module to E x in_ch,
    kxk depthwise when strided, [eSE], ghost module to out_ch, linear)."""

    def __init__(self, in_ch, out_ch, stride, spec: OpSpec):
        super().__init__(in_ch, out_ch, stride)
        if not spec.e:
            layers = [GhostModule(in_ch, out_ch, stride, spec.k, spec.act)]
            if spec.se:
                layers.append(ESE(out_ch))
        else:
            hidden = in_ch * spec.e
            layers = [GhostModule(in_ch, hidden, 1, spec.k, spec.act)]
            # as GhostNet's bottleneck: the depthwise conv between the modules only when strided
            if stride > 1:
                layers.append(ConvBNAct(hidden, hidden, spec.k, stride, groups=hidden, act="none"))
            if spec.se:
                layers.append(ESE(hidden))
            # linear, as GhostNet's second module: no ReLU before the residual add
            layers.append(GhostModule(hidden, out_ch, 1, spec.k, "none"))
        self.body = nn.Sequential(*layers)


class Conv(nn.Module):
    """Plain kxk conv - BN - act (no residual)."""

    def __init__(self, in_ch, out_ch, stride, spec: OpSpec):
        super().__init__()
        _check_groups(spec, in_ch, out_ch)
        self.body = ConvBNAct(in_ch, out_ch, spec.k, stride, groups=spec.g, dilation=spec.d,
                              act=spec.act)

    def forward(self, x):
        return self.body(x)


class Skip(nn.Module):
    """Identity when shapes match, else a 1x1 conv-BN projection (with the stride)."""

    def __init__(self, in_ch, out_ch, stride, spec: OpSpec):
        super().__init__()
        self.proj = None
        if stride != 1 or in_ch != out_ch:
            self.proj = ConvBNAct(in_ch, out_ch, 1, stride, act="none")

    def forward(self, x):
        return x if self.proj is None else self.proj(x)


CATALOGUE: dict[str, type[nn.Module]] = {
    "ir": InvertedResidual,
    "dw": DepthwiseSeparable,
    "gh": Ghost,
    "conv": Conv,
    "skip": Skip,
}


def build_op(op: str, in_ch: int, out_ch: int, stride: int,
             residual: bool | None = None) -> nn.Module:
    """``residual`` overrides the automatic rule (stride 1 and equal widths) for blocks that
    have one; a residual is only possible where shapes match."""
    spec = parse_op(op)
    block = CATALOGUE[spec.type](in_ch, out_ch, stride, spec)
    if residual is not None and isinstance(block, _Residual):
        block.use_residual = residual and stride == 1 and in_ch == out_ch
    return block
