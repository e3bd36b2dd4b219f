"""Export a subnet for deployment and prove it: ONNX (+ onnxruntime parity) and MNN
(+ MNN parity), with sizes and single-thread latencies."""
from __future__ import annotations

import logging
from pathlib import Path

from torch import nn

from ..latency import count_macs, time_ort
from ..spaces import DeployView, deployed_params
from ..latency.mnn import MNNRunner, convert_onnx_to_mnn, mnn_available
from .onnx_export import (OUTPUT_NAMES, check_parity, export_onnx, reference_input, run_onnx,
                          torch_output)

log = logging.getLogger(__name__)
# measured diffs: 1e-7 to 4e-6 on onnxruntime, up to 1e-4 on MNN for the hourglass
# (docs/RESULTS.md); a wrong graph misses by far more. For landmarks in crop units, 1e-3 is
# 0.1 px at 112 px
ORT_TOLERANCE = 1e-4
MNN_TOLERANCE = 1e-3


def export_and_verify(model: nn.Module, out_dir, img_size: int, mnn: bool | None = None,
                      threads: int = 1, runs: int = 200, name: str = "subnet") -> dict:
    """Write ``<out_dir>/<name>.onnx`` (and ``.mnn``); raise ParityError on any mismatch."""
    out_dir = Path(out_dir)
    deployed = DeployView(model).eval()
    mnn = mnn_available() if mnn is None else mnn
    if mnn and not mnn_available():
        raise RuntimeError("--mnn needs the MNN package: pip install MNN==3.6.1")
    x = reference_input(img_size)
    expected = torch_output(deployed, x)
    onnx_path = export_onnx(deployed, out_dir / f"{name}.onnx", img_size,
                            output_name=OUTPUT_NAMES[getattr(model, "task", "landmark")])
    macs, _ = count_macs(deployed, [1, 3, img_size, img_size])
    params = deployed_params(model)
    report = {"onnx": str(onnx_path), "onnx_bytes": onnx_path.stat().st_size,
              "params": params, "macs": macs, "threads": threads,
              "ort_max_abs_diff": check_parity("onnxruntime", expected,
                                               run_onnx(onnx_path, x, threads), ORT_TOLERANCE),
              "ort_ms": time_ort(deployed, [1, 3, img_size, img_size], threads, runs=runs)}
    if mnn:
        mnn_path = convert_onnx_to_mnn(onnx_path, out_dir / f"{name}.mnn")
        runner = MNNRunner(mnn_path, threads)
        report.update({"mnn": str(mnn_path), "mnn_bytes": mnn_path.stat().st_size,
                       "mnn_max_abs_diff": check_parity("MNN", expected, runner(x),
                                                        MNN_TOLERANCE),
                       "mnn_ms": runner.time_ms(x, runs=runs)})
    return report
