"""Latency lookup tables: build (every candidate of every slot at its traced input shape,
plus the fixed part), save, load with checks, and query."""
from __future__ import annotations

import datetime as dt
import hashlib
import json
import logging
import platform
import random
import statistics
from dataclasses import dataclass
from functools import cached_property
from pathlib import Path

import torch
from tqdm import tqdm

from ..atomic import atomic_write_text
from ..spaces import DeployView, FirstChooser, FixedChooser, Slot, create_space, full_kwargs
from ..spaces.arch import jsonable
from ..spaces.widths import WidthSlot, grids, interp_weights, resolve
from .counting import count_macs
from .measure import BACKENDS, backend_version, time_module

log = logging.getLogger(__name__)
FORMAT = 1
LUT_DIR = Path(__file__).resolve().parents[2] / "lut"


class LUTMismatchError(ValueError):
    def __init__(self, source, problems: list[str]):
        self.problems = problems
        super().__init__(f"{source}: LUT does not match the space:\n  " + "\n  ".join(problems))


def default_lut_path(space: str, img_size: int, backend: str = "ort", threads: int = 1) -> Path:
    return LUT_DIR / f"{space}_{img_size}_{backend}_t{threads}.json"


def input_shape_of(space: str, space_kwargs: dict) -> list[int]:
    size = full_kwargs(space, space_kwargs)["img_size"]
    return [1, 3, size, size]


def trace_slots(space: str, space_kwargs: dict) -> dict:
    """Slot table with each slot's real input shape, from one forward of the first-candidate
    model (hooks on the slot modules). Width slots carry the channel grid their LUT entries
    are measured on; a block between searched widths names its width slots."""
    chooser = FirstChooser()
    model = create_space(space, chooser, **space_kwargs).eval()
    shapes = {}
    handles = [module.register_forward_pre_hook(
        lambda _m, args, label=label: shapes.__setitem__(label, list(args[0].shape)))
        for label, module in chooser.modules.items()]
    with torch.no_grad():
        model(torch.zeros(input_shape_of(space, space_kwargs)))
    for handle in handles:
        handle.remove()
    table = {}
    for label, slot in chooser.slots.items():
        table[label] = {"candidates": list(slot.candidates), "in_shape": shapes[label],
                        "out_ch": slot.out_ch, "stride": slot.stride}
        table[label].update({key: value for key, value in (("in_width", slot.in_width),
                             ("out_width", slot.out_width)) if value is not None})
    for label, grid in grids(chooser.width_slots).items():
        table[label] = {**chooser.width_slots[label].info(), "grid": grid}
    return table


def _op_slots(slots: dict) -> dict:
    return {label: info for label, info in slots.items() if info.get("kind") != "width"}


def _searched(info: dict) -> bool:
    """Whether an op slot sits between searched widths (its entries span channel grids)."""
    return "in_width" in info or "out_width" in info


def _channel_grid(info: dict, side: str, slots: dict) -> list[int]:
    width = info.get(f"{side}_width")
    if width:
        return slots[width]["grid"]
    return [info["in_shape"][1] if side == "in" else info["out_ch"]]


def slot_entries(label: str, info: dict, slots: dict):
    """``(op, in_shape, out_ch, key)`` for every entry of an op slot: each candidate, over the
    channel grids of its width slots when it has them."""
    for op in info["candidates"]:
        for cin in _channel_grid(info, "in", slots):
            for cout in _channel_grid(info, "out", slots):
                shape = [info["in_shape"][0], cin, *info["in_shape"][2:]]
                yield op, shape, cout, entry_key(label, op, shape,
                                                 cout if _searched(info) else None)


def fingerprint(space: str, space_kwargs: dict, slots: dict) -> str:
    blob = json.dumps({"space": space, "kwargs": jsonable(space_kwargs), "slots": slots},
                      sort_keys=True)
    return hashlib.sha256(blob.encode()).hexdigest()[:16]


def entry_key(label: str, op: str, in_shape, out_ch: int | None = None) -> str:
    key = f"{label}/{op}/{'x'.join(str(d) for d in in_shape)}"
    return key if out_ch is None else f"{key}/o{out_ch}"


def host_cpu() -> str:
    try:
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name"):
                return line.split(":", 1)[1].strip()
    except OSError:
        pass
    return platform.processor() or platform.machine()


