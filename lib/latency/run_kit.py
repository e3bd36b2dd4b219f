#!/usr/bin/env python3
"""Time a facenas measurement kit on this device and write results.json beside this file.

    python3 run_kit.py                    # the kit's first backend (mnn when it has .mnn files)
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
import json
import os
import platform
import sys
from dataclasses import asdict
from pathlib import Path

HERE = Path(__file__).resolve().parent
sys.path.insert(0, str(HERE))

import numpy as np  # noqa: E402

from relative import Timing, time_relative  # noqa: E402
from runtimes import MNNRunner, ort_session  # noqa: E402

MNN_PRECISION = {"fp32": "normal", "fp16": "low"}


def cpu_model() -> str:
    try:
        info = Path("/proc/cpuinfo").read_text().splitlines()
    except OSError:
        info = []
    for key in ("model name", "Hardware", "Processor"):  # x86, then ARM's spellings
        for line in info:
            if line.split(":")[0].strip() == key:
                return line.split(":", 1)[1].strip()
    return platform.processor() or platform.machine()


def device() -> dict:
    cores = sorted(os.sched_getaffinity(0)) if hasattr(os, "sched_getaffinity") else []
    governors = {}
    for core in cores:
        path = Path(f"/sys/devices/system/cpu/cpu{core}/cpufreq/scaling_governor")
        try:
            governors[core] = path.read_text().strip()
        except OSError:
            pass
    return {"cpu": cpu_model(), "machine": platform.machine(), "cores": os.cpu_count(),
            "ran_on": cores, "governors": governors, "python": platform.python_version()}


def parse_cores(text: str) -> set[int]:
    cores = set()
    for part in text.split(","):
        low, _, high = part.partition("-")
        cores.update(range(int(low), int(high or low) + 1))
    return cores


def factory(backend: str, model: dict, threads: int, precision: str):
    """Fresh sessions of one kit model, after checking the file is the one exported."""
    kind = "mnn" if backend == "mnn" else "onnx"
    path = HERE / kind / f"{model['id']}.{kind}"
    data = path.read_bytes()
    if hashlib.sha256(data).hexdigest() != model[f"{kind}_sha256"]:
        raise SystemExit(f"{path}: changed since the kit was exported (sha256)")
    x = np.random.default_rng(0).random(model["input_shape"], dtype=np.float32)
    if backend == "mnn":
        def fresh():
            runner = MNNRunner(path, threads, MNN_PRECISION[precision])
            runner(x)
            return runner.run_session
        return fresh

    def fresh():
        session = ort_session(data, threads)
        feed = {session.get_inputs()[0].name: x}
        return lambda: session.run(None, feed)
    return fresh


def runtime_version(backend: str) -> str:
    from importlib.metadata import version

    return f"MNN {version('MNN')}" if backend == "mnn" else \
        f"onnxruntime {version('onnxruntime')}"


def main(argv=None) -> int:
    manifest = json.loads((HERE / "manifest.json").read_text())
    timing = manifest["timing"]
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--backend", choices=manifest["backends"],
                        default=manifest["backends"][-1])
    parser.add_argument("--threads", type=int, default=manifest["threads"])
    parser.add_argument("--cores", help="pin to these cores, e.g. 4-7 or 0,2")
    for name in ("warmup", "runs", "sessions", "max_rounds"):
        parser.add_argument(f"--{name}", type=int, default=timing[name])
    parser.add_argument("--precision", type=float, default=timing["precision"],
                        help="rounds until each median ratio's 95 %% interval is within ± this")
    parser.add_argument("--out", type=Path, default=HERE / "results.json")
    args = parser.parse_args(argv)
    if args.cores:
        os.sched_setaffinity(0, parse_cores(args.cores))
    timing = Timing(**{**timing, **{name: getattr(args, name) for name in
                                    ("warmup", "runs", "sessions", "max_rounds", "precision")}})
    fresh = {m["id"]: factory(args.backend, m, args.threads, manifest["precision"])
             for m in manifest["models"]}
    reference = fresh.pop("reference")
    print(f"timing {len(fresh)} models on {args.backend}, {args.threads} thread(s): "
          f"{timing.describe()}", flush=True)
    times, ref = time_relative(fresh, reference, timing, progress=True)
    rounds = [len(t.ratios) for t in times.values()]
    results = {
        "kit": manifest["kit"], "fingerprint": manifest["fingerprint"],
        "backend": args.backend, "backend_version": runtime_version(args.backend),
        "threads": args.threads, "precision": manifest["precision"],
        "statistic": timing.describe(), "timing": asdict(timing), "device": device(),
        "reference": {"ms": ref["ms"], "range": [min(ref["values"]), max(ref["values"])],
                      "rounds": [min(rounds), max(rounds)]},
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
