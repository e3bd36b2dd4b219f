#!/usr/bin/env python
"""The GPU paths proven on a machine with CUDA, in about 8 minutes (docs/GPU.md).

    python bench/gpu_check.py [--device 0] [--epochs 4] [--batch 64]

1. Small searches on ``--dev_id <device>``: float32 (``--deterministic``, the reference), then
   ``--amp bf16 --channels_last``, then ``--amp fp16`` (weights and θ float32, the loss
   scaler's state checkpointed).
2. SIGKILL mid-search and ``--auto_resume``: the θ of the uninterrupted reference, bit for bit.
3. Retrain from the GPU checkpoint on the GPU; then export, evaluate and sample from it in a
   process that sees no GPU (``CUDA_VISIBLE_DEVICES=``).
4. Images/s at ``--throughput_batch`` of the search step and the retrain step in float32, bf16
   and bf16 + channels-last, and of the input pipeline with ``--workers`` loader workers.
5. With two or more GPUs: ``--dev_id 0,1`` at half the batch against one GPU at the whole.

On a machine without CUDA it says so and exits 0 without running anything. Writes
output/bench/gpu_check.json; prints a table last; exits 1 when a check failed.
"""
import argparse
import itertools
import os
import signal
import subprocess
import sys
import time
import traceback

import _common
import torch

from input_pipeline import rate, search_step
from lib.config import RetrainConfig, SearchConfig
from lib.data import ensure_synthetic
from lib.train import load_checkpoint
from lib.train.batches import Batches, to_device
from lib.train.distributed import distributed
from lib.train.loop import _Silent
from lib.train.retrain import Retrainer
from lib.train.search import Searcher

OUT = _common.ROOT / "output" / "gpu_check"
DATA = _common.ROOT / "data" / "gpu_check"  # its own small set: generated in seconds
PRECISIONS = {"float32": {}, "bf16": {"amp": "bf16"},
              "bf16 + channels-last": {"amp": "bf16", "channels_last": True}}


def parse_args():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--device", default="0", help="the CUDA device id of the checks")
    parser.add_argument("--epochs", type=int, default=4, help="epochs of each small search")
    parser.add_argument("--batch", type=int, default=64, help="batch of the small searches")
    parser.add_argument("--faces", type=int, default=2048, help="training faces generated")
    parser.add_argument("--throughput_batch", type=int, default=256)
    parser.add_argument("--steps", type=int, default=20, help="timed steps per throughput")
    parser.add_argument("--workers", type=int, nargs="+", default=[0, 4, 8])
    return parser.parse_args()


class Checks:
    """Each check's outcome, time and one line of detail; a check that raises fails."""

    def __init__(self):
        self.rows = []

    def run(self, name: str, check, *args):
        start = time.perf_counter()
        try:
            ok, detail = check(*args)
        except Exception as exc:  # a check's failure is its result, the next check still runs
            ok, detail = False, f"{type(exc).__name__}: {exc}"
            traceback.print_exc()
        self.rows.append({"check": name, "ok": bool(ok), "seconds": round(
            time.perf_counter() - start, 1), "detail": detail})
        print(f"{'ok  ' if ok else 'FAIL'} {name}: {detail}", flush=True)
        return ok


def tool(name: str, *args, cpu_only: bool = False, timeout: int = 600):
    """``tools/<name>`` in its own process, as a user runs it; raises with its stderr's end."""
    env = {**os.environ, **({"CUDA_VISIBLE_DEVICES": ""} if cpu_only else {})}
    run = subprocess.run([sys.executable, str(_common.ROOT / "tools" / name), *map(str, args)],
                         capture_output=True, text=True, env=env, timeout=timeout,
                         cwd=_common.ROOT)
    if run.returncode != 0:
        raise RuntimeError(f"{name} exited with {run.returncode}: {run.stderr[-800:]}")
    return run


def search_flags(args, snapshot, *extra, dev_id=None):
    return ["--dev_id", dev_id or args.device, "--data_root", DATA, "--snapshot", snapshot,
            "--epochs", args.epochs, "--warmup", "epochs", "--warmup_epochs", 1,
            "--batch_size", args.batch, "--seed", 0, "--progress", "false", *extra]


