"""Shared bench plumbing: import path, machine description, JSON output."""
import datetime as dt
import json
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
if str(ROOT) not in sys.path:
    sys.path.insert(0, str(ROOT))

from lib.atomic import atomic_write_text  # noqa: E402
from lib.latency import host_cpu  # noqa: E402


def machine() -> dict:
    import torch

    return {"cpu": host_cpu(), "torch_threads": torch.get_num_threads(),
            "torch": torch.__version__,
            "date": dt.datetime.now().astimezone().isoformat(timespec="seconds")}


def write_result(name: str, result: dict, folder=None) -> Path:
    path = Path(folder or ROOT / "output" / "bench") / f"{name}.json"
    atomic_write_text(path, json.dumps(result, indent=1) + "\n")
    return path
