"""BatchNorm over the global batch of all ranks, on any backend.

With per-rank statistics a run on N devices would train a different network than one device
with the same global batch; with these it trains the same one. torch's SyncBatchNorm only runs
on GPUs, so this one all-reduces the per-channel sums with torch's differentiable functional
all-reduce (its backward all-reduces the gradients), which gloo (CPU) and NCCL both serve. Only the class changes:
parameters, buffers and state-dict keys stay those of ``nn.BatchNorm2d``, so checkpoints load
into plain models.
"""
from __future__ import annotations

import torch
import torch.distributed as dist
import torch.distributed._functional_collectives as funcol
from torch import nn


class GlobalBatchNorm2d(nn.BatchNorm2d):
    def forward(self, x: torch.Tensor) -> torch.Tensor:
        if not self.training or not dist.is_initialized() or dist.get_world_size() == 1:
            return super().forward(x)
        channels = x.shape[1]
        # statistics in float32 at least (as cuDNN's), never in autocast's bf16/fp16: an fp16
        # square overflows beyond |x| 256 and a bf16 mean is off by up to 1 at 300.
        # E[x²] - E[x]² summed in float64: no cancellation
        exact, dims, wide = torch.promote_types(x.dtype, torch.float32), (0, 2, 3), torch.float64
        xs = x.to(exact)
        count = torch.full((1,), x.numel() / channels, dtype=wide, device=x.device)
        local = torch.cat([xs.sum(dims, dtype=wide), (xs * xs).sum(dims, dtype=wide), count])
        stats = funcol.wait_tensor(funcol.all_reduce(local, "sum", dist.group.WORLD))
        n = stats[-1]
        mean = stats[:channels] / n
        var = (stats[channels:2 * channels] / n - mean * mean).clamp_min(0)
        with torch.no_grad():
            self.num_batches_tracked += 1
            momentum = 1.0 / float(self.num_batches_tracked) if self.momentum is None \
                else self.momentum
            # the buffers' dtype (float32 under autocast), not the input's
            self.running_mean.lerp_(mean.to(self.running_mean.dtype), momentum)
            self.running_var.lerp_((var * n / (n - 1)).to(self.running_var.dtype),
                                   momentum)  # unbiased
        scale = (torch.rsqrt(var + self.eps) * self.weight).to(exact)
        shift = (self.bias - mean * scale).to(exact)
        # normalised in float32, returned in the input's dtype (as nn.BatchNorm2d under autocast)
        return (xs * scale[None, :, None, None] + shift[None, :, None, None]).to(x.dtype)


def convert_batchnorm(module: nn.Module) -> nn.Module:
    """Make every ``nn.BatchNorm2d`` of ``module`` a :class:`GlobalBatchNorm2d`, in place."""
    for m in module.modules():
        if type(m) is nn.BatchNorm2d:
            m.__class__ = GlobalBatchNorm2d
    return module