def last(snapshot) -> dict:
    return load_checkpoint(snapshot / "supernet" / "checkpoint_last.pth", kind="supernet")


def theta(snapshot) -> dict:
    return {k: v for k, v in last(snapshot)["model"].items() if k.startswith("arch.")}


def max_difference(a: dict, b: dict) -> float:
    return max(float((a[k] - b[k]).abs().max()) for k in a)


def search(args, name: str, *extra):
    """A small search; checks that weights and θ stay float32 and finite and that θ trained."""
    snapshot = OUT / name
    tool("train.py", *search_flags(args, snapshot, *extra))
    ckpt = last(snapshot)
    floats = [v for v in ckpt["model"].values() if v.is_floating_point()]
    ok = all(v.dtype == torch.float32 and torch.isfinite(v).all() for v in floats)
    moved = max(float(v.abs().max()) for v in theta(snapshot).values())
    detail = f"float32 and finite: {ok}, max |θ| {moved:.3f}"
    if "fp16" in extra:
        scale = (ckpt.get("scaler") or {}).get("scale")
        ok, detail = ok and bool(scale), f"{detail}, loss scale {scale}"
    return ok and moved > 0, detail


def resume(args):
    """SIGKILL after a mid-epoch checkpoint of epoch 2, then --auto_resume: the reference's θ."""
    snapshot = OUT / "resume"
    flags = search_flags(args, snapshot, "--deterministic", "--save_every", 3)
    proc = subprocess.Popen([sys.executable, str(_common.ROOT / "tools" / "train.py"),
                             *map(str, flags)], cwd=_common.ROOT, start_new_session=True,
                            stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    path, deadline = snapshot / "supernet" / "checkpoint_last.pth", time.monotonic() + 300
    while proc.poll() is None and time.monotonic() < deadline:
        if path.is_file():  # complete whenever it exists: written by rename
            ckpt = load_checkpoint(path)
            if ckpt["epoch"] >= 1 and ckpt["batch"] > 0:
                break
        time.sleep(0.02)
    if proc.poll() is not None:
        return False, "the search ended before it could be killed (raise --epochs)"
    os.killpg(proc.pid, signal.SIGKILL)
    proc.wait()
    stopped = load_checkpoint(path)
    tool("train.py", *flags, "--auto_resume")
    diff = max_difference(theta(snapshot), theta(OUT / "float32"))
    return diff == 0, (f"killed at epoch {stopped['epoch'] + 1}, batch {stopped['batch']}; "
                       f"max |Δθ| against the uninterrupted run {diff:.2e}")


def cpu_side(args):
    """Retrain on the GPU from its supernet checkpoint, then the CPU-only tools on its files."""
    supernet = OUT / "float32" / "supernet" / "checkpoint_last.pth"
    tool("retrain.py", "--supernet", supernet, "--dev_id", args.device, "--data_root", DATA,
         "--snapshot", OUT / "float32", "--epochs", 2, "--batch_size", args.batch,
         "--progress", "false")
    subnet = OUT / "float32" / "subnet" / "checkpoint_best.pth"
    tool("export.py", "--ckpt", subnet, "--out_dir", OUT / "export", cpu_only=True)
    tool("evaluate.py", "--ckpt", subnet, "--data_root", DATA, "--out",
         OUT / "evaluate.json", cpu_only=True)
    tool("sample.py", "--supernet", supernet, "--num", 2, "--data_root", DATA, "--out",
         OUT / "sample", cpu_only=True)
    return True, "retrain on the GPU; export, evaluate, sample with no GPU visible"


def throughput(args, result: dict):
    """Images/s of each step at the throughput batch, per precision, and of the loader."""
    arch = OUT / "float32" / "supernet" / "arch.json"
    common = dict(dev_id=args.device, data_root=str(DATA), batch_size=args.throughput_batch,
                  progress=False, snapshot=str(OUT / "throughput"))
    steps, loader = {}, {}
    for name, flags in PRECISIONS.items():
        cfg = SearchConfig(**common, **flags, warmup_epochs=0)
        with distributed(cfg) as dist:
            searcher = Searcher(cfg, dist)
            data = searcher.batches.dataset
            held, step = search_step(searcher)
            steps[f"search, {name}"] = rate(itertools.repeat(held), args.steps, step)
            retrainer = Retrainer(RetrainConfig(**common, **flags, arch=str(arch),
                                                from_scratch=True), dist)
            steps[f"retrain, {name}"] = rate(itertools.repeat(held), args.steps,
                                             lambda batch: retrainer.train_batch(batch, _Silent()))
            if name == "float32":  # the loader alone, its batches copied to the GPU
                for workers in args.workers:
                    batches = Batches(data, args.throughput_batch, dist, seed=0, workers=workers)
                    loader[f"loader, {workers} workers"] = rate(
                        (to_device(b, dist.device) for b in batches.forever()), args.steps)
    result["throughput"] = {**steps, **loader}
    step = steps["search, float32"]
    # the slower of the two sets a search's pace
    paced = ", ".join(f"{name.removeprefix('loader, ')}: {'loader' if v < step else 'step'}"
                      for name, v in loader.items())
    return True, f"search step float32 {step:.0f} images/s; the pace is set by: {paced}"


def two_gpus(args):
    """--dev_id 0,1 at half the batch against one GPU at the whole (as test_distributed)."""
    # lr 1e-4: float32 runs that sum in another order drift apart at large lr (tests/)
    extra = ("--lr", "1e-4", "--tlr", "0.1")
    tool("train.py", *search_flags(args, OUT / "one_gpu", *extra, dev_id="0"))
    half = search_flags(args, OUT / "two_gpus", *extra, dev_id="0,1")
    half[half.index("--batch_size") + 1] = args.batch // 2
    tool("train.py", *half)
    diff = max_difference(theta(OUT / "two_gpus"), theta(OUT / "one_gpu"))
    same = last(OUT / "two_gpus")["arch"]["choices"] == last(OUT / "one_gpu")["arch"]["choices"]
    return diff < 5e-3 and same, f"max |Δθ| {diff:.2e}, same architecture: {same}"


def main():
    args = parse_args()
    if not torch.cuda.is_available():
        print("gpu_check: no CUDA device on this machine; nothing was run (run it where "
              "`python -c 'import torch; print(torch.cuda.is_available())'` says True)")
        return 0
    ensure_synthetic(DATA, 112, {"train": args.faces, "val": 256, "test": 256}, seed=0)
    gpu = {"gpu": torch.cuda.get_device_name(int(args.device)),
           "gpus": torch.cuda.device_count(), "cuda": torch.version.cuda}
    checks, result = Checks(), {"machine": {**_common.machine(), **gpu}}
    reference = checks.run("search, float32", search, args, "float32", "--deterministic")
    checks.run("search, bf16 + channels-last", search, args, "bf16", "--amp", "bf16",
               "--channels_last")
    checks.run("search, fp16", search, args, "fp16", "--amp", "fp16")
    if reference:
        checks.run("SIGKILL and --auto_resume", resume, args)
        checks.run("GPU checkpoint on a CPU-only process", cpu_side, args)
        checks.run("throughput", throughput, args, result)
    if torch.cuda.device_count() >= 2:
        checks.run("--dev_id 0,1 against one GPU", two_gpus, args)
    result["checks"] = checks.rows
    path = _common.write_result("gpu_check", result)
    print(f"\nwrote {path}\n\n| check | ok | s | detail |\n|---|---|---|---|")
    for row in checks.rows:
        print(f"| {row['check']} | {'yes' if row['ok'] else 'NO'} | {row['seconds']} | "
              f"{row['detail']} |")
    for name, value in result.get("throughput", {}).items():
        print(f"| {name} | | | {value:.0f} images/s |")
    return 0 if all(row["ok"] for row in checks.rows) else 1


if __name__ == "__main__":
    sys.exit(main())
