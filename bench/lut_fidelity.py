#!/usr/bin/env python
"""LUT fidelity: LUT-predicted latency against the measured latency of whole exported
subnets, on the LUT's own backend and thread count. Every subnet is timed twice, in two
independent drift-proof passes (ratios to a reference model timed beside it, rounds until
each median is known to --precision: lib/latency/relative.py); the LUT is scored on their
geometric mean, and the second pass scored against the first is the noise floor. Both passes are put
in the LUT's time base (ratios times the reference's time at the build), so the machine's
drift since then is not counted as the LUT's error.

    python bench/lut_fidelity.py --space pfld_fbnet [--backend ort|mnn] [--n 30]
    python bench/lut_fidelity.py --space mbv2_landmark --space_kwargs '{"img_size": 64}'
    python bench/lut_fidelity.py --space pfld_fbnet --arch ckpt_save/supernet/arch.json

The subnets: the cheapest and the dearest by the LUT, every --arch file (e.g. a search's
argmax), and --n random ones (seeded, none of them the LUT's calibration models). Two
predictions are scored: "offset" (sum of entries + the median offset of the calibration
models, the plain model) and "fitted" (the LUT's own: the sum rescaled and offset by a least
squares fit on the calibration models); for a table built in context, also "alone" (its
entries as timed alone, refitted on the same calibration models). Reports MAPE, Kendall's
tau and the fraction within ±10 %, for the LUT and for the noise floor, writes
output/bench/lut_fidelity_<space>_<backend>.json and a scatter plot PNG; the last line
printed is the summary. Goals: MAPE <= 5 %, tau >= 0.9, >= 95 % within ±10 %.
"""
import argparse
import json
from dataclasses import asdict
from pathlib import Path
import random
import statistics

import _common

from lib.config import SpaceOptions
from lib.latency import Timing, find_lut, load_lut, measure, random_choices, subnet
from lib.latency.build import without_context
from lib.latency.slots import input_shape_of
from lib.latency.ranking import prediction_scores as scores
from lib.spaces import load_arch

GOALS = {"mape_pct": 5.0, "kendall_tau": 0.9, "within_10pct": 0.95}


def plot(path, rows, unit: str) -> None:
    with _common.figure(path, size=(5, 5)) as ax:
        _scatter(ax, rows, unit)


