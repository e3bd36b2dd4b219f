"""The supernet: a search space built with MixedOps plus the architecture logits θ."""
from __future__ import annotations

import math

import torch
import torch.nn.functional as F
from torch import nn

from ..spaces import create_space, jsonable, make_arch
from .mixed_op import MixedOp, SupernetChooser

GUMBEL_MODES = ("hard", "soft")


def temperature(epoch: int, tau0: float = 5.0, decay: float = math.exp(-0.045)) -> float:
    """FBNet's schedule, a pure function of the epoch: ``tau0 * decay**epoch``."""
    return tau0 * decay ** epoch


class Supernet(nn.Module):
    """``net`` holds the weights, ``arch`` the logits θ (one vector per slot).

    Per step: ``sample(tau)`` draws ONE Gumbel-softmax sample per slot; the forward pass and
    ``expected_cost`` both read it. ``fix(choices)`` pins a one-hot path (validation, derive).
    """

    def __init__(self, space: str, space_kwargs: dict | None = None, gumbel: str = "hard"):
        super().__init__()
        if gumbel not in GUMBEL_MODES:
            raise ValueError(f"gumbel mode must be one of {GUMBEL_MODES}, got {gumbel!r}")
        self.space = space
        self.space_kwargs = jsonable(dict(space_kwargs or {}))  # as stored in JSON/checkpoints
        self.gumbel = gumbel
        chooser = SupernetChooser()
        self.net = create_space(space, chooser, **self.space_kwargs)
        self.slots = chooser.slots
        self.mixed_ops: dict[str, MixedOp] = dict(chooser.modules)
        self.arch = nn.ParameterDict({label: nn.Parameter(torch.zeros(len(slot.candidates)))
                                      for label, slot in self.slots.items()})
        self.sample_weights: dict[str, torch.Tensor] = {}

    # -- parameter groups (disjoint; each gets its own optimizer) --------------------------
    def weight_parameters(self):
        return self.net.parameters()

    def arch_parameters(self):
        return self.arch.parameters()

    # -- sampling ---------------------------------------------------------------------------
    def sample(self, tau: float, generator: torch.Generator | None = None) -> dict:
        """Draw one Gumbel-softmax sample per slot and install it in the MixedOps."""
        weights = {}
        for label, logits in self.arch.items():
            u = torch.rand(logits.shape, generator=generator).to(logits.device)
            exponential = -torch.log(u.clamp_min(1e-20))  # Exp(1) noise, > 0
            gumbels = -torch.log(exponential.clamp_min(1e-20))
            soft = F.softmax((logits + gumbels) / tau, dim=-1)
            if self.gumbel == "hard":
                index = int(soft.argmax())
                hard = F.one_hot(torch.tensor(index), soft.numel()).to(soft)
                weights[label] = hard - soft.detach() + soft
                self.mixed_ops[label].active = index
            else:
                weights[label] = soft
                self.mixed_ops[label].active = None
            self.mixed_ops[label].weights = weights[label]
        self.sample_weights = weights
        return weights

    def fix(self, choices: dict[str, str]) -> None:
        """Pin each slot to one candidate (constant one-hot weights, no θ gradient)."""
        weights = {}
        for label, op in self.slots.items():
            index = self.slots[label].candidates.index(choices[label])
            logits = self.arch[label]
            weights[label] = F.one_hot(torch.tensor(index), logits.numel()).to(logits.detach())
            self.mixed_ops[label].weights = weights[label]
            self.mixed_ops[label].active = index
        self.sample_weights = weights

    def forward(self, x):
        return self.net(x)

    # -- architecture -----------------------------------------------------------------------
    def probabilities(self) -> dict[str, torch.Tensor]:
        return {label: F.softmax(logits.detach(), dim=-1) for label, logits in self.arch.items()}

    def derive(self) -> dict[str, str]:
        """Argmax choice per slot."""
        return {label: self.slots[label].candidates[int(logits.argmax())]
                for label, logits in self.arch.items()}

    def sample_archs(self, num: int, generator: torch.Generator | None = None) -> list[dict]:
        """Draw architectures from the learned per-slot distributions."""
        probs = self.probabilities()
        archs = []
        for _ in range(num):
            archs.append({label: self.slots[label].candidates[
                int(torch.multinomial(p.cpu(), 1, generator=generator))]
                for label, p in probs.items()})
        return archs

    def derived_arch(self, **meta) -> dict:
        return make_arch(self.space, self.space_kwargs, self.derive(), **meta)

    def expected_cost(self, costs: dict[str, torch.Tensor]) -> torch.Tensor:
        """Σ_slot <sample weights, per-candidate cost>: differentiable in θ (fixed part not
        included; the LUT adds it)."""
        if not self.sample_weights:
            raise RuntimeError("expected_cost needs a sample: call sample() first")
        return sum((self.sample_weights[label] * costs[label].to(self.sample_weights[label]))
                   .sum() for label in self.slots)
