"""MNN conversion and runtime.

Never ``import MNN.tools`` and never run the ``mnnconvert`` console script: that import runs
``pip install`` of a telemetry package and rewrites the environment. The wheel's top-level
extension ``_tools`` converts in-process; ``MNN.Interpreter`` runs the model.
"""
from __future__ import annotations

import contextlib
import ctypes
import importlib.util
import os
import statistics
import sys
import tempfile
import time
from pathlib import Path

import numpy as np


def mnn_available() -> bool:
    return importlib.util.find_spec("MNN") is not None and \
        importlib.util.find_spec("_tools") is not None


def mnn_version() -> str:
    from importlib.metadata import version

    return f"MNN {version('MNN')}"


@contextlib.contextmanager
def _quiet_native_stdout():
    """MNN's C++ prints banners on fd 1; keep them out of the tool's output."""
    sys.stdout.flush()
    saved = os.dup(1)
    with tempfile.TemporaryFile() as sink:
        os.dup2(sink.fileno(), 1)
        try:
            yield
        finally:
            ctypes.CDLL(None).fflush(None)  # C stdio buffers: flush them into the sink
            os.dup2(saved, 1)
            os.close(saved)


def convert_onnx_to_mnn(onnx_path, mnn_path) -> Path:
    mnn_path = Path(mnn_path)
    tmp = mnn_path.with_name(f".{mnn_path.name}.tmp")
    with _quiet_native_stdout():
        import _tools  # its import prints a CPU-feature banner too

        ok = _tools.mnnconvert(["mnnconvert", "-f", "ONNX", "--modelFile", str(onnx_path),
                                "--MNNModel", str(tmp), "--bizCode", "facenas"])
    if not ok or not tmp.is_file():
        tmp.unlink(missing_ok=True)
        raise RuntimeError(f"MNN could not convert {onnx_path}")
    os.replace(tmp, mnn_path)
    return mnn_path


class MNNRunner:
    """One interpreter session with a fixed input shape."""

    def __init__(self, path, threads: int = 1):
        with _quiet_native_stdout():
            import MNN

            self._mnn = MNN
            self.interpreter = MNN.Interpreter(str(path))
            self.session = self.interpreter.createSession({"numThread": threads})
        self.input = self.interpreter.getSessionInput(self.session)

    def __call__(self, x: np.ndarray) -> np.ndarray:
        mnn = self._mnn
        self.input.copyFrom(mnn.Tensor(x.shape, mnn.Halide_Type_Float, x,
                                       mnn.Tensor_DimensionType_Caffe))
        self.interpreter.runSession(self.session)
        output = self.interpreter.getSessionOutput(self.session)
        shape = tuple(output.getShape())
        host = mnn.Tensor(shape, mnn.Halide_Type_Float, np.zeros(shape, np.float32),
                          mnn.Tensor_DimensionType_Caffe)
        output.copyToHostTensor(host)
        return np.array(host.getData(), dtype=np.float32).reshape(shape)

    def run_session(self) -> None:
        """One inference on the input already copied in: the unit every MNN timing times.
        The host copies of ``__call__`` cost about as much as a small block's compute and
        scale with its tensors, so timing them would put a per-block I/O term into every LUT
        entry that a whole model pays only once."""
        self.interpreter.runSession(self.session)

    def time_ms(self, x: np.ndarray, warmup: int = 20, runs: int = 200) -> float:
        """Median ms of :meth:`run_session` on ``x`` (copied in once)."""
        from .measure import median_ms

        self(x)
        return median_ms(self.run_session, warmup, runs)
