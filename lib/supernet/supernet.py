"""The supernet: a search space built with MixedOps plus the architecture logits θ."""
from __future__ import annotations

import math

import torch
import torch.nn.functional as F
from torch import nn

from ..spaces import create_space, full_kwargs, make_arch
from ..spaces.widths import candidate_channels, grids, interp_weights
from ..latency.table import slot_cost
from .mixed_op import MixedOp, SupernetChooser

GUMBEL_MODES = ("hard", "soft")


def temperature(epoch: int, tau0: float = 5.0, decay: float = math.exp(-0.045)) -> float:
    """FBNet's schedule, a pure function of the epoch: ``tau0 * decay**epoch``."""
    # FBNet (Wu et al. 2019, sec. 4): τ starts at 5.0 and is multiplied
    # by exp(-0.045) each epoch (about 0.087 at epoch 90); a function
    # of the epoch alone, so a resumed run needs no saved state for it
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
        self.space_kwargs = full_kwargs(space, space_kwargs)  # the canonical form files store
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
        # zero logits: every candidate equally likely at the start (FBNet);
        # the search may re-centre them on a latency goal (start_at)
        self.arch = nn.ParameterDict({label: nn.Parameter(torch.zeros(len(candidates)))
                                      for label, candidates in self.candidates.items()})
        self.sample_weights: dict[str, torch.Tensor] = {}
        self.grid_weights: dict[str, torch.Tensor] = {}
        self.width_channels: dict[str, list[int]] = {}  # per width slot, under the sample

    # -- parameter groups (disjoint; each gets its own optimizer) --------------------------
    def weight_parameters(self):
        return self.net.parameters()

    def arch_parameters(self):
        return self.arch.parameters()

    # -- sampling ---------------------------------------------------------------------------
    def sample(self, tau: float, generator: torch.Generator | None = None,
               dense: bool = False) -> dict:
        """Draw one Gumbel-softmax sample per slot and install it in the network. ``dense``
        (θ steps in hard mode): every candidate runs so that θ's task gradient compares them
        (see MixedOp); the forward value is still the sampled path's."""
        labels, logits = list(self.arch.keys()), list(self.arch.values())
        sizes = [len(t) for t in logits]
        # drawn on the CPU, then moved in one copy: a CPU generator gives the same stream
        # whatever the device, so ranks seeded alike (the Searcher's gumbel_gen) sample the
        # same architecture (one draw for all slots is the slots' draws in turn)
        u = torch.rand(sum(sizes), generator=generator).to(logits[0].device)
        exponential = -torch.log(u.clamp_min(1e-20))  # Exp(1) noise, > 0
        gumbels = (-torch.log(exponential.clamp_min(1e-20))).split(sizes)
        softs = [F.softmax((t + g) / tau, dim=-1) for t, g in zip(logits, gumbels)]
        # argmax of softmax((θ + g) / τ) = argmax of θ + g at any τ: a draw from softmax(θ).
        # Read back in one transfer for every slot, not one host sync each
        top = torch.stack([soft.argmax() for soft in softs])
        indices = dict(zip(labels, top.tolist()))
        weights = {}
        for label, soft, index in zip(labels, softs, top):
            if self.gumbel == "hard":
                hard = torch.zeros_like(soft).scatter_(0, index.reshape(1), 1.0)
                # straight-through (Jang et al. 2017): the one-hot in value, the softmax's gradient
                weights[label] = hard - soft.detach() + soft
            else:
                weights[label] = soft
        self._install(weights, indices, one_hot=self.gumbel == "hard", dense=dense)
        return weights

    def fix(self, choices: dict[str, str]) -> None:
        """Pin each slot to one candidate (constant one-hot weights, no θ gradient)."""
        weights, indices = {}, {}
        for label, candidates in self.candidates.items():
            indices[label] = candidates.index(choices[label])
            weights[label] = torch.zeros_like(self.arch[label].detach())
            weights[label][indices[label]] = 1.0  # filled on θ's device, no host tensor
        self._install(weights, indices, one_hot=True)

    def _install(self, weights: dict, indices: dict, one_hot: bool, dense: bool = False) -> None:
        """Set the MixedOps' weights and the width masks. A width's candidates scale the
        width chosen (argmax of the sample) at its base slot; its mask and its weights on the
        LUT's channel grid are linear in its own sample weights, so both carry gradient.
        Hidden (expanded) channels of a block are masked by its input width times the
        expansion, so the masked supernet computes exactly the subnet the LUT prices."""
        _, channels = candidate_channels(self.width_slots, indices)
        for label in self.width_slots:
            self.masks[label].mask = self._width_mask(weights[label], channels[label],
                                                      self.masks[label].channels)
        self.width_channels = channels
        self.grid_weights = self._grid_weights(weights)
        for label, op in self.mixed_ops.items():
            op.weights = weights[label]
            op.active = indices[label] if one_hot else None
            op.dense = dense
            in_width = self.slots[label].in_width
            for hidden in op.hidden_masks if in_width else ():
                hidden.mask = self._width_mask(
                    weights[in_width], [ch * hidden.per_input for ch in channels[in_width]],
                    hidden.channels)
        self.sample_weights = weights

    def _grid_weights(self, weights: dict) -> dict[str, torch.Tensor]:
        """Each width slot's weights on the LUT's channel grid: linear in its ``weights``,
        over the channel counts of the installed sample (a scaled width follows its base's
        sampled width)."""
        return {label: weights[label] @ torch.stack(
                    [interp_weights(self.grids[label], ch) for ch in channels]).to(weights[label])
                for label, channels in self.width_channels.items()}

    @staticmethod
    def _width_mask(w: torch.Tensor, channels: list[int], size: int) -> torch.Tensor:
        """``Σ_i w_i [c < channels_i]`` over ``size`` channels: linear in the sample weights."""
        steps = torch.arange(size, device=w.device)
        return w @ torch.stack([(steps < ch).to(w) for ch in channels])

    def forward(self, x):
        return self.net(x)

    # -- architecture -----------------------------------------------------------------------

    def derive(self, predict=None, band: tuple[float, float] | None = None) -> dict[str, str]:
        """Argmax choice per slot. With ``predict`` (choices -> latency) and ``band`` (low,
        high), the argmax is then moved into the band by single-slot changes, each the one
        that gives up the least log-probability per unit of latency moved (a change that
        lands in the band first): the most probable architecture that spends the budget,
        without the jitter of an argmax that jumps across it. Where no visited architecture
        lies in the band, the dearest one under ``high`` (else the cheapest seen)."""
        choices = {label: self.candidates[label][int(logits.argmax())]
                   for label, logits in self.arch.items()}
        if band is None:
            return choices
        low, high = band
        logp = {label: F.log_softmax(logits.detach(), -1).tolist()
                for label, logits in self.arch.items()}
        seen = {}  # frozen choices -> latency
        # every step moves to an unseen architecture, so the walk ends even where
        # no architecture lies in the band; twice the candidate count bounds it
        for _ in range(2 * sum(len(c) for c in self.candidates.values())):
            state = tuple(choices.items())
            if state not in seen:
                seen[state] = predict(choices)
            latency = seen[state]
            if low <= latency <= high:
                return choices
            best = None
            for label, candidates in self.candidates.items():
                current = candidates.index(choices[label])
                for index, value in enumerate(candidates):
                    trial = {**choices, label: value}
                    if index == current or tuple(trial.items()) in seen:
                        continue
                    moved = predict(trial) - latency
                    # only changes that move latency toward the band
                    if moved == 0 or (moved > 0) == (latency > high):
                        continue
                    loss = logp[label][current] - logp[label][index]
                    # False sorts first: a change that lands in the band beats any that does not
                    rank = (not low <= latency + moved <= high, loss / abs(moved))
                    if best is None or rank < best[0]:
                        best = (rank, trial)
            if best is None:
                break
            choices = best[1]
        under = [(lat, arch) for arch, lat in seen.items() if lat <= high]
        return dict(max(under)[1] if under else min(seen.items(), key=lambda kv: kv[1])[0])

    def sample_archs(self, num: int, generator: torch.Generator | None = None) -> list[dict]:
        """Draw architectures from the learned per-slot distributions."""
        probs = self.probabilities()
        archs = []
        # on the CPU with the caller's CPU generator: the same draws whatever device θ lives on
        for _ in range(num):
            archs.append({label: self.candidates[label][
                int(torch.multinomial(p.cpu(), 1, generator=generator))]
                for label, p in probs.items()})
        return archs

    def derived_arch(self, choices: dict | None = None, **meta) -> dict:
        return make_arch(self.space, self.space_kwargs, choices or self.derive(), **meta)

    def policy(self) -> dict[str, torch.Tensor]:
        """softmax(θ) per slot, differentiable: the distribution that samples are drawn from
        (the argmax of θ + Gumbel noise is distributed as softmax(θ) at any temperature)."""
        return {label: F.softmax(logits, dim=-1) for label, logits in self.arch.items()}

    @torch.no_grad()
    def start_at(self, costs: dict[str, torch.Tensor], goal: float) -> float:
        """Set θ to the maximum-entropy distribution whose expected cost is ``goal`` (fixed
        part excluded): ``θ = -λ c``, with ``c`` each candidate's marginal cost at uniform θ
        (its own cost for a slot without searched widths) and ``λ`` found by bisection
        (expected cost falls as λ grows). A goal outside the space's range ends at its
        corner. Returns λ. Needs a sample installed (widths' channel counts follow it)."""
        uniform = {label: torch.full_like(logits, 1 / len(logits)).requires_grad_()
                   for label, logits in self.arch.items()}
        with torch.enable_grad():
            marginal = torch.autograd.grad(self.expected_cost(costs, uniform),
                                           list(uniform.values()), allow_unused=True)
        # centred: a constant added to a slot's logits changes no
        # probability; a slot the cost does not reach (None) stays uniform
        marginal = {label: g - g.mean() if g is not None else torch.zeros_like(u)
                    for (label, u), g in zip(uniform.items(), marginal)}
        spread = max(float(g.abs().max()) for g in marginal.values()) or 1.0

        def cost_at(lam: float) -> float:
            weights = {label: F.softmax(-lam / spread * g, -1) for label, g in marginal.items()}
            return float(self.expected_cost(costs, weights))

        low, high = -100.0, 100.0  # λ x spread, the largest logit gap: saturated at ±100
        # 60 halvings of the interval of 200 reach 2e-16, below float64 resolution
        for _ in range(60):
            mid = (low + high) / 2
            low, high = (mid, high) if cost_at(mid) > goal else (low, mid)
        lam = (low + high) / 2
        for label, g in marginal.items():
            self.arch[label].copy_(-lam / spread * g)
        return lam / spread

    def probabilities(self) -> dict[str, torch.Tensor]:
        return {label: p.detach() for label, p in self.policy().items()}

    def expected_cost(self, costs: dict[str, torch.Tensor],
                      weights: dict[str, torch.Tensor] | None = None) -> torch.Tensor:
        """Σ_slot <weights, per-candidate cost>: differentiable in θ (fixed part not
        included; the LUT adds it). ``weights``: the installed sample (default), or
        ``policy()`` for the cost's expectation over the architecture distribution
        (ProxylessNAS). A width-dependent slot's costs are ``[op, in grid, out grid]``,
        contracted with the grid weights of its input and output width slots."""
        if not self.sample_weights:
            raise RuntimeError("expected_cost needs a sample: call sample() first")
        grid = self.grid_weights if weights is None else self._grid_weights(weights)
        weights = self.sample_weights if weights is None else weights
        return sum(slot_cost(costs[label], weights[label],
                             grid[slot.in_width] if slot.in_width else None,
                             grid[slot.out_width] if slot.out_width else None)
                   for label, slot in self.slots.items())
