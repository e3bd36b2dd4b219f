"""Losses: PFLD (with the auxiliary angle loss), landmark MSE."""
from __future__ import annotations

import torch


def pfld_loss(pred: torch.Tensor, target: torch.Tensor, pose_pred: torch.Tensor,
              pose_true: torch.Tensor, attr_weight: torch.Tensor | None = None,
              eps: float = 0.1) -> torch.Tensor:
    """mean_i( a_i * (Σ_j (1 - cos Δθ_ij) + eps) * ||p_i - t_i||² ).

    Δθ: auxiliary-net angles minus ground truth, in radians (the reference fed degrees to
    cos). The weight is detached: it re-weights hard poses, the aux net learns from its own
    angle loss. ``eps`` keeps a face with a perfect pose estimate training.
    """
    delta = torch.deg2rad(pose_pred.detach() - pose_true)
    weight = (1.0 - torch.cos(delta)).sum(dim=1) + eps
    if attr_weight is not None:
        weight = weight * attr_weight
    # summed over the 2N coordinates per face, as PFLD's loss, then averaged over faces
    l2 = ((pred - target) ** 2).sum(dim=1)
    return (weight * l2).mean()


def angle_loss(pose_pred: torch.Tensor, pose_true: torch.Tensor) -> torch.Tensor:
    """Mean squared angle error in radians."""
    return (torch.deg2rad(pose_pred - pose_true) ** 2).sum(dim=1).mean()


def landmark_mse(pred: torch.Tensor, target: torch.Tensor) -> torch.Tensor:
    """Archai's landmark loss: MSE in [-1, 1] coordinates (2x the [0, 1] crop units)."""
    return ((2.0 * (pred - target)) ** 2).mean()
