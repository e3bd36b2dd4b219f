"""Hourglass face-segmentation space (after Archai's segmentation task), made differentiable.

Stem conv3x3/s2 to the base width (a width slot: 16, 24, 32, 48 channels), then one
hourglass: ``levels`` downsample blocks (the first at stride 1, the rest stride 2), a skip
block per level but the deepest, and an upsample block per level on the way back (bilinear
x2, the block's layers, add the level's skip). Then up to ``post_layers`` layers at that
resolution, a 1x1 classifier and bilinear x2 to the input size.

Layers are ``conv_k3/k5/k7`` (conv-BN-ReLU). A downsample or upsample block has a mandatory
first layer (stride and width change) and up to ``extra_layers`` optional ones (``skip``
allowed); a skip block up to ``skip_layers`` (all ``skip`` = identity). Each level's width is
the previous level's times a searched growth factor, capped at ``cap``; upsample blocks return
to their level's width, so every width follows from the stem and the downsample choices.
"""
from __future__ import annotations

import torch
import torch.nn.functional as F
from torch import nn

from ..ops import ConvBNAct
from .registry import register_space

BASE_WIDTHS = ("16", "24", "32", "48")
GROWTHS = ("1.0", "1.2", "1.5", "1.6", "2.0", "2.2")
TINY = {"num_classes": 5, "img_size": 32, "levels": 3, "base_widths": ("8", "16"),
        "growths": ("1.0", "2.0"), "cap": 32, "kernels": (3, 5), "extra_layers": 1,
        "skip_layers": 1, "post_layers": 1}


def _up(x: torch.Tensor) -> torch.Tensor:
    # a fixed scale factor (not a size) keeps the exported Resize static for onnxsim and MNN
    return F.interpolate(x, scale_factor=2.0, mode="bilinear", align_corners=False)


@register_space("hourglass_seg", tiny_kwargs=TINY)
class HourglassSeg(nn.Module):
    """``forward(x) -> class scores [B, K, S, S]``."""

    task = "segmentation"

    def __init__(self, chooser, num_classes: int = 19, img_size: int = 256, levels: int = 5,
                 base_widths=BASE_WIDTHS, growths=GROWTHS, cap: int = 256, kernels=(3, 5, 7),
                 extra_layers: int = 3, skip_layers: int = 2, post_layers: int = 2,
                 ignore_index: int = 255):
        super().__init__()
        total_stride = 2 ** levels  # stem /2, then levels-1 strided blocks
        if img_size % total_stride or img_size < total_stride:
            raise ValueError(f"hourglass_seg: img_size {img_size} must be a positive multiple "
                             f"of the total stride {total_stride}")
        self.num_classes, self.img_size, self.ignore_index = num_classes, img_size, ignore_index
        convs = tuple(f"conv_k{k}" for k in kernels)
        # base 1: the multipliers "16" ... "48" are the stem's channel counts themselves
        base, self.stem_mask = chooser.width("stem_width", base_widths, 1, cap)
        self.stem = ConvBNAct(3, base, 3, 2)

        def block(name, first_layer, in_ch, in_width, out_ch, out_width, stride, extra):
            # the supernet masks each slot's output to the sampled width (see MixedOp)
            layers = []
            if first_layer:
                layers.append(chooser(f"{name}_layer0", convs, in_ch, out_ch, stride,
                                      in_width=in_width, out_width=out_width))
            for li in range(int(first_layer), int(first_layer) + extra):
                layers.append(chooser(f"{name}_layer{li}", convs + ("skip",), out_ch, out_ch, 1,
                                      in_width=out_width, out_width=out_width))
            return nn.Sequential(*layers)

        self.down, self.skip, self.up = nn.ModuleList(), nn.ModuleList(), nn.ModuleList()
        widths = []
        ch, width = base, "stem_width"
        for level in range(levels):
            name = f"down{level}"
            out_ch, _ = chooser.width(f"{name}_width", growths, width, cap)
            self.down.append(block(name, True, ch, width, out_ch, f"{name}_width",
                                   1 if level == 0 else 2, extra_layers))
            ch, width = out_ch, f"{name}_width"
            widths.append((ch, width))
        for level in range(levels - 1):
            ch_l, width_l = widths[level]
            self.skip.append(block(f"skip{level}", False, ch_l, width_l, ch_l, width_l, 1,
                                   skip_layers))
        for level in reversed(range(levels - 1)):
            ch_l, width_l = widths[level]
            self.up.append(block(f"up{level}", True, ch, width, ch_l, width_l, 1, extra_layers))
            ch, width = ch_l, width_l
        self.post = block("post", False, ch, width, ch, width, 1, post_layers)
        self.classifier = nn.Conv2d(ch, num_classes, 1)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        y = self.stem_mask(self.stem(x))
        skips = []
        for level, down in enumerate(self.down):
            y = down(y)
            if level < len(self.skip):
                skips.append(self.skip[level](y))
        for up, skip in zip(self.up, reversed(skips)):
            y = up(_up(y)) + skip
        # the stem's stride is undone on the K class maps
        # only: every conv runs at half resolution or less
        return _up(self.classifier(self.post(y)))
