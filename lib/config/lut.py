"""Configuration of ``tools/build_lut.py``."""
from __future__ import annotations

from dataclasses import dataclass

from ..latency import BACKENDS, Timing
from .core import option
from .space import SpaceOptions

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
