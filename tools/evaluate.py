#!/usr/bin/env python
"""Evaluate a model (subnet checkpoint or exported .onnx) on a split.

    python tools/evaluate.py --ckpt ckpt_save/subnet/checkpoint_best.pth --dataset synthetic
    python tools/evaluate.py --ckpt output/subnet.onnx --dataset jd106 --data_root /data/jd106
    python tools/evaluate.py --ckpt ckpt_save/hourglass/subnet/checkpoint_best.pth \
        --dataset celebamask --data_root ../shared/data/celebamask_parsing

Prints and writes JSON (default output/evaluate.json; with the resolved options) with params,
MACs and measured
onnxruntime latency, and the task's report. Landmarks: NME (inter-ocular where the layout
knows the eye corners, and box), failure rate and AUC at 0.10, per-region NME, Archai's error
(mean L2 in [-1, 1] coordinates), the aux net's Euler error. Segmentation: mIoU from the
split's confusion matrix, pixel accuracy and per-class IoU (null: class absent from both
ground truth and prediction). ``--show K`` also writes a contact sheet (--sheet) of the K
worst and K best faces, prediction and ground truth drawn, each face's error under it.
"""
import json
import sys

import _bootstrap

from lib.atomic import atomic_write_text
from lib.config import EvaluateConfig, parse_config, to_dict
from lib.train.evaluation import evaluate


def main(argv=None) -> int:
    args = parse_config(EvaluateConfig, argv, __doc__.splitlines()[0])
    _bootstrap.setup_logging()
    report = evaluate(args.ckpt, args.dataset, args.data_root, args.split, args.threads,
                      show=args.show, sheet=args.sheet)
    atomic_write_text(args.out, json.dumps({**report, "config": to_dict(args)}, indent=1) + "\n")
    for key, value in report.items():
        if key == "iou_per_class":
            print(f"{key:>22}: " + ", ".join(f"{k} {v:.3f}" for k, v in value.items()
                                              if v is not None))
        elif key not in ("choices", "sheet"):
            print(f"{key:>22}: {value:.5g}" if isinstance(value, float) else
                  f"{key:>22}: {value}")
    if report.get("sheet"):
        print(f"wrote {report['sheet']}")
    print(f"wrote {args.out}")
    return 0


if __name__ == "__main__":
    sys.exit(_bootstrap.run_main(main))
