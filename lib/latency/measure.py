"""Timing one module at one input shape, batch 1: onnxruntime (default), MNN's own runtime
(the deployment engine; the ONNX is converted in-process) or eager torch.

The statistic is the median of ``runs`` individually timed calls after ``warmup`` calls.
"""
from __future__ import annotations

import io
import tempfile
import warnings
from pathlib import Path

import torch
from torch import nn

from .relative import median_ms
from . import runtimes
from .runtimes import ort_sessions

# "flops" times nothing: build.measure counts MACs for it instead (no runtime needed)
BACKENDS = ("ort", "mnn", "torch", "flops")


def export_onnx_bytes(module: nn.Module, input_shape) -> bytes:
    """Static ONNX (opset 13, single file) of ``module`` in eval mode."""
    buffer = io.BytesIO()
    module = module.eval()
    with warnings.catch_warnings(), torch.no_grad():
        # silenced: the tracer's warnings would repeat for each
        # of the thousands of block graphs a LUT build exports
        warnings.simplefilter("ignore")
        # dynamo=False and opset 13: the static, single-file graphs
        # MNN converts (the dynamo exporter needs onnxscript)
        torch.onnx.export(module, (torch.zeros(input_shape),), buffer, dynamo=False,
                          opset_version=13, input_names=["input"], output_names=["output"])
    return buffer.getvalue()


def mnn_sessions(module: nn.Module, input_shape, threads: int = 1):
    """A factory of fresh MNN sessions of ``module`` (converted once from its ONNX export)."""
    from .mnn import convert_onnx_to_mnn, mnn_available

    if not mnn_available():
        raise RuntimeError("the MNN backend needs the MNN package (pip install MNN)")
    folder = tempfile.TemporaryDirectory()
    onnx_path = Path(folder.name) / "model.onnx"
    onnx_path.write_bytes(export_onnx_bytes(module, input_shape))
    mnn_path = convert_onnx_to_mnn(onnx_path, Path(folder.name) / "model.mnn")
    fresh = runtimes.mnn_sessions(mnn_path, input_shape, threads)
    return lambda _keep=folder: fresh()  # the folder lives as long as the factory


def torch_sessions(module: nn.Module, input_shape, threads: int = 1):
    """Eager torch: a "session" is the module itself. Opening one sets the process's torch
    thread count to ``threads`` (torch has no per-call setting; setting it inside the timed
    call would time the pool's resize) and leaves it there: timing is all the process does."""
    module = module.eval()
    # a seeded input, as in runtimes.py: every model and session computes on the same values
    x = torch.rand(input_shape, generator=torch.Generator().manual_seed(0))

    def run():
        with torch.inference_mode():
            module(x)

    def fresh():
        torch.set_num_threads(threads)
        return run
    return fresh


def sessions_of(backend: str, module: nn.Module, input_shape, threads: int = 1):
    """The session factory of ``module`` on a timing backend."""
    if backend == "ort":
        return ort_sessions(export_onnx_bytes(module, input_shape), input_shape, threads)
    if backend == "mnn":
        return mnn_sessions(module, input_shape, threads)
    if backend == "torch":
        return torch_sessions(module, input_shape, threads)
    raise ValueError(f"timing backend must be one of ort, mnn, torch, got {backend!r}")


# 20 warm-up calls (allocation, caches, thread pool start) and 200 timed ones, as Timing's defaults
def time_ort(module: nn.Module, input_shape, threads: int = 1, warmup: int = 20,
             runs: int = 200) -> float:
    return time_module("ort", module, input_shape, threads, warmup, runs)


def time_torch(module: nn.Module, input_shape, threads: int = 1, warmup: int = 20,
               runs: int = 200) -> float:
    return time_module("torch", module, input_shape, threads, warmup, runs)


def time_module(backend: str, module: nn.Module, input_shape, threads: int = 1,
                warmup: int = 20, runs: int = 200, sessions: int = 1) -> float:
    """ms of ``module`` on a timing backend: the fastest of ``sessions`` fresh sessions'
    medians. On this machine a session lands, at random, in a fast mode or one about 30 %
    slower for the same graph (memory placement); the minimum over sessions is the model's
    cost, the rest is the session's luck."""
    fresh = sessions_of(backend, module, input_shape, threads)
    return min(median_ms(fresh(), warmup, runs) for _ in range(sessions))


def backend_version(backend: str) -> str:
    if backend == "ort":
        import onnxruntime

        return f"onnxruntime {onnxruntime.__version__}"
    if backend == "mnn":
        from .mnn import mnn_version

        return mnn_version()
    return f"torch {torch.__version__}"
