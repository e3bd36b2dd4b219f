"""``--dev_id`` parsing and seeding."""
from __future__ import annotations

import random

import numpy as np
import torch


def parse_dev_id(dev_id: str) -> list[str]:
    """``cpu`` | ``auto`` | ``0`` | ``0,1`` -> torch device strings."""
    text = str(dev_id).strip().lower()
    if text == "cpu":
        return ["cpu"]
    if text == "auto":
        return ["cuda:0" if torch.cuda.is_available() else "cpu"]
    try:
        ids = [int(part) for part in text.split(",")]
    except ValueError:
        raise ValueError(f"--dev_id must be 'cpu', 'auto' or GPU ids like '0,1', got {dev_id!r}") \
            from None
    if len(set(ids)) != len(ids) or min(ids) < 0:
        raise ValueError(f"--dev_id {dev_id!r}: ids must be distinct and non-negative")
    return [f"cuda:{i}" for i in ids]


def resolve_device(dev_id: str) -> torch.device:
    devices = parse_dev_id(dev_id)
    if len(devices) > 1:
        raise ValueError(f"--dev_id {dev_id}: multi-device training is not available yet; "
                         "pass one device")
    device = torch.device(devices[0])
    if device.type == "cuda" and (not torch.cuda.is_available()
                                  or device.index >= torch.cuda.device_count()):
        raise ValueError(f"--dev_id {dev_id}: no such CUDA device on this machine; "
                         "use --dev_id cpu")
    return device


def seed_everything(seed: int) -> None:
    random.seed(seed)
    np.random.seed(seed)
    torch.manual_seed(seed)
