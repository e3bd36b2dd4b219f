"""MNN conversion and runtime.

Never ``import MNN.tools`` and never run the ``mnnconvert`` console script: that import runs
``pip install`` of a telemetry package and rewrites the environment. The wheel's top-level
extension ``_tools`` converts in-process; ``MNN.Interpreter`` runs the model.
"""
from __future__ import annotations

import importlib.util
import os
from pathlib import Path

from .runtimes import MNNRunner, _quiet_native_stdout

__all__ = ["MNNRunner", "convert_onnx_to_mnn", "mnn_available", "mnn_version"]


def mnn_available() -> bool:
    return importlib.util.find_spec("MNN") is not None and \
        importlib.util.find_spec("_tools") is not None


def mnn_version() -> str:
    from importlib.metadata import version

    return f"MNN {version('MNN')}"


def convert_onnx_to_mnn(onnx_path, mnn_path) -> Path:
    mnn_path = Path(mnn_path)
    # convert into a hidden temp file, then rename: a failed or killed
    # conversion never leaves a half-written .mnn under the real name
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
