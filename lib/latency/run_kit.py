#!/usr/bin/env python3
"""Time a facenas measurement kit on this device and write results.json beside this file.

    python3 run_kit.py                    # MNN where it is installed, else onnxruntime
    python3 run_kit.py --backend ort      # onnxruntime
    python3 run_kit.py --cores 4-7        # pin to these cores (a phone's big cluster)

Needs numpy and MNN or onnxruntime only (both have aarch64 wheels), with relative.py and
runtimes.py of the kit beside it. Every model is timed in alternation with the kit's
reference model and kept as its ratio to it, the median over rounds, until the 95 % interval
of each median is within the manifest's precision (the method of tools/build_lut.py), so a
device that heats up or throttles during the run does not reorder the models. Import the
results where the project is: tools/build_lut.py --kit DIR --import DIR/results.json
"""
from __future__ import annotations

import argparse
import hashlib
import importlib.util
import json
import os
import platform
import sys
from dataclasses import asdict
from pathlib import Path

HERE = Path(__file__).resolve().parent
# a kit is a flat folder: relative.py and runtimes.py
# import as top-level modules, from any working directory
sys.path.insert(0, str(HERE))

from relative import Timing, reference_summary, time_relative  # noqa: E402
from runtimes import host_cpu, mnn_sessions, ort_sessions  # noqa: E402

MNN_PRECISION = {"float32": "normal"}  # MNN's CPU backend runs fp32 unless asked for "low"


def device() -> dict:
    cores = sorted(os.sched_getaffinity(0)) if hasattr(os, "sched_getaffinity") else []
    # recorded, not changed: powersave pins a low clock, ondemand and schedutil move it during
    # the run; either can explain a slow or noisy table
    governors = {}
    for core in cores:
        path = Path(f"/sys/devices/system/cpu/cpu{core}/cpufreq/scaling_governor")
        try:
            governors[core] = path.read_text().strip()
        except OSError:
            pass
    return {"cpu": host_cpu(), "machine": platform.machine(), "cores": os.cpu_count(),
            "ran_on": cores, "governors": governors, "python": platform.python_version()}


def parse_cores(text: str) -> set[int]:
    cores = set()
    for part in text.split(","):
        low, _, high = part.partition("-")
        cores.update(range(int(low), int(high or low) + 1))
    return cores


def factory(backend: str, model: dict, threads: int, dtype: str):
    """Fresh sessions of one kit model, after checking the file is the one exported."""
    kind = "mnn" if backend == "mnn" else "onnx"
    path = HERE / kind / f"{model['id']}.{kind}"
    data = path.read_bytes()
    if hashlib.sha256(data).hexdigest() != model[f"{kind}_sha256"]:
        raise SystemExit(f"{path}: changed since the kit was exported (sha256)")
    if backend == "mnn":
        return mnn_sessions(path, model["input_shape"], threads, MNN_PRECISION[dtype])
    return ort_sessions(data, model["input_shape"], threads)


def available(backend: str) -> bool:
    return importlib.util.find_spec("MNN" if backend == "mnn" else "onnxruntime") is not None


def runtime_version(backend: str) -> str:
    from importlib.metadata import version

    return f"MNN {version('MNN')}" if backend == "mnn" else \
        f"onnxruntime {version('onnxruntime')}"


def main(argv=None) -> int:
    manifest = json.loads((HERE / "manifest.json").read_text())
    timing = manifest["timing"]
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    # MNN first: it is the engine the phone deploys with
    runtimes = [b for b in ("mnn", "ort") if b in manifest["backends"] and available(b)]
    parser.add_argument("--backend", choices=manifest["backends"],
                        default=runtimes[0] if runtimes else None,
                        help="default: MNN where it is installed, else onnxruntime")
    parser.add_argument("--threads", type=int, default=manifest["threads"])
    parser.add_argument("--cores", help="pin to these cores, e.g. 4-7 or 0,2")
    for name in ("warmup", "runs", "sessions", "max_rounds"):
        parser.add_argument(f"--{name}", type=int, default=timing[name])
    parser.add_argument("--precision", type=float, default=timing["precision"],
                        help="rounds until each median ratio's 95 %% interval is within ± this")
    parser.add_argument("--out", type=Path, default=HERE / "results.json")
    args = parser.parse_args(argv)
    if args.backend is None or not available(args.backend):
        parser.error(f"no runtime for {args.backend or 'this kit'}: pip install MNN (or "
                     f"onnxruntime) and numpy")
    if args.cores:
        # big.LITTLE phones: models timed partly on little cores would mix two speeds in one table
        os.sched_setaffinity(0, parse_cores(args.cores))
    timing = Timing(**{**timing, **{name: getattr(args, name) for name in
                                    ("warmup", "runs", "sessions", "max_rounds", "precision")}})
    fresh = {m["id"]: factory(args.backend, m, args.threads, manifest["dtype"])
             for m in manifest["models"]}
    here, version = device(), runtime_version(args.backend)  # before, not after, the long run
    reference = fresh.pop("reference")
    print(f"timing {len(fresh)} models on {args.backend}, {args.threads} thread(s): "
          f"{timing.describe()}", flush=True)
    times, ref = time_relative(fresh, reference, timing, progress=True)
    results = {
        "kit": manifest["kit"], "fingerprint": manifest["fingerprint"],
        "backend": args.backend, "backend_version": version,
        "threads": args.threads, "dtype": manifest["dtype"],
        "statistic": timing.describe(), "timing": asdict(timing), "device": here,
        "reference": reference_summary(times, ref),
        "models": {"reference": {"ms": ref["ms"], "rounds": len(ref["values"])},
                   **{name: {"ms": t.ms, "ci95": list(t.ci95), "rounds": len(t.ratios)}
                      for name, t in times.items()}}}
    tmp = args.out.with_name(f".{args.out.name}.tmp")
    tmp.write_text(json.dumps(results, indent=1) + "\n")
    os.replace(tmp, args.out)  # never a half-written results file
    print(f"wrote {args.out}: {len(results['models'])} models, reference {ref['ms']:.4f} ms")
    return 0


if __name__ == "__main__":
    sys.exit(main())
