"""The supernet: a search space built with MixedOps plus the architecture logits θ."""
from __future__ import annotations

import math

import torch
import torch.nn.functional as F
from torch import nn

from ..spaces import create_space, jsonable, make_arch
from ..spaces.widths import base_channels, grids, interp_weights
from .mixed_op import MixedOp, SupernetChooser

GUMBEL_MODES = ("hard", "soft")


def temperature(epoch: int, tau0: float = 5.0, decay: float = math.exp(-0.045)) -> float:
    """FBNet's schedule, a pure function of the epoch: ``tau0 * decay**epoch``."""
    return tau0 * decay ** epoch


class Supernet(nn.Module):
    """``net`` holds the weights, ``arch`` the logits θ (one vector per slot, op and width).

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
        self.width_slots = chooser.width_slots
        self.candidates = {label: slot.candidates
                           for label, slot in {**self.slots, **self.width_slots}.items()}
        self.mixed_ops: dict[str, MixedOp] = dict(chooser.modules)
        self.masks = dict(chooser.width_modules)
        self.grids = grids(self.width_slots)
        self.arch = nn.ParameterDict({label: nn.Parameter(torch.zeros(len(candidates)))
                                      for label, candidates in self.candidates.items()})
        self.sample_weights: dict[str, torch.Tensor] = {}
        self.grid_weights: dict[str, torch.Tensor] = {}

    # -- parameter groups (disjoint; each gets its own optimizer) --------------------------
    def weight_parameters(self):
        return self.net.parameters()

    def arch_parameters(self):
        return self.arch.parameters()

    # -- sampling ---------------------------------------------------------------------------
    def sample(self, tau: float, generator: torch.Generator | None = None) -> dict:
        """Draw one Gumbel-softmax sample per slot and install it in the network."""
        weights, indices = {}, {}
        for label, logits in self.arch.items():
            u = torch.rand(logits.shape, generator=generator).to(logits.device)
            exponential = -torch.log(u.clamp_min(1e-20))  # Exp(1) noise, > 0
            gumbels = -torch.log(exponential.clamp_min(1e-20))
            soft = F.softmax((logits + gumbels) / tau, dim=-1)
            indices[label] = int(soft.argmax())
            if self.gumbel == "hard":
                hard = F.one_hot(torch.tensor(indices[label]), soft.numel()).to(soft)
                weights[label] = hard - soft.detach() + soft
            else:
                weights[label] = soft
        self._install(weights, indices, one_hot=self.gumbel == "hard")
        return weights

    def fix(self, choices: dict[str, str]) -> None:
        """Pin each slot to one candidate (constant one-hot weights, no θ gradient)."""
        weights, indices = {}, {}
        for label, candidates in self.candidates.items():
            indices[label] = candidates.index(choices[label])
            logits = self.arch[label]
            weights[label] = F.one_hot(torch.tensor(indices[label]),
                                       logits.numel()).to(logits.detach())
        self._install(weights, indices, one_hot=True)

    def _install(self, weights: dict, indices: dict, one_hot: bool) -> None:
        """Set the MixedOps' weights and the width masks. A width's candidates scale the
        width chosen (argmax of the sample) at its base slot; its mask and its weights on the
        LUT's channel grid are linear in its own sample weights, so both carry gradient."""
        for label, op in self.mixed_ops.items():
            op.weights = weights[label]
            op.active = indices[label] if one_hot else None
        values, self.grid_weights = {}, {}
        for label, slot in self.width_slots.items():
            w = weights[label]
            base = base_channels(slot, values)
            channels = [slot.channels(c, base) for c in slot.candidates]
            values[label] = channels[indices[label]]
            steps = torch.arange(self.masks[label].channels, device=w.device)
            self.masks[label].mask = w @ torch.stack([(steps < ch).to(w) for ch in channels])
            self.grid_weights[label] = w @ torch.stack(
                [interp_weights(self.grids[label], ch) for ch in channels]).to(w)
        self.sample_weights = weights

    def forward(self, x):
        return self.net(x)

    # -- architecture -----------------------------------------------------------------------
    def probabilities(self) -> dict[str, torch.Tensor]:
        return {label: F.softmax(logits.detach(), dim=-1) for label, logits in self.arch.items()}

    def derive(self) -> dict[str, str]:
        """Argmax choice per slot."""
        return {label: self.candidates[label][int(logits.argmax())]
                for label, logits in self.arch.items()}

    def sample_archs(self, num: int, generator: torch.Generator | None = None) -> list[dict]:
        """Draw architectures from the learned per-slot distributions."""
        probs = self.probabilities()
        archs = []
        for _ in range(num):
            archs.append({label: self.candidates[label][
                int(torch.multinomial(p.cpu(), 1, generator=generator))]
                for label, p in probs.items()})
        return archs

    def derived_arch(self, **meta) -> dict:
        return make_arch(self.space, self.space_kwargs, self.derive(), **meta)

    def expected_cost(self, costs: dict[str, torch.Tensor]) -> torch.Tensor:
        """Σ_slot <sample weights, per-candidate cost>: differentiable in θ (fixed part not
        included; the LUT adds it). A width-dependent slot's costs are ``[op, in grid, out
        grid]``, contracted with the grid weights of its input and output width slots."""
        if not self.sample_weights:
            raise RuntimeError("expected_cost needs a sample: call sample() first")
        total = 0.0
        for label, slot in self.slots.items():
            w = self.sample_weights[label]
            cost = costs[label].to(w)
            if cost.dim() == 1:
                total = total + (w * cost).sum()
            else:
                one = torch.ones(1, device=w.device, dtype=w.dtype)
                g_in = self.grid_weights[slot.in_width] if slot.in_width else one
                g_out = self.grid_weights[slot.out_width] if slot.out_width else one
                total = total + torch.einsum("o,i,j,oij->", w, g_in, g_out, cost)
        return total
