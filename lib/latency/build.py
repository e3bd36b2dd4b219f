"""Building a latency table on this machine: every candidate of every slot timed at its
traced input shape, and the fixed part calibrated on whole models."""
from __future__ import annotations

import datetime as dt
import logging
import random
import statistics
from dataclasses import asdict

import torch
from tqdm import tqdm

from ..spaces import (DeployView, FirstChooser, FixedChooser, Slot, create_space,
                      full_kwargs)
from .counting import count_macs
from .lut_file import FORMAT
from .measure import BACKENDS, backend_version, sessions_of
from .relative import Timing, reference_summary, time_relative
from .runtimes import host_cpu
from .slots import fingerprint, input_shape_of, op_slots, random_choices, slot_entries, \
    trace_slots
from .table import LatencyTable

log = logging.getLogger(__name__)


def subnet(space: str, space_kwargs: dict, choices: dict | None = None):
    """The deployed model of ``choices`` (None: every slot's first candidate)."""
    chooser = FixedChooser(choices) if choices is not None else FirstChooser()
    return DeployView(create_space(space, chooser, **space_kwargs)).eval()


def measure(backend: str, modules: dict, space: str, space_kwargs: dict, threads: int = 1,
            timing: Timing = Timing(), progress: bool = False) -> tuple[dict, dict]:
    """``{name: value}`` for ``{name: (module, input shape)}``: MACs (``flops``), or ms timed
    relative to the space's first-candidate model (:mod:`.relative`), with the reference's
    own figures as the second value."""
    if backend == "flops":
        # millions of MACs, the unit the header records; no reference figures: counts do not drift
        return {name: count_macs(module, shape)[0] / 1e6
                for name, (module, shape) in modules.items()}, {}
    factories = {name: sessions_of(backend, module, shape, threads)
                 for name, (module, shape) in tqdm(modules.items(), desc="export",
                                                   disable=not progress)}
    # the whole first-candidate model, re-timed between bursts so the machine's drift cancels in
    # the ratios (relative.py); in_context subtracts this same network's time from each swap's
    reference = sessions_of(backend, subnet(space, space_kwargs),
                            input_shape_of(space, space_kwargs), threads)
    times, ref = time_relative(factories, reference, timing, progress)
    return {name: t.ms for name, t in times.items()}, reference_summary(times, ref)


def plan(space: str, space_kwargs: dict, calib_archs: int = 10, seed: int = 0,
         context: bool = False, holdout: int = 0) -> tuple[dict, dict]:
    """What a table needs measured, as ``(plan, models)``. ``models``: id -> (deployed
    module, input shape): every distinct block once (``block<i>``), the seeded whole models
    the fixed part is fitted on (``calibration<i>``), with ``context`` the reference network
    with one candidate swapped in (``swap<i>``), and ``holdout`` more whole models scored
    only (``holdout<i>``). ``plan`` is JSON: the id of each entry key, calibration and
    held-out architecture and swap, and each block's MACs and params, so that a kit's
    manifest carries all the import needs (no models, no torch)."""
    # seeded: the blocks' initial weights, hence the
    # exported model files, are the same in every build
    torch.manual_seed(seed)
    slots = trace_slots(space, space_kwargs)
    entries, ids, models = {}, {}, {}
    for label, info in op_slots(slots).items():
        for op, in_shape, out_ch, key in slot_entries(label, info, slots):
            config = (op, tuple(in_shape), out_ch, info["stride"])
            if config not in ids:  # identical blocks in other slots are measured once
                ids[config] = f"block{len(ids)}"
                models[ids[config]] = (Slot(label, tuple(info["candidates"]), in_shape[1], out_ch,
                                            info["stride"], info.get("in_width"),
                                            info.get("out_width")).build(op), list(in_shape))
            entries[key] = ids[config]
    blocks = {}
    for name in ids.values():
        macs, params = count_macs(*models[name])
        blocks[name] = {"macs": macs, "params": params}
    rng = random.Random(seed)
    calibration = [{"id": f"calibration{i}", "choices": random_choices(slots, rng)}
                   for i in range(calib_archs)]
    held = [{"id": f"holdout{i}", "choices": random_choices(slots, rng)} for i in range(holdout)]
    # the swaps are timed against this network, so it must be the model measure() re-times
    first = {label: info["candidates"][0] for label, info in slots.items()}  # the reference
    swaps = [{"id": f"swap{i}", "slot": label, "op": op} for i, (label, op) in enumerate(
        (label, op) for label, info in op_slots(slots).items()
        for op in info["candidates"][1:])] if context else []
    shape = input_shape_of(space, space_kwargs)
    for model in calibration + held:
        models[model["id"]] = (subnet(space, space_kwargs, model["choices"]), shape)
    for swap in swaps:
        models[swap["id"]] = (subnet(space, space_kwargs, {**first, swap["slot"]: swap["op"]}),
                              shape)
    return {"entries": entries, "blocks": blocks, "calibration": calibration, "holdout": held,
            "swaps": swaps}, models


