"""Inference sessions on onnxruntime and on MNN's runtime, with numpy and the runtime only (no
torch, nothing else of this project): a measurement kit copies this file, with
``relative.py``, to the device it times on (kit.py)."""
from __future__ import annotations

import contextlib
import ctypes
import os
import platform
import sys
import tempfile
from pathlib import Path

import numpy as np

if __package__:
    from .relative import median_ms
else:  # in a kit: a top-level module beside relative.py
    from relative import median_ms


def host_cpu() -> str:
    """The CPU's model name: /proc/cpuinfo's "model name" (x86), "Hardware" or "Processor"
    (ARM kernels), else what the platform says."""
    try:
        info = Path("/proc/cpuinfo").read_text().splitlines()
    except OSError:
        info = []
    for key in ("model name", "Hardware", "Processor"):
        for line in info:
            if line.split(":")[0].strip() == key:
                return line.split(":", 1)[1].strip()
    return platform.processor() or platform.machine()


def ort_sessions(graph: bytes, input_shape, threads: int = 1):
    """A factory of fresh onnxruntime sessions of an ONNX graph; each call returns a
    callable that runs the graph once on a fixed random input."""
    x = np.random.default_rng(0).random(input_shape, dtype=np.float32)

    def fresh():
        session = ort_session(graph, threads)
        feed = {session.get_inputs()[0].name: x}
        return lambda: session.run(None, feed)
    return fresh


def mnn_sessions(path, input_shape, threads: int = 1, precision: str | None = None):
    """A factory of fresh MNN sessions of a ``.mnn`` file; each call returns
    :meth:`MNNRunner.run_session` on a fixed random input copied in once."""
    x = np.random.default_rng(0).random(input_shape, dtype=np.float32)

    def fresh():
        runner = MNNRunner(path, threads, precision)
        runner(x)
        return runner.run_session
    return fresh


def ort_session(onnx_model: bytes, threads: int):
    """An onnxruntime CPU session of a serialized graph: ``threads`` intra-op threads, one
    inter-op thread, sequential execution, every graph optimisation."""
    import onnxruntime as ort

    options = ort.SessionOptions()
    # set explicitly: onnxruntime's default takes every core, and a
    # table is only valid for the thread count its metadata records
    options.intra_op_num_threads = threads
    # with sequential execution, intra-op threads are the only
    # parallelism: the one the table's threads field records
    options.inter_op_num_threads = 1
    options.execution_mode = ort.ExecutionMode.ORT_SEQUENTIAL
    options.graph_optimization_level = ort.GraphOptimizationLevel.ORT_ENABLE_ALL
    # 3 = errors only: warnings for each of thousands of small graphs would drown a LUT build's log
    options.log_severity_level = 3
    return ort.InferenceSession(onnx_model, options, providers=["CPUExecutionProvider"])


@contextlib.contextmanager
def _quiet_native_stdout():
    """MNN's C++ prints banners on fd 1; keep them out of the tool's output."""
    sys.stdout.flush()
    # the file descriptor, not sys.stdout: the C++ writes bypass Python's stream objects
    saved = os.dup(1)
    with tempfile.TemporaryFile() as sink:
        os.dup2(sink.fileno(), 1)
        try:
            yield
        finally:
            ctypes.CDLL(None).fflush(None)  # C stdio buffers: flush them into the sink
            os.dup2(saved, 1)
            os.close(saved)


class MNNRunner:
    """One interpreter session with a fixed input shape."""

    def __init__(self, path, threads: int = 1, precision: str | None = None):
        """``precision``: MNN's "normal" (fp32 on CPUs), "high" or "low" (fp16 where the CPU
        and the build have it); None leaves MNN's default."""
        config = {"numThread": threads, **({"precision": precision} if precision else {})}
        with _quiet_native_stdout():
            import MNN

            self._mnn = MNN
            self.interpreter = MNN.Interpreter(str(path))
            self.session = self.interpreter.createSession(config)
        self.input = self.interpreter.getSessionInput(self.session)

    def __call__(self, x: np.ndarray) -> np.ndarray:
        mnn = self._mnn
        # Caffe dimension type = NCHW, the layout of the ONNX export
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
        self(x)
        return median_ms(self.run_session, warmup, runs)
