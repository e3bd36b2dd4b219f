"""Building a latency table on this machine: every candidate of every slot timed at its
traced input shape, and the fixed part calibrated on whole models."""
from __future__ import annotations

import datetime as dt
import logging
import platform
import random
import statistics
from pathlib import Path

import torch
from tqdm import tqdm

from ..spaces import DeployView, FixedChooser, Slot, create_space
from ..spaces.arch import jsonable
from .counting import count_macs
from .lut_file import FORMAT
from .measure import BACKENDS, backend_version, time_module
from .slots import fingerprint, input_shape_of, op_slots, random_choices, slot_entries, \
    trace_slots
from .table import LatencyTable

log = logging.getLogger(__name__)


def host_cpu() -> str:
    try:
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name"):
                return line.split(":", 1)[1].strip()
    except OSError:
        pass
    return platform.processor() or platform.machine()


def _measure(backend: str, module, in_shape, threads, warmup, runs, sessions=1) -> float:
    if backend == "flops":
        return count_macs(module, in_shape)[0] / 1e6
    return time_module(backend, module, in_shape, threads, warmup, runs, sessions)


def build_lut(space: str, space_kwargs: dict | None = None, backend: str = "ort",
              threads: int = 1, warmup: int = 20, runs: int = 200, calib_archs: int = 10,
              seed: int = 0, progress: bool = True, linear: bool = True,
              sessions: int = 1) -> dict:
    """Measure every candidate of every slot, then calibrate the fixed part on a few seeded
    whole deployed models (:func:`fit_fixed`), so per-model overheads the blocks do not see
    are part of the prediction."""
    if backend not in BACKENDS:
        raise ValueError(f"backend must be one of {BACKENDS}, got {backend!r}")
    space_kwargs = dict(space_kwargs or {})
    torch.manual_seed(seed)
    slots = trace_slots(space, space_kwargs)
    todo = [(label, *entry) for label, info in op_slots(slots).items()
            for entry in slot_entries(label, info, slots)]
    entries, measured = {}, {}
    for label, op, in_shape, out_ch, key in tqdm(todo, desc=f"LUT {space} [{backend}]",
                                                 disable=not progress):
        info = slots[label]
        config = (op, tuple(in_shape), out_ch, info["stride"])
        if config not in measured:  # identical blocks in other slots are measured once
            block = Slot(label, tuple(info["candidates"]), in_shape[1], out_ch, info["stride"],
                         info.get("in_width"), info.get("out_width")).build(op)
            macs, params = count_macs(block, in_shape)
            measured[config] = {"value": _measure(backend, block, in_shape, threads, warmup,
                                                  runs, sessions),
                                "macs": macs, "params": params}
        entries[key] = dict(measured[config])
    rng = random.Random(seed)
    table = LatencyTable({}, entries, {"value": 0.0}, slots)
    calibration = []
    for choices in tqdm([random_choices(slots, rng) for _ in range(calib_archs)],
                        desc="calibration", disable=not progress):
        whole = measure_arch(space, space_kwargs, choices, backend, threads, warmup, runs,
                             sessions)
        calibration.append({"choices": choices, "measured": whole,
                            "sum_entries": table.sum_entries(choices)})
    unit = "MMAC" if backend == "flops" else "ms"
    metadata = {
        "space": space, "space_kwargs": jsonable(space_kwargs),
        "fingerprint": fingerprint(space, space_kwargs, slots),
        "input_shape": input_shape_of(space, space_kwargs), "backend": backend,
        "backend_version": backend_version(backend), "threads": threads, "batch": 1,
        "dtype": "float32", "unit": unit,
        "statistic": "exact" if backend == "flops" else
        "median" if sessions == 1 else f"min over {sessions} sessions of the median",
        "sessions": sessions,
        "warmup": warmup, "runs": runs, "host_cpu": host_cpu(),
        "date": dt.datetime.now().astimezone().isoformat(timespec="seconds"),
    }
    return {"format": FORMAT, "metadata": metadata, "slots": slots, "entries": entries,
            "fixed": {**fit_fixed(calibration, linear and backend != "flops"),
                      "calibration": calibration}}


def measure_arch(space: str, space_kwargs: dict, choices: dict, backend: str, threads: int = 1,
                 warmup: int = 20, runs: int = 200, sessions: int = 1) -> float:
    """The whole deployed subnet of ``choices``, timed (or counted) end to end."""
    model = DeployView(create_space(space, FixedChooser(choices), **space_kwargs))
    return _measure(backend, model, input_shape_of(space, space_kwargs), threads, warmup, runs,
                    sessions)


def fit_fixed(calibration: list[dict], linear: bool = True) -> dict:
    """The fixed part from whole-model measurements: ``measured ≈ scale x sum + value`` by
    least squares (per-block timing misses effects that grow with the model, such as
    per-layer overhead and cache traffic, so the sum is rescaled too), or an offset only
    (``scale`` 1: the median of measured - sum) when the fit is not asked for or not
    determined (fewer than 3 models, or a scale outside [0.5, 2])."""
    sums = [c["sum_entries"] for c in calibration]
    measured = [c["measured"] for c in calibration]
    offset = {"value": statistics.median(m - s for m, s in zip(measured, sums)), "scale": 1.0,
              "method": "median(whole - sum of entries)"}
    if not linear or len(calibration) < 3 or statistics.pvariance(sums) == 0:
        return offset
    scale, value = statistics.linear_regression(sums, measured)
    if not 0.5 <= scale <= 2.0:
        log.warning("calibration fit scale %.2f is implausible; using an offset only", scale)
        return offset
    return {"value": value, "scale": scale,
            "method": f"least squares: whole = scale x sum of entries + value, "
                      f"{len(calibration)} models"}
