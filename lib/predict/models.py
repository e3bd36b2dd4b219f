"""A model to predict with, from a subnet (or search) checkpoint, an exported ``.onnx``
(onnxruntime) or an ``.mnn`` file (MNN's runtime): its task, input size and one call on a
``[1, 3, S, S]`` crop, plus what it was trained on (the crop margin, the landmark layout)."""
from __future__ import annotations

import json
import logging
from dataclasses import dataclass, field
from pathlib import Path
from typing import Callable

import numpy as np

from ..data import dataset_layout, default_data_root
from ..data.render import LANDMARK_FILL
from ..export.graph_info import graph_task
from ..latency.mnn import mnn_available
from ..latency.runtimes import MNNRunner, ort_session

log = logging.getLogger(__name__)
# prepare_data's default crop; a prepared folder's meta.json says what it used
PREPARED_MARGIN = 1.2
SYNTHETIC_MARGIN = 2 / sum(LANDMARK_FILL)  # the renderer's mean fill, 1 / 0.73


@dataclass
class Predictor:
    path: Path
    format: str  # checkpoint, onnx, mnn
    task: str  # landmark, segmentation
    kwargs: dict  # img_size and num_points or num_classes
    run: Callable[[np.ndarray], np.ndarray]  # [1, 3, S, S] float32 -> the deployed output
    info: dict = field(default_factory=dict)  # space, choices, the training dataset

    @property
    def img_size(self) -> int:
        return self.kwargs["img_size"]

    def describe(self) -> dict:
        return {"path": str(self.path), "format": self.format, "task": self.task,
                **self.kwargs, **self.info}


def _from_checkpoint(path: Path, threads: int) -> Predictor:
    import torch

    from ..spaces import DeployView, full_kwargs, get_space
    from ..train.models import subnet_from_checkpoint

    torch.set_num_threads(threads)
    model, arch, ckpt = subnet_from_checkpoint(path)
    deployed = DeployView(model).eval()

    def run(x):
        with torch.no_grad():
            return deployed(torch.from_numpy(x)).numpy()

    config = ckpt.get("config", {})
    info = {"space": arch["space"], "choices": arch["choices"],
            "dataset": config.get("dataset"), "data_root": config.get("data_root")}
    return Predictor(path, "checkpoint", get_space(arch["space"]).builder.task,
                     full_kwargs(arch["space"], arch.get("space_kwargs", {})), run, info)


def _from_onnx(path: Path, threads: int) -> Predictor:
    import onnx

    graph = onnx.load(str(path)).graph
    dims = lambda value: [d.dim_value for d in value.type.tensor_type.shape.dim]  # noqa: E731
    task, kwargs = graph_task(path, dims(graph.input[0]), graph.output[0].name,
                              dims(graph.output[0]))
    session = ort_session(path.read_bytes(), threads)
    name = session.get_inputs()[0].name
    return Predictor(path, "onnx", task, kwargs, lambda x: session.run(None, {name: x})[0])


def _from_mnn(path: Path, threads: int) -> Predictor:
    if not mnn_available():
        raise ValueError(f"{path}: running an .mnn model needs the MNN package "
                         "(pip install MNN==3.6.1)")
    runner = MNNRunner(path, threads)
    in_shape = list(runner.input.getShape())
    outputs = runner.interpreter.getSessionOutputAll(runner.session)
    out_name = next(iter(outputs))
    # MNN knows the output's shape only once it has run
    out_shape = runner(np.zeros(in_shape, np.float32)).shape
    task, kwargs = graph_task(path, in_shape, out_name, out_shape)
    return Predictor(path, "mnn", task, kwargs, runner)


def load_predictor(path, threads: int = 1) -> Predictor:
    path = Path(path)
    if not path.is_file():
        raise FileNotFoundError(f"{path}: model not found")
    loader = {".onnx": _from_onnx, ".mnn": _from_mnn}.get(path.suffix.lower(),
                                                        _from_checkpoint)
    return loader(path, threads)


def training_crop(dataset: str | None, data_root) -> tuple[float, str]:
    """``(margin, where it came from)`` of the crops a dataset's models were trained on."""
    meta = (Path(data_root) if data_root else default_data_root(dataset or "")) / "meta.json"
    margin = json.loads(meta.read_text()).get("margin") if meta.is_file() else None
    if margin:
        return float(margin), str(meta)
    if dataset == "synthetic":
        return SYNTHETIC_MARGIN, "the synthetic renderer's face size"
    return PREPARED_MARGIN, "prepare_data's default"


def model_layout(predictor: Predictor, dataset: str | None, data_root, name: str | None):
    """The landmark layout (pose points, eye corners): ``name``, else the training dataset's."""
    from ..data import get_layout

    num_points = predictor.kwargs["num_points"]
    if name:
        return get_layout(name, num_points)
    return dataset_layout(dataset or "synthetic", data_root, num_points)
