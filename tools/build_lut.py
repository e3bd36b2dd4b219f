#!/usr/bin/env python
"""Build a latency lookup table on this device.

    python tools/build_lut.py --space pfld_fbnet --backend ort --threads 1 \
        --out lut/pfld_fbnet_112_ort_t1.json
    python tools/build_lut.py --space pfld_fbnet --backend mnn     # MNN's own runtime

Every candidate of every slot is timed at its traced input shape (batch 1, median of --runs
after --warmup); the fixed part is calibrated on whole models. --backend flops writes MACs.
"""
import sys
from dataclasses import dataclass

import _bootstrap

from lib.latency import BACKENDS, build_lut, default_lut_path, save_lut
from lib.train.config import option, parse_config
from lib.train.space_options import SpaceOptions


@dataclass
class BuildLUTConfig(SpaceOptions):
    backend: str = option("ort", "ort (onnxruntime), mnn (MNN's runtime; each block is "
                                 "converted in-process), torch (eager) or flops (MACs)",
                          choices=BACKENDS)
    threads: int = option(1, "intra-op threads of the backend")
    warmup: int = option(20, "untimed runs before timing")
    runs: int = option(200, "timed runs per session; the median is kept")
    sessions: int = option(1, "fresh sessions per measurement; the fastest median is stored "
                              "(sessions land in a fast or a ~30 % slower mode at random)")
    calib_archs: int = option(10, "whole models measured to calibrate the fixed part and the "
                                  "scale of the summed entries")
    linear: bool = option(True, "fit measured = scale x sum + fixed on the calibration models "
                                "(false: the median offset only)")
    seed: int = option(0, "seed for weights and calibration architectures")
    out: str | None = option(None, "output JSON (default lut/<space>_<img>_<backend>_t<N>.json)")

    def validate(self):
        super().validate()
        for name in ("threads", "runs", "calib_archs", "sessions"):
            if getattr(self, name) < 1:
                raise ValueError(f"--{name} must be positive")


def main(argv=None) -> int:
    cfg = parse_config(BuildLUTConfig, argv, __doc__.splitlines()[0])
    _bootstrap.setup_logging()
    kwargs = cfg.space_kwargs_full()
    lut = build_lut(cfg.space, kwargs, cfg.backend, cfg.threads, cfg.warmup, cfg.runs,
                    cfg.calib_archs, cfg.seed, linear=cfg.linear, sessions=cfg.sessions)
    out = cfg.out or default_lut_path(cfg.space, kwargs["img_size"], cfg.backend, cfg.threads)
    save_lut(lut, out)
    values = [e["value"] for e in lut["entries"].values()]
    unit = lut["metadata"]["unit"]
    print(f"wrote {out}: {len(values)} entries ({min(values):.4f}-{max(values):.4f} {unit}), "
          f"fixed part {lut['fixed']['value']:.4f} {unit}, scale {lut['fixed']['scale']:.3f}")
    return 0


if __name__ == "__main__":
    sys.exit(_bootstrap.run_main(main))
