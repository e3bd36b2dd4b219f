"""PFLD landmark backbone with FBNet block choices (the NNI FBNet-on-PFLD space, fixed).

Layout (112x112 default; see REFERENCE.md): PeleeNet stem -> fixed inverted residual
(stride 2) -> searchable stages -> PFLD multi-scale head regressing 2N coordinates; the
auxiliary pose net reads the stem output and regresses pitch/yaw/roll (training only).
"""
from __future__ import annotations

import math

import torch
from torch import nn

from ..ops import ConvBNAct, PeleeStem, build_op
from .registry import register_space

S0 = ("ir_k3_e1", "ir_k3_e2", "ir_k3_e2_d3", "ir_k5_e1", "ir_k5_e2", "dw_k3", "dw_k5",
      "gh_k3", "gh_k5")
S1 = ("ir_k3_e2", "ir_k3_e4", "ir_k3_e2_se", "ir_k3_e2_d3", "ir_k5_e1", "ir_k5_e2",
      "ir_k5_e1_se", "ir_k5_e2_se", "gh_k5")

# (out_channels, layers, first_stride, candidates); `skip` is added where shapes allow.
DEFAULT_STAGES = ((32, 2, 1, S0), (64, 3, 2, S1))
TINY_STAGES = ((32, 1, 1, ("ir_k3_e1", "dw_k3", "gh_k3")), (48, 2, 2, ("ir_k3_e2", "ir_k5_e1_se")))


def _downsampler(channels: int, ratio: int) -> nn.Module:
    """Depthwise conv bringing a map `ratio` times down (PFLD head: 9x9/s8, 3x3/s2)."""
    if ratio == 1:
        return nn.Identity()
    return ConvBNAct(channels, channels, ratio + 1, ratio, groups=channels, padding=ratio // 2)


class AuxiliaryNet(nn.Module):
    """PFLD's pose branch: stem features -> (pitch, yaw, roll) in degrees."""

    def __init__(self, in_ch: int = 16):
        super().__init__()
        self.features = nn.Sequential(
            ConvBNAct(in_ch, 64, 3, 2), ConvBNAct(64, 64, 3), ConvBNAct(64, 32, 3, 2),
            ConvBNAct(32, 64, 7, padding=1), nn.AdaptiveMaxPool2d(1), nn.Flatten(),
        )
        self.fc = nn.Sequential(nn.Linear(64, 32), nn.Linear(32, 3))

    def forward(self, x):
        return self.fc(self.features(x))


@register_space("pfld_fbnet", tiny_kwargs={"num_points": 8, "img_size": 96,
                                           "stages": TINY_STAGES})
class PFLDFBNet(nn.Module):
    """``forward(x) -> (landmarks [B, 2N] in crop units, pose [B, 3] degrees)``."""

    task = "landmark"

    def __init__(self, chooser, num_points: int = 106, img_size: int = 112,
                 stages=DEFAULT_STAGES, stem_ch: int = 16, head_ch: int = 64):
        super().__init__()
        stages = tuple((int(c), int(n), int(s), tuple(cands)) for c, n, s, cands in stages)
        # the stem (4) x the fixed reduce block (2) x the stages' strides
        total_stride = 8 * math.prod(s for _, _, s, _ in stages)
        # the aux net reaches stride 16, and its 7x7 conv
        # (padding 1) needs a map of at least 5 there: 80 px
        if img_size % 16 or img_size < 80 or img_size % total_stride:
            raise ValueError(f"pfld_fbnet: img_size {img_size} must be a multiple of 16 and of "
                             f"the total stride {total_stride}, and at least 80")
        self.num_points = num_points
        self.img_size = img_size
        self.stem = PeleeStem(3, stem_ch)
        self.reduce = build_op("ir_k3_e2", stem_ch, 2 * stem_ch, 2)  # hidden 32 at stem_ch 16
        ch = 2 * stem_ch
        self.stages = nn.ModuleList()
        widths = []
        for si, (out_ch, layers, first_stride, candidates) in enumerate(stages):
            blocks = []
            for li in range(layers):
                stride = first_stride if li == 0 else 1
                cands = candidates + ("skip",) if stride == 1 and ch == out_ch else candidates
                blocks.append(chooser(f"stage{si}_layer{li}", cands, ch, out_ch, stride))
                ch = out_ch
            self.stages.append(nn.Sequential(*blocks))
            widths.append(out_ch)
        size1 = img_size // 2
        size_out = img_size // total_stride
        size2 = img_size // (8 * stages[0][2])
        self.down1 = _downsampler(stem_ch, size1 // size_out)
        self.down2 = _downsampler(widths[0], size2 // size_out)
        concat = stem_ch + widths[0] + widths[-1]
        self.head = nn.Sequential(
            ConvBNAct(concat, head_ch, 1),
            build_op("ir_k3_e2_se", head_ch, head_ch, 1),
            build_op("dw_k3", head_ch, 2 * head_ch, 1),
            # a depthwise conv as large as the final map: a learned global pool down to 1x1
            ConvBNAct(2 * head_ch, 2 * head_ch, size_out, groups=2 * head_ch, padding=0),
            nn.Conv2d(2 * head_ch, 2 * num_points, 1),
            nn.Flatten(),
        )
        self.aux = AuxiliaryNet(stem_ch)

    def forward(self, x: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        y1, stem = self.stem(x)
        y = self.reduce(stem)
        y2 = y = self.stages[0](y)
        for stage in self.stages[1:]:
            y = stage(y)
        feats = torch.cat([y, self.down2(y2), self.down1(y1)], dim=1)
        return self.head(feats), self.aux(stem)

