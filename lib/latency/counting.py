"""MACs and parameter counts by forward hooks (the cheap alternative to timing)."""
from __future__ import annotations

import torch
from torch import nn


def count_macs(module: nn.Module, input_shape) -> tuple[int, int]:
    """Multiply-accumulates of one forward at ``input_shape`` and the parameter count.
    Counts convolutions and linear layers (BN, activations and pooling are negligible)."""
    macs = 0

    def conv_hook(mod, _inp, out):
        nonlocal macs
        kh, kw = mod.kernel_size
        # each output element sums (C_in / groups) x kh x kw products, so
        # depthwise and grouped convs count only the channels each group sees
        macs += out.numel() * (mod.in_channels // mod.groups) * kh * kw

    def linear_hook(mod, _inp, out):
        nonlocal macs
        # out: [..., out_features], each one a dot product over in_features
        macs += out.numel() * mod.in_features

    handles = []
    for sub in module.modules():
        if isinstance(sub, nn.Conv2d):
            handles.append(sub.register_forward_hook(conv_hook))
        elif isinstance(sub, nn.Linear):
            handles.append(sub.register_forward_hook(linear_hook))
    was_training = module.training
    # eval: BatchNorm uses its running statistics and this forward leaves them untouched
    module.eval()
    try:
        with torch.no_grad():
            module(torch.zeros(input_shape))
    finally:
        module.train(was_training)
        for handle in handles:
            handle.remove()
    params = sum(p.numel() for p in module.parameters())
    return macs, params
