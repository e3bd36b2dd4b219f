"""The landmark report of a final evaluation: NME, failure rate, CED AUC, per-region NME,
Archai's error and the aux net's Euler error."""
from __future__ import annotations

from .metrics import ced_auc, failure_rate, nme, region_nme


def summarize_landmarks(pred, target, pose_pred, pose_true, layout) -> dict:
    errors = nme(pred, target, layout.eye_corners)
    report = {"samples": len(pred)}
    for name, values in errors.items():
        report[f"nme_{name}"] = float(values.mean())
        report[f"failure_rate_{name}@0.10"] = failure_rate(values, 0.10)
        report[f"auc_{name}@0.10"] = ced_auc(values, 0.10)
    for region, value in region_nme(pred, target, layout.regions or {}).items():
        report[f"nme_box_{region}"] = value
    # Archai's landmark error: mean point distance in [-1, 1] crop coordinates
    report["l2_pm1"] = float((2 * (pred - target)).view(len(pred), -1, 2).norm(dim=2).mean())
    if pose_pred is not None:
        report["euler_mae_deg"] = float((pose_pred - pose_true).abs().mean())
    return report
