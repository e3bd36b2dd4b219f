"""Landmark metrics (NME, failure rate, AUC) and segmentation metrics (confusion matrix, IoU)."""
from __future__ import annotations

import torch


def _point_errors(pred: torch.Tensor, target: torch.Tensor):
    """(per-point errors ``[B, N]``, points ``[B, N, 2]``, landmark-box size sqrt(w*h) ``[B]``)
    of ``[B, 2N]`` predictions and targets."""
    pred = pred.reshape(len(pred), -1, 2)
    target = target.reshape(len(target), -1, 2)
    # from the ground truth, never the prediction, so a
    # model cannot shrink its error by shrinking its face
    size = target.amax(dim=1) - target.amin(dim=1)
    return ((pred - target).norm(dim=2), target,
            (size[:, 0] * size[:, 1]).clamp_min(1e-12).sqrt())


def nme(pred: torch.Tensor, target: torch.Tensor, eye_corners=None) -> dict[str, torch.Tensor]:
    """Per-sample NME for ``[B, 2N]`` predictions in crop units. ``box``: mean point error /
    sqrt(w*h) of the ground-truth landmark box (JD challenge); ``io``: / outer-eye-corner
    distance, when the layout knows the corners."""
    point_err, target, box = _point_errors(pred, target)
    err = point_err.mean(dim=1)
    out = {"box": err / box}
    if eye_corners is not None:
        r, l = eye_corners
        out["io"] = err / (target[:, r] - target[:, l]).norm(dim=1).clamp_min(1e-12)
    return out


def failure_rate(errors: torch.Tensor, threshold: float = 0.10) -> float:
    """Fraction of samples whose NME exceeds ``threshold``."""
    return float((errors > threshold).float().mean())


def ced_auc(errors: torch.Tensor, limit: float = 0.10, steps: int = 1000) -> float:
    """Area under the cumulative error distribution up to ``limit``, normalised to [0, 1]."""
    # 1000 trapezoids: the staircase curve's area is exact to about 1/1000 of the limit
    thresholds = torch.linspace(0, limit, steps + 1, device=errors.device)
    curve = (errors[None, :] <= thresholds[:, None]).float().mean(dim=1)
    return float(torch.trapezoid(curve, thresholds) / limit)


def region_nme(pred: torch.Tensor, target: torch.Tensor, regions: dict) -> dict[str, float]:
    """Box-normalised NME per named region (jaw, brows, eyes, nose, mouth)."""
    point_err, _, box = _point_errors(pred, target)
    err = point_err / box[:, None]
    return {name: float(err[:, list(index)].mean()) for name, index in regions.items()}


def confusion_matrix(pred: torch.Tensor, target: torch.Tensor, num_classes: int,
                     ignore_index: int = 255) -> torch.Tensor:
    """``[K, K]`` counts (rows: ground truth, columns: prediction) over the labelled pixels.
    Summed over a dataset, it gives the dataset-level IoU (not a mean of per-batch IoUs)."""
    keep = target != ignore_index
    # one bincount over truth x K + prediction counts every (truth, prediction) pair at once
    index = target[keep].long() * num_classes + pred[keep].long()
    return torch.bincount(index, minlength=num_classes ** 2).view(num_classes, num_classes)


def iou_from_confusion(confusion: torch.Tensor) -> tuple[float, list[float | None]]:
    """(mIoU, per-class IoU). A class absent from both ground truth and prediction has no IoU
    (None) and is left out of the mean, instead of scoring 1."""
    confusion = confusion.double()
    tp = confusion.diag()
    union = confusion.sum(0) + confusion.sum(1) - tp
    per_class = [float(t / u) if u > 0 else None for t, u in zip(tp, union)]
    present = [v for v in per_class if v is not None]
    return (sum(present) / len(present) if present else float("nan")), per_class