@dataclass
class LatencyTable:
    metadata: dict
    entries: dict
    fixed: dict
    slots: dict  # label -> traced slot info, of the space the table was checked against

    @property
    def unit(self) -> str:
        return self.metadata["unit"]

    @cached_property
    def width_slots(self) -> dict[str, WidthSlot]:
        return {label: WidthSlot.from_info(label, info)
                for label, info in self.slots.items() if info.get("kind") == "width"}

    @property
    def scale(self) -> float:
        """Factor on the summed entries, fitted with the fixed part on whole models (1 for
        tables calibrated by an offset only)."""
        return self.fixed.get("scale", 1.0)

    def predict(self, choices: dict[str, str]) -> float:
        return self.fixed["value"] + self.sum_entries(choices)

    def sum_entries(self, choices: dict[str, str]) -> float:
        """Sum of the slot entries of an architecture (times :attr:`scale`); widths between
        grid points are interpolated bilinearly."""
        widths = resolve(self.width_slots, choices)
        costs = self.slot_costs()
        total = 0.0
        for label, info in _op_slots(self.slots).items():
            cost = costs[label][info["candidates"].index(choices[label])]
            if cost.dim():
                g_in, g_out = (interp_weights(self.slots[info[f"{side}_width"]]["grid"],
                                              widths[info[f"{side}_width"]])
                               if f"{side}_width" in info else torch.ones(1)
                               for side in ("in", "out"))
                cost = g_in @ cost @ g_out
            total += float(cost)
        return total

    def slot_costs(self) -> dict[str, torch.Tensor]:
        """Per op slot, the cost of each candidate in candidate order (for the expected cost):
        ``[op]``, or ``[op, in grid, out grid]`` for a block between searched widths; entries
        times :attr:`scale`. (A new dict of the shared, read-only tensors.)"""
        return dict(self._slot_costs)

    @cached_property
    def _slot_costs(self) -> dict[str, torch.Tensor]:
        # built once: predict() runs per architecture, and rejection sampling calls it
        # hundreds of thousands of times (the table does not change after loading)
        costs = {}
        for label, info in _op_slots(self.slots).items():
            values = self.scale * torch.tensor([self.entries[key]["value"] for *_, key in
                                                slot_entries(label, info, self.slots)])
            n_in, n_out = (len(_channel_grid(info, side, self.slots)) for side in ("in", "out"))
            costs[label] = values.view(-1, n_in, n_out) if _searched(info) else values
        return costs

    def op_costs(self) -> dict[str, list[float]]:
        """Per op slot, each candidate's cost averaged over the width grid (when searched)."""
        return {label: (c.flatten(1).mean(1) if c.dim() > 1 else c).tolist()
                for label, c in self.slot_costs().items()}

    def corner(self, dearest: bool) -> dict[str, str]:
        """The cheapest (or dearest) architecture by the entries: per op slot the candidate
        with the lowest (highest) cost, averaged over the width grid; per width slot the
        narrowest (widest) multiplier."""
        pick = max if dearest else min
        choices = {}
        for label, per_op in self.op_costs().items():
            choices[label] = self.slots[label]["candidates"][per_op.index(pick(per_op))]
        choices.update({label: pick(slot.candidates, key=float)
                        for label, slot in self.width_slots.items()})
        return choices

    def reference(self) -> float:
        """Expected cost under uniform choices (over the grid for searched widths): the scale
        used to normalise the cost term."""
        return self.fixed["value"] + sum(float(c.mean()) for c in self.slot_costs().values())

    def bounds(self) -> tuple[float, float]:
        costs = self.slot_costs().values()
        return (self.fixed["value"] + sum(float(c.min()) for c in costs),
                self.fixed["value"] + sum(float(c.max()) for c in costs))


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
    todo = [(label, *entry) for label, info in _op_slots(slots).items()
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


def random_choices(slots: dict, rng: random.Random) -> dict:
    return {label: rng.choice(info["candidates"]) for label, info in slots.items()}


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


def save_lut(lut: dict, path) -> None:
    atomic_write_text(Path(path), json.dumps(lut, indent=1) + "\n")


def check_lut(lut: dict, space: str, space_kwargs: dict, source="LUT") -> LatencyTable:
    """Validate a LUT dict against a space instance; raise LUTMismatchError listing problems."""
    slots = trace_slots(space, space_kwargs)
    meta = lut.get("metadata", {})
    problems = []
    if lut.get("format") != FORMAT:
        problems.append(f"format {lut.get('format')!r}, expected {FORMAT}")
    if meta.get("space") != space:
        problems.append(f"built for space {meta.get('space')!r}, not {space!r}")
    expected = fingerprint(space, space_kwargs, slots)
    if meta.get("fingerprint") != expected:
        problems.append(f"fingerprint {meta.get('fingerprint')!r} != space's {expected!r} "
                        f"(LUT kwargs {meta.get('space_kwargs')}, space kwargs "
                        f"{jsonable(space_kwargs)})")
    entries = lut.get("entries", {})
    missing = [key for label, info in _op_slots(slots).items()
               for *_, key in slot_entries(label, info, slots) if key not in entries]
    problems += [f"missing entry {key}" for key in missing[:5]]
    if len(missing) > 5:
        problems.append(f"... and {len(missing) - 5} more missing entries")
    if "value" not in lut.get("fixed", {}):
        problems.append("missing the fixed-part cost")
    if problems:
        raise LUTMismatchError(source, problems)
    return LatencyTable(meta, entries, lut["fixed"], slots)


def load_lut(path, space: str, space_kwargs: dict | None = None) -> LatencyTable:
    path = Path(path)
    try:
        lut = json.loads(path.read_text())
    except (OSError, json.JSONDecodeError) as exc:
        raise ValueError(f"{path}: cannot read LUT: {exc}") from exc
    return check_lut(lut, space, dict(space_kwargs or {}), str(path))
