"""Devices from ``--dev_id`` and seeding."""
from __future__ import annotations

import random

import numpy as np
import torch

from ..config.run import parse_dev_id


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
    # Python's, numpy's and torch's generators (torch.manual_seed seeds the CUDA devices too)
    random.seed(seed)
    np.random.seed(seed)
    torch.manual_seed(seed)
