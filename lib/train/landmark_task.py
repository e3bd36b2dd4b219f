"""The landmark task, shared by search, retrain, sampling and evaluation: the training loss
of a (landmarks, pose) model and its validation metric."""
from __future__ import annotations

import torch

from .losses import angle_loss, pfld_loss
from .metrics import nme


def training_loss(model, images, landmarks, pose) -> torch.Tensor:
    pred, pose_pred = model(images)
    return pfld_loss(pred, landmarks, pose_pred, pose) + angle_loss(pose_pred, pose)


@torch.no_grad()
def evaluate_nme(model, loader, device, eye_corners=None) -> dict[str, float]:
    """Mean NME over a loader, in eval mode (restores train mode after)."""
    was_training = model.training
    model.eval()
    sums, count = {}, 0
    for images, landmarks, _ in loader:
        pred, _ = model(images.to(device))
        for name, values in nme(pred.cpu(), landmarks, eye_corners).items():
            sums[name] = sums.get(name, 0.0) + float(values.sum())
        count += len(images)
    model.train(was_training)
    return {name: total / count for name, total in sums.items()}


@torch.no_grad()
def recalibrate_bn(model, loader, device, batches: int = 8) -> None:
    """Re-estimate BatchNorm running statistics (cumulative average) on a few batches: the
    supernet's statistics mix all paths, a sampled subnet needs its own."""
    norms = [m for m in model.modules() if isinstance(m, torch.nn.modules.batchnorm._BatchNorm)]
    saved = [m.momentum for m in norms]
    for m in norms:
        m.reset_running_stats()
        m.momentum = None
    was_training = model.training
    model.train()
    for i, (images, _, _) in enumerate(loader):
        if i >= batches:
            break
        model(images.to(device))
    for m, momentum in zip(norms, saved):
        m.momentum = momentum
    model.train(was_training)
