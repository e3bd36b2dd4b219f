#!/usr/bin/env python
"""Print the pipeline's summary table from the JSON the other tools wrote.

    python tools/report.py --eval output/evaluate_subnet.json --export output/export.json \
        --pareto output/pareto.csv
    python tools/report.py --eval output/evaluate_subnet.json output/evaluate_mbv2.json ...

Columns: model, LUT-predicted latency (searched subnet), measured ORT / MNN latency
(1 thread), params, MACs, ONNX size, and the test metric: NME (box; inter-ocular where
known) for landmark models, mIoU and pixel accuracy for segmentation models.
"""
import csv
import json
import sys
from pathlib import Path

import _bootstrap

from lib.config import ReportConfig, parse_config


def main(argv=None) -> int:
    args = parse_config(ReportConfig, argv, __doc__.splitlines()[0])
    evals = [(Path(p).stem.removeprefix("evaluate_"), json.loads(Path(p).read_text()))
             for p in args.eval]
    export = json.loads(Path(args.export).read_text()) if args.export else {}
    predicted = {}
    if args.pareto:
        with open(args.pareto) as handle:
            predicted = {r["arch_id"]: r for r in csv.DictReader(handle)}
    metrics = ([("mIoU", "miou"), ("pixel acc", "pixel_acc")] if "miou" in evals[0][1] else
               [("NME box", "nme_box"), ("NME io", "nme_io")])
    header = ["model", "predicted ms", "ORT ms", "MNN ms", "params", "MMACs", "ONNX KB",
              *(title for title, _ in metrics)]
    rows = []
    for i, (name, ev) in enumerate(evals):
        first = i == 0
        argmax = predicted.get("argmax") if first else None
        rows.append([name, f"{float(argmax['predicted']):.3f}" if argmax else "-",
                     f"{ev['ort_ms']:.3f}",
                     f"{export['mnn_ms']:.3f}" if first and "mnn_ms" in export else "-",
                     f"{ev['params']:,}", f"{ev['macs'] / 1e6:.1f}" if ev.get("macs") else "-",
                     f"{export['onnx_bytes'] / 1024:.0f}" if first and export else "-",
                     *(f"{ev[key]:.4f}" if key in ev else "-" for _, key in metrics)])
    widths = [max(len(str(r[c])) for r in rows + [header]) for c in range(len(header))]
    for row in [header, ["-" * w for w in widths]] + rows:
        print("  ".join(str(v).rjust(w) for v, w in zip(row, widths)))
    return 0


if __name__ == "__main__":
    sys.exit(_bootstrap.run_main(main, (OSError,)))
