"""Static ONNX export (batch 1, opset 13, single file, input ``input``, one output named
after the task: ``landmarks`` or ``scores``), simplified with onnxsim, checked against
PyTorch with onnxruntime."""
from __future__ import annotations

import logging
import warnings
from pathlib import Path

import numpy as np
import onnx
import torch
from torch import nn

from ..atomic import atomic_open
from ..latency.runtimes import ort_session

log = logging.getLogger(__name__)
OPSET = 13
OUTPUT_NAMES = {"landmark": "landmarks", "segmentation": "scores"}


class ParityError(RuntimeError):
    """An exported model disagrees with PyTorch beyond tolerance."""


def export_onnx(model: nn.Module, path, img_size: int, simplify: bool = True,
                output_name: str = "landmarks") -> Path:
    """Export ``model`` (eval mode; its output is the deployed tensor) to ``path``."""
    path = Path(path)
    model = model.eval()
    dummy = torch.zeros(1, 3, img_size, img_size)
    path.parent.mkdir(parents=True, exist_ok=True)
    # exported raw to a hidden file, simplified in memory, then written
    # atomically: the final path never holds an unsimplified or partial graph
    tmp = path.with_name(f".{path.name}.raw")
    with warnings.catch_warnings(), torch.no_grad():
        warnings.simplefilter("ignore")
        # external_data=False: one self-contained file, what MNN's converter and the phone expect
        torch.onnx.export(model, (dummy,), str(tmp), dynamo=False, opset_version=OPSET,
                          input_names=["input"], output_names=[output_name],
                          do_constant_folding=True, external_data=False)
    graph = onnx.load(str(tmp))
    tmp.unlink()
    if simplify:
        from onnxsim import simplify as onnxsim_simplify

        graph, ok = onnxsim_simplify(graph)
        if not ok:
            raise ParityError(f"{path}: onnxsim could not validate the simplified graph")
    onnx.checker.check_model(graph)
    with atomic_open(path, "wb") as handle:
        handle.write(graph.SerializeToString())
    return path


def reference_input(img_size: int, seed: int = 0) -> np.ndarray:
    """A random input unlike the all-zeros export dummy, so constants baked in by tracing
    show up as parity failures."""
    return np.random.default_rng(seed).random((1, 3, img_size, img_size), dtype=np.float32)


@torch.no_grad()
def torch_output(model: nn.Module, x: np.ndarray) -> np.ndarray:
    return model.eval()(torch.from_numpy(x)).numpy()


def run_onnx(path, x: np.ndarray, threads: int = 1) -> np.ndarray:
    session = ort_session(Path(path).read_bytes(), threads)
    return session.run(None, {"input": x})[0]


def check_parity(name: str, expected: np.ndarray, got: np.ndarray, tolerance: float) -> float:
    if expected.shape != got.shape:
        raise ParityError(f"{name}: output shape {got.shape} != PyTorch {expected.shape}")
    diff = float(np.abs(expected - got).max())
    # NaN compares False with any tolerance, so it is checked on its own
    if not np.isfinite(diff) or diff > tolerance:
        raise ParityError(f"{name}: max abs diff {diff:.3g} vs PyTorch exceeds {tolerance:g}")
    log.info("%s parity: max abs diff %.3g (tolerance %g)", name, diff, tolerance)
    return diff
