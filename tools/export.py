#!/usr/bin/env python
"""Export a subnet to a simplified static ONNX graph and to MNN, and prove both match PyTorch.

    python tools/export.py --ckpt ckpt_save/subnet/checkpoint_best.pth
    python tools/export.py --supernet ckpt_save/supernet/checkpoint_last.pth \
        --resume ckpt_save/subnet/checkpoint_best.pth          # NNI's form (--resume = --ckpt)
    python tools/export.py --ckpt CKPT --no-mnn

ONNX: batch 1, opset 13, one file, input `input`, landmarks the only output; onnxruntime
must agree with PyTorch to 1e-4. MNN (default when installed): converted in-process, run
with MNN's runtime, must agree to 1e-3. Any mismatch exits non-zero. Writes
output/subnet.onnx, output/subnet.mnn and output/export.json (with the resolved options).
"""
import json
import sys

import _bootstrap

from lib.atomic import atomic_write_text
from lib.config import ExportConfig, parse_config, to_dict
from lib.export import export_and_verify, mnn_available
from lib.spaces import full_kwargs
from lib.train import subnet_from_checkpoint


def main(argv=None) -> int:
    args = parse_config(ExportConfig, argv, __doc__.splitlines()[0])
    _bootstrap.setup_logging()
    model, arch, _ = subnet_from_checkpoint(args.ckpt)
    img_size = full_kwargs(arch["space"], arch.get("space_kwargs"))["img_size"]
    report = export_and_verify(model, args.out_dir, img_size, args.mnn, args.threads)
    report.update(choices=arch["choices"], config=to_dict(args))
    atomic_write_text(f"{args.out_dir}/export.json", json.dumps(report, indent=1) + "\n")
    print(f"params {report['params']:,}  MACs {report['macs'] / 1e6:.2f} M")
    print(f"ONNX {report['onnx']}: {report['onnx_bytes'] / 1024:.0f} KB, parity "
          f"{report['ort_max_abs_diff']:.2g}, ORT {report['ort_ms']:.3f} ms "
          f"({args.threads} thread)")
    if "mnn" in report:
        print(f"MNN  {report['mnn']}: {report['mnn_bytes'] / 1024:.0f} KB, parity "
              f"{report['mnn_max_abs_diff']:.2g}, MNN {report['mnn_ms']:.3f} ms")
    elif not mnn_available():
        print("MNN not installed: skipped the MNN conversion (pip install MNN==3.6.1)")
    return 0


if __name__ == "__main__":
    sys.exit(_bootstrap.run_main(main, (RuntimeError,)))
