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
from dataclasses import dataclass
from pathlib import Path

import _bootstrap

from lib.latency import BACKENDS, Timing, build_lut, default_lut_path, save_lut
from lib.latency.kit import export_kit, import_kit
from lib.train.config import option, parse_config
from lib.train.space_options import SpaceOptions


# --quick: fewer runs and a looser interval; same drift-proof method (README: LUT fidelity)
QUICK_VALUES = {"warmup": 5, "runs": 50, "precision": 0.04, "max_rounds": 8}
QUICK = ", ".join(f"--{name} {value}" for name, value in QUICK_VALUES.items())


@dataclass
class BuildLUTConfig(SpaceOptions):
    backend: str = option("ort", "ort (onnxruntime), mnn (MNN's runtime; each block is "
                                 "converted in-process), torch (eager) or flops (MACs)",
                          choices=BACKENDS)
    threads: int = option(1, "intra-op threads of the backend")
    warmup: int = option(Timing.warmup, "untimed runs before each timed burst")
    runs: int = option(Timing.runs, "timed runs per burst; a burst's median is one value")
    sessions: int = option(Timing.sessions,
                           "fresh sessions per round; the fastest burst is the round's value "
                           "(sessions land in a fast or a ~30 % slower mode at random)")
    precision: float = option(Timing.precision, "repeat rounds until the 95 % interval of "
                                                "each median ratio is within ± this fraction")
    max_rounds: int = option(Timing.max_rounds, "at most this many rounds")
    quick: bool = option(False, f"a table in minutes, same method: {QUICK}")
    calib_archs: int = option(10, "whole models measured to calibrate the fixed part and the "
                                  "scale of the summed entries")
    linear: bool = option(True, "fit measured = scale x sum + fixed on the calibration models "
                                "(false: the median offset only)")
    context: bool = option(False, "move each entry into context: time the reference model "
                                  "with each candidate swapped in, and correct the entry by "
                                  "what the candidate costs there beyond what it costs alone "
                                  "(PFLD: worse than blocks alone, README)")
    seed: int = option(0, "seed for weights and calibration architectures")
    kit: str | None = option(None, "export a measurement kit into this new folder instead of "
                                   "timing here (a phone: README, Latency LUTs); with --import, "
                                   "the kit the results are for")
    import_results: str | None = option(
        None, "make the LUT from a kit's timings: run_kit.py's results.json or the text output "
              "of MNN's benchmark.out", flag="import")
    holdout: int = option(20, "whole subnets a kit holds out of the calibration, to score the "
                              "imported LUT on")
    int8: bool = option(False, "with --import of benchmark.out: its quant- rows "
                               "(testQuantizedModel=1), an int8 LUT")
    out: str | None = option(None, "output JSON (default lut/<space>_<img>_<backend>_t<N>.json; "
                                   "with --import, <kit>/lut_<backend>[_int8].json)")

    def timing(self) -> Timing:
        values = {name: getattr(self, name) for name in
                  ("warmup", "runs", "sessions", "precision", "max_rounds")}
        if self.quick:  # over the defaults only: flags given with --quick still count
            values.update({name: value for name, value in QUICK_VALUES.items()
                           if values[name] == type(self).__dataclass_fields__[name].default})
        return Timing(**values)

    def validate(self):
        super().validate()
        if not 0 < self.precision < 1:
            raise ValueError("--precision must be in (0, 1)")
        for name in ("threads", "runs", "calib_archs", "sessions", "max_rounds"):
            if getattr(self, name) < 1:
                raise ValueError(f"--{name} must be positive")
        if self.holdout < 0:
            raise ValueError("--holdout must be 0 or more")
        if self.import_results and not self.kit:
            raise ValueError("--import needs --kit DIR, the kit the results are for")
        if self.int8 and not self.import_results:
            raise ValueError("--int8 applies to --import of benchmark.out's output")


def main(argv=None) -> int:
    cfg = parse_config(BuildLUTConfig, argv, __doc__.splitlines()[0])
    _bootstrap.setup_logging()
    if cfg.import_results:
        return import_results(cfg)
    kwargs = cfg.space_kwargs_full()
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
    save_lut(lut, out)
    report(lut, out)
    return 0


def import_results(cfg: BuildLUTConfig) -> int:
    lut, scores = import_kit(cfg.kit, cfg.import_results, cfg.int8, cfg.linear)
    meta = lut["metadata"]
    out = cfg.out or Path(cfg.kit) / f"lut_{meta['backend']}{'_int8' if cfg.int8 else ''}.json"
    save_lut(lut, out)
    report(lut, out)
    if scores:
        print(f"fidelity on the kit's {scores['n']} held-out subnets: MAPE "
              f"{scores['mape_pct']:.1f} %, Kendall tau {scores['kendall_tau']:.3f}, "
              f"{100 * scores['within_10pct']:.0f} % within ±10 %, worst "
              f"{scores['max_abs_error_pct']:.1f} %")
    return 0


def report(lut: dict, out) -> None:
    values = [e["value"] for e in lut["entries"].values()]
    unit = lut["metadata"]["unit"]
    print(f"wrote {out}: {len(values)} entries ({min(values):.4f}-{max(values):.4f} {unit}), "
          f"fixed part {lut['fixed']['value']:.4f} {unit}, scale {lut['fixed']['scale']:.3f}")


if __name__ == "__main__":
    sys.exit(_bootstrap.run_main(main))
