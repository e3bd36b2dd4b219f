#!/usr/bin/env python
"""Run a trained or exported model on images, folders or videos and draw what it sees.

    python tools/predict.py --ckpt output/subnet.onnx --input photo.jpg      # face detector
    python tools/predict.py --ckpt output/subnet.mnn --input faces/ --whole  # face crops
    python tools/predict.py --ckpt ckpt_save/subnet/checkpoint_best.pth --input clip.mp4 \
        --every 5 --box 120,80,200,200 --numbers

``--ckpt`` is a subnet (or search) checkpoint, an .onnx (onnxruntime) or an .mnn (MNN); the
task is read from the model. Faces: ``--box x,y,w,h``, ``--whole`` (the image is a face crop),
or else the bundled MTCNN detector (pip install -r requirements-detect.txt). Each face is
cropped by the training rule (a square of --margin x the landmark box, then re-cropped around
the predicted points), so the points map back to image pixels. Writes per image
``<out>/<name>.png`` (landmarks and pose axes, or the parsing mask with its legend) and
``<name>.json`` (points in image pixels, box, pose, model, time per face); per video an
annotated ``<name>.mp4`` and one JSON of its frames. docs/PREDICT.md has the details.
"""
import sys

import _bootstrap

from lib.config import PredictConfig, parse_config
from lib.predict import predict_inputs


def main(argv=None) -> int:
    args = parse_config(PredictConfig, argv, __doc__.splitlines()[0])
    _bootstrap.setup_logging()
    summary = predict_inputs(args)
    for path in summary["pictures"]:
        print(f"wrote {path}")
    ms = summary["ms_per_face"]
    print(f"{summary['faces']} faces in {len(summary['pictures'])} inputs" +
          (f", {ms:.2f} ms per face (model only, median)" if ms is not None else ""))
    for where in summary["no_face"]:
        print(f"no face: {where}")
    if summary.get("sheet"):
        print(f"wrote {summary['sheet']}")
    for message in summary["unreadable"]:
        print(f"error: {message}", file=sys.stderr)
    return 1 if summary["unreadable"] else 0


if __name__ == "__main__":
    sys.exit(_bootstrap.run_main(main))
