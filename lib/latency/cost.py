"""The latency (cost) term of the search loss.

Every mode is unit-free: the cost is divided by a reference (the LUT's expected cost under
uniform choices) or by the user's budget. The additive modes are also free of the task
loss's scale: their cost term is multiplied by the detached task value, so it is always a
fraction α of the task and cannot swamp it, and its gradient has the same form as FBNet's
multiplicative one (task · d factor / d LAT).
"""
from __future__ import annotations

import math
from dataclasses import dataclass

import torch

COST_MODES = ("mul", "add", "target")
# target: a budget is to be spent, not only respected (TF-NAS's bi-sided constraint): below
# TARGET_LOW x budget the term pushes latency up as hard as it pushes it down above 1 x budget,
# so θ settles in [TARGET_LOW, 1] x budget whichever way the task pulls.
TARGET_LOW = 0.9
# the band a target-mode search derives its architecture in (see Supernet.derive)
TARGET_BAND = (0.85, 1.0)
# target: the penalty is α x the relative distance outside [TARGET_LOW, 1] x budget; it only
# acts on samples outside the band, so it must outweigh the noisy task gradient (α 5 did not
# bind in tests of the single-path search).
DEFAULT_ALPHA = {"mul": 0.2, "add": 0.2, "target": 50.0}
# mul: LAT is expressed in units where the reference costs MUL_SCALE, where FBNet's µs
# latencies sat, so α and β keep FBNet's meaning (latency elasticity β/log(LAT) ≈ 0.07);
# log1p(LAT/ref) had 0.43 (the demo reached the cheapest path in one θ epoch; with this form
# it still did by the second: the short demo search does not settle θ, see README).
MUL_SCALE = 3000.0


@dataclass
class CostLoss:
    mode: str = "mul"
    alpha: float | None = None  # None: DEFAULT_ALPHA[mode]
    beta: float = 0.6
    reference: float = 1.0  # cost that maps to ratio 1 (mul/add)
    target: float | None = None  # budget in the LUT's unit (target mode)

    def __post_init__(self):
        if self.mode not in COST_MODES:
            raise ValueError(f"cost mode must be one of {COST_MODES}, got {self.mode!r}")
        if self.alpha is None:
            self.alpha = DEFAULT_ALPHA[self.mode]
        if self.mode == "target" and not (self.target and self.target > 0):
            raise ValueError("cost mode 'target' needs a positive target (--target_ms)")
        if self.reference <= 0:
            raise ValueError(f"cost reference must be positive, got {self.reference}")

    def __call__(self, task: torch.Tensor, cost: torch.Tensor):
        """Return ``(loss, parts)``; ``parts`` holds detached floats for logging."""
        ratio = cost / self.reference
        if self.mode == "mul":
            # FBNet: task * α * log(LAT)^β; clamping at e keeps the base >= 1 for any unit,
            # where the reference's log(µs) went NaN below 1 µs.
            factor = self.alpha * torch.log((ratio * MUL_SCALE).clamp_min(math.e)) ** self.beta
            loss = task * factor
        elif self.mode == "add":
            factor = self.alpha * ratio ** self.beta
            loss = task + task.detach() * factor
        else:
            share = cost / self.target
            factor = self.alpha * (torch.relu(share - 1.0) + torch.relu(TARGET_LOW - share))
            loss = task + task.detach() * factor
        parts = {"task": task, "cost": cost, "cost_term": factor, "loss": loss}
        # read back in one transfer (one host sync per θ step on a GPU, not four)
        values = torch.stack([value.detach().double().reshape(()) for value in parts.values()])
        return loss, dict(zip(parts, values.tolist()))
