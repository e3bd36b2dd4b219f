#!/usr/bin/env python
"""Prepare raw landmark data as PFLD-ready crops (the list.txt layout --dataset jd106 reads).

    python tools/prepare_data.py --dataset datatang --data_root ../shared/data/datatang106 \
        --out data/datatang106
    python tools/prepare_data.py --dataset pts --data_root ../shared/data/helen68 --out data/helen
    python tools/prepare_data.py --dataset facesynthetics --data_root RAW --out data/fs --img_size 128
    python tools/prepare_data.py --dataset pixels --data_root list_pixels.txt --num_points 106 ...
    python tools/prepare_data.py --dataset coco --data_root face_landmarks_wflw_train.json \
        --images WFLW/images --out data/wflw [--crop bbox]
    python tools/prepare_data.py --dataset wflw --data_root list_98pt_rect_attr_train.txt \
        --images WFLW_images --out data/wflw
    python tools/prepare_data.py --dataset ljson --data_root LJSON_FOLDER --out data/menpo

Formats: facesynthetics (NNNNNN.png + _ldmks.txt, 70 points), pts (300-W, with or without
header, any folder depth; 300-VW's annot/ + imgs/), datatang (JSON, 106 points), pixels
(`file x1 y1 ... xN yN`), coco (COCO-style keypoint JSON as MMPose ships 300W, WFLW, COFW,
AFLW, LaPa: one face per annotation, the layout by the number of points), wflw (WFLW's
annotation lines), ljson (menpo LJSON v3, the 68-point group). Images of any format OpenCV
reads. Bad input stops with `file:line: reason` (JSON: `file: annotations[i]: reason`) unless
--skip_bad, which logs and counts each. Nothing half-written is left in --out if
preparation fails. The options used are in <out>/meta.json.
"""
import sys

import _bootstrap

from lib.config import PrepareConfig, parse_config
from lib.data.prepare import prepare


def main(argv=None) -> int:
    args = parse_config(PrepareConfig, argv, __doc__.splitlines()[0])
    _bootstrap.setup_logging()
    report = prepare(args.dataset, args.data_root, args.out, args.img_size, args.margin,
                     args.split, args.seed, args.skip_bad, args.num_points, args.layout,
                     args.augment_copies, images=args.images, crop=args.crop)
    written = ", ".join(f"{k} {v}" for k, v in report.written.items())
    print(f"wrote {report.out}: {written} (layout {report.layout}; Euler angles "
          f"{'by solvePnP' if report.euler else 'not available: zeros'})")
    if report.skipped:
        print(f"skipped {len(report.skipped)} bad sample(s):")
        for reason in report.skipped:
            print(f"  {reason}")
    return 0


if __name__ == "__main__":
    sys.exit(_bootstrap.run_main(main))
