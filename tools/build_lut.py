#!/usr/bin/env python
"""Build a latency lookup table on this device.

    python tools/build_lut.py --space pfld_fbnet --backend ort --threads 1 \
        --out lut/pfld_fbnet_112_ort_t1.json
    python tools/build_lut.py --space pfld_fbnet --backend mnn     # MNN's own runtime

Every candidate of every slot is timed at its traced input shape (batch 1), and a few whole
models to calibrate the fixed part, all in one drift-proof run: each model alternates with a
reference model (the space's first-candidate subnet) and keeps its ratio to it, round after
round until the ratio is known to --precision (lib/latency/relative.py). --quick builds a
table in minutes with the same method. --backend flops writes MACs.

A device without torch (a phone, an ARM board) times a kit instead (lib/latency/kit.py):

    python tools/build_lut.py --space pfld_fbnet --kit kit/        # export the models
    python3 kit/run_kit.py                                         # on the device
    python tools/build_lut.py --kit kit/ --import kit/results.json # the LUT, and its fidelity
"""
import sys
from pathlib import Path

import _bootstrap

from lib.config import BuildLUTConfig, parse_config, to_dict
from lib.latency import build_lut, default_lut_path, save_lut
from lib.latency.kit import export_kit, import_kit
from lib.spaces import jsonable


def main(argv=None) -> int:
    cfg = parse_config(BuildLUTConfig, argv, __doc__.splitlines()[0])
    _bootstrap.setup_logging()
    if cfg.import_results:
        return import_results(cfg)
    kwargs = cfg.instance_kwargs()
    if cfg.kit:
        manifest = export_kit(cfg.kit, cfg.space, kwargs, cfg.threads, cfg.timing(),
                              cfg.calib_archs, cfg.holdout, cfg.seed, cfg.context)
        print(f"wrote the kit {cfg.kit}: {len(manifest['models'])} models as .onnx and .mnn. "
              f"On the device: python3 {cfg.kit}/run_kit.py (or MNN's benchmark.out on "
              f"{cfg.kit}/mnn), then: tools/build_lut.py --kit {cfg.kit} --import RESULTS")
        return 0
    lut = build_lut(cfg.space, kwargs, cfg.backend, cfg.threads, cfg.timing(), cfg.calib_archs,
                    cfg.seed, linear=cfg.linear, context=cfg.context)
    out = cfg.out or default_lut_path(cfg.space, kwargs["img_size"], cfg.backend, cfg.threads)
    save(lut, out, cfg)
    return 0


def import_results(cfg: BuildLUTConfig) -> int:
    lut, scores = import_kit(cfg.kit, cfg.import_results, cfg.int8, cfg.linear)
    meta = lut["metadata"]
    out = cfg.out or Path(cfg.kit) / f"lut_{meta['backend']}{'_int8' if cfg.int8 else ''}.json"
    save(lut, out, cfg)
    if scores:
        print(f"fidelity on the kit's {scores['n']} held-out subnets: MAPE "
              f"{scores['mape_pct']:.1f} %, Kendall tau {scores['kendall_tau']:.3f}, "
              f"{100 * scores['within_10pct']:.0f} % within ±10 %, worst "
              f"{scores['max_abs_error_pct']:.1f} %")
    return 0


def save(lut: dict, out, cfg: BuildLUTConfig) -> None:
    """Writes the table with the options that built it, and says what it holds."""
    lut["metadata"]["config"] = jsonable(to_dict(cfg))
    save_lut(lut, out)
    values = [e["value"] for e in lut["entries"].values()]
    unit = lut["metadata"]["unit"]
    print(f"wrote {out}: {len(values)} entries ({min(values):.4f}-{max(values):.4f} {unit}), "
          f"fixed part {lut['fixed']['value']:.4f} {unit}, scale {lut['fixed']['scale']:.3f}")


if __name__ == "__main__":
    sys.exit(_bootstrap.run_main(main))
