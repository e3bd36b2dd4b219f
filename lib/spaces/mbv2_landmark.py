"""MobileNetV2 landmark space (after Archai's facial-landmark task), made differentiable.

Layout (128x128 default): fixed stem (3x3/s2, 32 ch) and first depthwise block (16 ch), then
MobileNetV2's six stages. Per stage a width slot (multipliers of the stage's base channels,
rounded to multiples of 8) and per layer an op slot: inverted residual with kernel 3/5/7 and
expansion 2..6 (the first stage keeps 6); every layer after a stage's first may be ``skip``
(searched depth). Head as MobileNetV2's: 1x1 to 1280, global pool, linear to 2N.

The linear layer regresses Archai's [-1, 1] crop coordinates; ``forward`` maps them to the
[0, 1] crop units every landmark model in this project speaks (one affine, folded by onnxsim
into the last layer's neighbours or kept as one Mul/Add).
"""
from __future__ import annotations

import math

import torch
from torch import nn

from ..ops import ConvBNAct, build_op
from .registry import register_space

# (base channels, first stride, max depth): MobileNetV2's table
STAGES = ((24, 2, 3), (32, 2, 5), (64, 2, 5), (96, 1, 5), (160, 2, 5), (320, 1, 2))
WIDTHS = ("0.25", "0.5", "0.75", "1.0", "1.25")
TINY = {"num_points": 8, "img_size": 32, "stages": ((16, 2, 2), (24, 2, 2)), "kernels": (3, 5),
        "expansions": (2, 4), "widths": ("0.5", "1.0"), "head_ch": 64}


@register_space("mbv2_landmark", tiny_kwargs=TINY)
class MBV2Landmark(nn.Module):
    """``forward(x) -> landmarks [B, 2N]`` in crop units."""

    task = "landmark"

    def __init__(self, chooser, num_points: int = 70, img_size: int = 128, stages=STAGES,
                 kernels=(3, 5, 7), expansions=(2, 3, 4, 5, 6), widths=WIDTHS,
                 first_expansion: int = 6, head_ch: int = 1280):
        super().__init__()
        stages = tuple((int(c), int(s), int(n)) for c, s, n in stages)
        total_stride = 2 * math.prod(s for _, s, _ in stages)
        if img_size % total_stride or img_size < total_stride:
            raise ValueError(f"mbv2_landmark: img_size {img_size} must be a positive multiple "
                             f"of the total stride {total_stride}")
        self.num_points, self.img_size = num_points, img_size
        self.stem = ConvBNAct(3, 32, 3, 2, act="relu6")
        self.first = build_op("dw_k3_relu6", 32, 16, 1)
        ch, ch_width = 16, None
        blocks = []
        for si, (base, stride, depth) in enumerate(stages):
            width = f"stage{si}_width"
            out_ch, _ = chooser.width(width, widths, base)  # the supernet masks slot outputs
            ops = tuple(f"ir_k{k}_e{e}_relu6" for k in kernels
                        for e in ((first_expansion,) if si == 0 else expansions))
            for li in range(depth):
                # a stage's first layer changes stride and width, so it is
                # always a real block; later ones may be skip (searched depth)
                blocks.append(chooser(f"stage{si}_layer{li}", ops if li == 0 else ops + ("skip",),
                                      ch, out_ch, stride if li == 0 else 1,
                                      in_width=ch_width, out_width=width))
                ch, ch_width = out_ch, width
        self.stages = nn.Sequential(*blocks)
        self.head = nn.Sequential(ConvBNAct(ch, head_ch, 1, act="relu6"), nn.AdaptiveAvgPool2d(1),
                                  nn.Flatten(), nn.Linear(head_ch, 2 * num_points))

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        centered = self.head(self.stages(self.first(self.stem(x))))
        return 0.5 * centered + 0.5