def _scatter(ax, rows, unit: str) -> None:
    measured = [r["measured"] for r in rows]
    top = max(max(measured), *(r["fitted"] for r in rows), *(r["offset"] for r in rows)) * 1.05
    ax.plot([0, top], [0, top], "k-", lw=0.8, label="exact")
    ax.fill_between([0, top], [0, 0.9 * top], [0, 1.1 * top], color="0.9", label="±10 %")
    ax.scatter(measured, [r["offset"] for r in rows], s=14, marker="x", label="sum + offset")
    ax.scatter(measured, [r["fitted"] for r in rows], s=14, label="fitted (LUT)")
    ax.set(xlabel=f"measured ({unit})", ylabel=f"predicted ({unit})", xlim=(0, top),
           ylim=(0, top))
    ax.legend(loc="upper left")


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--space", default="pfld_fbnet")
    parser.add_argument("--space_kwargs", type=json.loads, default={},
                        help="JSON mapping over the space's defaults")
    parser.add_argument("--backend", default="ort", choices=("ort", "mnn"))
    parser.add_argument("--lut", help="LUT JSON (default: the one in lut/ that matches the "
                                      "space and backend)")
    parser.add_argument("--n", type=int, default=30, help="random subnets")
    parser.add_argument("--arch", nargs="*", default=[], help="architecture files to add")
    parser.add_argument("--warmup", type=int, default=Timing.warmup, help="untimed runs per burst")
    parser.add_argument("--runs", type=int, default=Timing.runs, help="timed runs per burst")
    parser.add_argument("--sessions", type=int, default=Timing.sessions,
                        help="fresh sessions per round; the fastest burst counts")
    parser.add_argument("--precision", type=float, default=Timing.precision,
                        help="rounds until each median ratio's 95 %% interval is within ± this")
    parser.add_argument("--max_rounds", type=int, default=Timing.max_rounds)
    parser.add_argument("--seed", type=int, default=1)
    parser.add_argument("--out", help="output folder (default output/bench)")
    args = parser.parse_args()
    kwargs = SpaceOptions(space=args.space, space_kwargs=args.space_kwargs).instance_kwargs()
    path = args.lut or find_lut(args.space, kwargs, backend=args.backend)
    table = load_lut(path, args.space, kwargs)
    if table.metadata["backend"] != args.backend:
        raise SystemExit(f"{path}: a {table.metadata['backend']} LUT, not {args.backend}")
    threads = table.metadata["threads"]
    calibration = table.fixed.get("calibration", [])
    offset = statistics.median(c["measured"] - c["sum_entries"] for c in calibration)
    alone = without_context(table)  # the blocks timed alone, for comparison
    archs = {"cheapest": table.corner(dearest=False), "dearest": table.corner(dearest=True)}
    archs.update({f"arch:{p}": load_arch(p)["choices"] for p in args.arch})
    rng = random.Random(args.seed)
    seen = {json.dumps(c["choices"], sort_keys=True) for c in calibration}
    while len(archs) < len(args.arch) + 2 + args.n:
        choices = random_choices(table.slots, rng)
        key = json.dumps(choices, sort_keys=True)
        if key not in seen:
            seen.add(key)
            archs[f"random{len(archs) - len(args.arch) - 2}"] = choices
    # two independent drift-proof passes (fresh sessions, their own reference timings): the
    # LUT is scored on their geometric mean, and pass against pass is the noise floor, the
    # precision below which no table can be judged on this machine
    shape = input_shape_of(args.space, kwargs)
    models = {name: (subnet(args.space, kwargs, choices), shape)
              for name, choices in archs.items()}
    timing = Timing(args.warmup, args.runs, args.sessions, args.precision,
                    max_rounds=args.max_rounds)
    # both passes and the LUT in one time base: each pass's ratios to the reference times the
    # reference's time when the LUT was built (the machine's drift between passes, or since
    # the build, is not the LUT's error); a LUT without a reference keeps each pass's own
    base = table.metadata.get("reference", {}).get("ms")
    passes = []
    for _ in range(2):
        values, reference = measure(args.backend, models, args.space, kwargs, threads, timing,
                                    progress=True)
        passes.append({name: v * (base / reference["ms"] if base else 1.0)
                       for name, v in values.items()})
    rows = []
    for name, choices in archs.items():
        first, second = (p[name] for p in passes)
        measured = (first * second) ** 0.5
        raw = table.sum_entries(choices) / table.scale
        rows.append({"name": name, "measured": measured, "passes": [first, second],
                     "offset": raw + offset, "fitted": table.predict(choices),
                     **({"alone": alone.predict(choices)} if alone else {}),
                     "choices": choices})
        print(f"{name:>12}: measured {measured:.4f} ({first:.4f} / {second:.4f}), offset "
              f"{raw + offset:.4f}, fitted {table.predict(choices):.4f} {table.unit}")
    measured = [r["measured"] for r in rows]
    results = {kind: scores([r[kind] for r in rows], measured)
               for kind in ("offset", "fitted", "alone") if kind in rows[0]}
    noise = scores([r["passes"][1] for r in rows], [r["passes"][0] for r in rows])
    name = f"lut_fidelity_{args.space}_{args.backend}"
    png = (Path(args.out) if args.out else _common.ROOT / "output" / "bench") / f"{name}.png"
    png.parent.mkdir(parents=True, exist_ok=True)
    plot(png, rows, table.unit)
    fitted = results["fitted"]
    met = {k: (fitted[k] <= v if k == "mape_pct" else fitted[k] >= v) for k, v in GOALS.items()}
    out = _common.write_result(name, {
        "bench": "lut_fidelity", "space": args.space, "space_kwargs": kwargs, "lut": str(path),
        "lut_metadata": table.metadata, "fixed": {k: v for k, v in table.fixed.items()
                                                  if k != "calibration"},
        "calibration_models": len(calibration), "backend": args.backend, "threads": threads,
        "subnets": len(rows), "scores": results, "noise_floor": noise,
        "timing": asdict(timing), "time_base": "the LUT's reference" if base else "each pass's",
        "goals": GOALS, "goals_met": met,
        "plot": str(png), "rows": rows, "machine": _common.machine()}, args.out)
    print(f"wrote {out} and {png}")
    before = results["offset"]
    print(f"lut_fidelity {args.space} [{args.backend}, {threads} thread(s)] {len(rows)} subnets:"
          f" MAPE {fitted['mape_pct']:.1f}% (offset-only {before['mape_pct']:.1f}%), tau "
          f"{fitted['kendall_tau']:.3f} ({before['kendall_tau']:.3f}), within ±10% "
          f"{100 * fitted['within_10pct']:.0f}% ({100 * before['within_10pct']:.0f}%); noise "
          f"floor (pass vs pass) MAPE {noise['mape_pct']:.1f}%, tau {noise['kendall_tau']:.3f};"
          + (f" blocks alone: MAPE {results['alone']['mape_pct']:.1f}%, tau "
             f"{results['alone']['kendall_tau']:.3f};" if alone else "") +
          " goals " + ", ".join(f"{k} {'met' if v else 'NOT met'}" for k, v in met.items()))


if __name__ == "__main__":
    main()
