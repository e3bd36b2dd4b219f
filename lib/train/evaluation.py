"""Final evaluation of a landmark model (PyTorch checkpoint or exported ONNX) on a split."""
from __future__ import annotations

from pathlib import Path

import numpy as np
import onnx
import torch
from torch.utils.data import DataLoader

from ..data import DataError, dataset_layout, landmark_splits
from ..latency import count_macs, time_ort
from ..latency.measure import median_ms, ort_session
from ..spaces import DeployView
from .metrics import ced_auc, failure_rate, nme, region_nme
from .models import subnet_from_checkpoint


def _predict(model_or_session, loader):
    preds, poses, targets, true_poses = [], [], [], []
    for images, landmarks, pose in loader:
        if isinstance(model_or_session, torch.nn.Module):
            with torch.no_grad():
                pred, pose_pred = model_or_session(images)
            poses.append(pose_pred)
        else:  # onnxruntime: batch 1 static graph
            pred = torch.from_numpy(np.concatenate([
                model_or_session.run(None, {"input": img[None].numpy()})[0] for img in images]))
        preds.append(pred)
        targets.append(landmarks)
        true_poses.append(pose)
    return (torch.cat(preds), torch.cat(targets), torch.cat(poses) if poses else None,
            torch.cat(true_poses))


def summarize(pred, target, pose_pred, pose_true, eye_corners=None, regions=None) -> dict:
    errors = nme(pred, target, eye_corners)
    report = {"samples": len(pred)}
    for name, values in errors.items():
        report[f"nme_{name}"] = float(values.mean())
        report[f"failure_rate_{name}@0.10"] = failure_rate(values, 0.10)
        report[f"auc_{name}@0.10"] = ced_auc(values, 0.10)
    for region, value in region_nme(pred, target, regions or {}).items():
        report[f"nme_box_{region}"] = value
    if pose_pred is not None:
        report["euler_mae_deg"] = float((pose_pred - pose_true).abs().mean())
    return report


def evaluate(path, dataset: str, data_root, split: str = "test", threads: int = 1,
             runs: int = 200) -> dict:
    path = Path(path)
    if path.suffix == ".onnx":
        graph = onnx.load(str(path))
        shape = [d.dim_value for d in graph.graph.input[0].type.tensor_type.shape.dim]
        img_size, num_points = shape[2], None
        session = ort_session(path.read_bytes(), threads)
        out_dim = graph.graph.output[0].type.tensor_type.shape.dim[-1].dim_value
        num_points = out_dim // 2
        params = sum(int(np.prod(t.dims)) for t in graph.graph.initializer)
        macs = None
        x = np.random.default_rng(0).random(shape, dtype=np.float32)
        latency = median_ms(lambda: session.run(None, {"input": x}), 20, runs)
        runner, arch = session, None
    else:
        model, arch, _ = subnet_from_checkpoint(path)
        model.eval()
        kwargs = arch.get("space_kwargs", {})
        img_size, num_points = kwargs.get("img_size", 112), kwargs.get("num_points", 106)
        params = sum(p.numel() for n, p in model.named_parameters() if not n.startswith("aux."))
        macs, _ = count_macs(DeployView(model), [1, 3, img_size, img_size])
        latency = time_ort(DeployView(model), [1, 3, img_size, img_size], threads, runs=runs)
        runner = model
    splits = landmark_splits(dataset, data_root, num_points, img_size)
    data = splits[split]
    if callable(data) and not isinstance(data, torch.utils.data.Dataset):
        data = data()
    if data is None:
        raise DataError(f"{data_root}: no {split} split")
    loader = DataLoader(data, 64)
    layout = dataset_layout(dataset, data_root, num_points)
    report = summarize(*_predict(runner, loader), layout.eye_corners, layout.regions)
    report.update({"model": str(path), "split": split, "params": params, "macs": macs,
                   "ort_ms": latency, "threads": threads,
                   "choices": arch["choices"] if arch else None})
    return report
