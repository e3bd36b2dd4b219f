"""The deployed view of a space model: its first output only (auxiliary heads are
training-only)."""
from __future__ import annotations

from torch import nn


class DeployView(nn.Module):
    def __init__(self, model: nn.Module):
        super().__init__()
        self.model = model

    def forward(self, x):
        out = self.model(x)
        return out[0] if isinstance(out, (tuple, list)) else out