def assemble(space: str, space_kwargs: dict, needed: dict, values: dict, header: dict,
             linear: bool = True) -> dict:
    """The LUT from the measured ``values`` (id -> ms or MMAC) of the models ``needed`` lists
    (:func:`plan`): the entries (moved into context when it has swaps; the reference network's
    time is ``header["reference"]["ms"]``), and the fixed part fitted on the calibration models.
    ``header``: how it was measured (backend, version, threads, unit, statistic, ...)."""
    slots = trace_slots(space, space_kwargs)
    entries = {key: {"value": values[name], **needed["blocks"][name]}
               for key, name in needed["entries"].items()}
    table = LatencyTable({}, entries, {"value": 0.0}, slots)
    if needed["swaps"]:
        first = {label: info["candidates"][0] for label, info in slots.items()}
        swapped = {(s["slot"], s["op"]): values[s["id"]] - header["reference"]["ms"]
                   for s in needed["swaps"]}
        table = LatencyTable({}, in_context(table, first, swapped), {"value": 0.0}, slots)
    calibration = [{"choices": c["choices"], "measured": values[c["id"]],
                    "sum_entries": table.sum_entries(c["choices"])} for c in needed["calibration"]]
    metadata = {
        "space": space, "space_kwargs": full_kwargs(space, space_kwargs),
        "fingerprint": fingerprint(space, space_kwargs, slots),
        "input_shape": input_shape_of(space, space_kwargs), "batch": 1, "dtype": "float32",
        **header,
        "entries": "in context (see lib/latency/build.py: in_context)" if needed["swaps"] else
        "blocks alone",
        "date": dt.datetime.now().astimezone().isoformat(timespec="seconds"),
    }
    return {"format": FORMAT, "metadata": metadata, "slots": slots, "entries": table.entries,
            "fixed": {**fit_fixed(calibration, linear), "calibration": calibration}}


def build_lut(space: str, space_kwargs: dict | None = None, backend: str = "ort",
              threads: int = 1, timing: Timing = Timing(), calib_archs: int = 10,
              seed: int = 0, progress: bool = True, linear: bool = True,
              context: bool = False) -> dict:
    """Measure every candidate of every slot and a few seeded whole deployed models in one
    drift-proof timing run (:func:`measure`), then calibrate the fixed part on the whole
    models (:func:`fit_fixed`), so per-model overheads the blocks do not see are part of the
    prediction. ``context``: also time the reference model with each slot's other candidates
    swapped in, and move each entry by what its candidate costs inside that network beyond
    what it costs alone (:func:`in_context`)."""
    if backend not in BACKENDS:
        raise ValueError(f"backend must be one of {BACKENDS}, got {backend!r}")
    space_kwargs = dict(space_kwargs or {})
    flops = backend == "flops"
    needed, models = plan(space, space_kwargs, calib_archs, seed, context and not flops)
    values, reference = measure(backend, models, space, space_kwargs, threads, timing, progress)
    header = {"backend": backend, "backend_version": backend_version(backend),
              "threads": threads, "unit": "MMAC" if flops else "ms",
              "statistic": "exact" if flops else timing.describe(),
              **({} if flops else {"timing": asdict(timing), "reference": reference}),
              "host_cpu": host_cpu()}
    return assemble(space, space_kwargs, needed, values, header, linear and not flops)


