"""Final evaluation of a model (PyTorch checkpoint or exported ONNX) on a split: the task's
full report plus size and measured onnxruntime latency."""
from __future__ import annotations

from pathlib import Path

import numpy as np
import onnx
import torch
from torch.utils.data import DataLoader

from ..data import DataError
from ..export.graph_info import graph_task
from ..latency import count_macs, time_ort
from ..latency.measure import ort_sessions
from ..latency.relative import median_ms
from ..latency.runtimes import ort_session
from ..spaces import DeployView, deployed_params
from .models import subnet_from_checkpoint
from .show import show_sheet
from .tasks import TASKS, make_task


def _onnx_runner(path: Path, threads: int, runs: int, dataset, data_root):
    """(predict, task, info) for an exported graph, its task read by ``graph_task``."""
    graph = onnx.load(str(path))
    dims = lambda value: [d.dim_value for d in value.type.tensor_type.shape.dim]  # noqa: E731
    in_shape = dims(graph.graph.input[0])
    name, kwargs = graph_task(path, in_shape, graph.graph.output[0].name,
                              dims(graph.graph.output[0]))
    task = TASKS[name](kwargs, dataset, data_root)
    session = ort_session(path.read_bytes(), threads)
    info = {"params": sum(int(np.prod(t.dims)) for t in graph.graph.initializer), "macs": None,
            "ort_ms": median_ms(ort_sessions(path.read_bytes(), in_shape, threads)(), 20, runs)
            if runs else None,
            "choices": None}

    def predict(images):  # the static graph takes batch 1
        return torch.from_numpy(np.concatenate([session.run(None, {"input": img[None].numpy()})[0]
                                                for img in images]))

    return predict, task, info


def evaluate(path, dataset: str, data_root, split: str = "test", threads: int = 1,
             runs: int = 200, show: int = 0, sheet=None) -> dict:
    """The task's report on ``split``, with size and the median of ``runs`` timed
    onnxruntime calls (``runs`` 0: not timed, ``ort_ms`` None). ``show`` K > 0: also the
    contact sheet of the K worst and K best faces, written to ``sheet``."""
    path = Path(path)
    if path.suffix == ".onnx":
        predict, task, info = _onnx_runner(path, threads, runs, dataset, data_root)
    else:
        model, arch, _ = subnet_from_checkpoint(path)
        model.eval()
        task = make_task(arch["space"], arch.get("space_kwargs", {}), dataset, data_root)
        shape = [1, 3, task.img_size, task.img_size]
        info = {"params": deployed_params(model),
                "macs": count_macs(DeployView(model), shape)[0],
                "ort_ms": time_ort(DeployView(model), shape, threads, runs=runs)
                if runs else None,
                "choices": arch["choices"]}

        def predict(images):
            with torch.no_grad():
                return model(images)
    # the test split alone: splits() would decode the training set too
    data = task.test_split() if split == "test" else task.splits()[split]
    if data is None:
        raise DataError(f"{data_root}: no {split} split")
    report = task.score(predict, DataLoader(data, 32), detailed=True)
    report.update({"model": str(path), "split": split, "threads": threads, **info})
    if show:
        report["sheet"] = show_sheet(predict, data, task, show, sheet,
                                     f"{path.name} on {dataset} {split}")
    return report