def in_context(table: LatencyTable, reference: dict, swapped: dict) -> dict:
    """Entries moved into context. ``swapped[(slot, op)]`` is the measured cost of putting
    ``op`` into ``slot`` of the ``reference`` network: whole-model time with the swap minus
    without. The blocks alone predict that difference as ``alone = table(ref with swap) -
    table(ref)``; every entry of ``(slot, op)`` (over its whole width grid) moves by
    ``swapped - alone``: cache traffic, fusion and layout effects the isolated block does not
    see. The reference's own candidates do not move: a per-slot constant is the same for
    every architecture, so the fixed part, fitted afterwards on whole models, absorbs it. The
    correction is measured at the reference's widths and applied at every width (a width's
    own context effect stays as measured alone)."""
    base = table.sum_entries(reference)
    shift = {key: cost - (table.sum_entries({**reference, key[0]: key[1]}) - base)
             for key, cost in swapped.items()}
    entries = {key: {**entry, "alone": entry["value"],
                     "value": entry["value"] + shift.get(tuple(key.split("/")[:2]), 0.0)}
               for key, entry in table.entries.items()}
    # a block cannot cost less than nothing: a negative entry means the swap's measured
    # difference was below what the timing resolves; the table stays additive, but say so
    negative = sorted((e["value"], key) for key, e in entries.items() if e["value"] < 0)
    if negative:
        log.warning("%d in-context entries are negative (lowest %s: %.4f): their swaps' "
                    "differences are within the timing noise; build with a tighter --precision "
                    "or without --context", len(negative), negative[0][1], negative[0][0])
    return entries


def without_context(table: LatencyTable) -> LatencyTable | None:
    """The same table with its entries as timed alone and the fixed part fitted again on
    the same calibration models (None for a table built without context): what the context
    correction is compared against."""
    if not all("alone" in entry for entry in table.entries.values()):
        return None
    entries = {key: {**entry, "value": entry["alone"]} for key, entry in table.entries.items()}
    bare = LatencyTable(table.metadata, entries, {"value": 0.0}, table.slots)
    calibration = [{**c, "sum_entries": bare.sum_entries(c["choices"])}
                   for c in table.fixed["calibration"]]
    return LatencyTable(table.metadata, entries,
                        {**fit_fixed(calibration), "calibration": calibration}, table.slots)


def fit_fixed(calibration: list[dict], linear: bool = True) -> dict:
    """The fixed part from whole-model measurements: ``measured ≈ scale x sum + value`` by
    least squares (per-block timing misses effects that grow with the model, such as
    per-layer overhead and cache traffic, so the sum is rescaled too), or an offset only
    (``scale`` 1: the median of measured - sum) when the fit is not asked for or not
    determined (fewer than 3 models, or a scale outside [0.5, 2])."""
    sums = [c["sum_entries"] for c in calibration]
    measured = [c["measured"] for c in calibration]
    # the median, not the mean: one calibration model caught
    # in a slow session does not move every prediction
    offset = {"value": statistics.median(m - s for m, s in zip(measured, sums)), "scale": 1.0,
              "method": "median(whole - sum of entries)"}
    if not linear or len(calibration) < 3 or statistics.pvariance(sums) == 0:
        return offset
    scale, value = statistics.linear_regression(sums, measured)
    # outside [0.5, 2] the fit follows a few models' noise rather than a per-size effect
    # (fitted so far: PFLD 0.98 on onnxruntime, 1.00 on MNN; mbv2 1.73; docs/RESULTS.md)
    if not 0.5 <= scale <= 2.0:
        log.warning("calibration fit scale %.2f is implausible; using an offset only", scale)
        return offset
    return {"value": value, "scale": scale,
            "method": f"least squares: whole = scale x sum of entries + value, "
                      f"{len(calibration)} models"}
