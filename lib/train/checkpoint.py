"""One checkpoint format, written atomically: space, arch, weights, optimizers, schedule,
epoch, temperature, RNG state and config."""
from __future__ import annotations

import random
from pathlib import Path

import numpy as np
import torch

from ..atomic import atomic_open

# load_checkpoint refuses other versions: a file of another layout
# fails naming its path, not with a KeyError deep inside a resume
FORMAT = 1


class CheckpointError(ValueError):
    pass


def rng_state() -> dict:
    # the three CPU generators: a resumed run continues each stream where the checkpoint
    # left it (CUDA's generator is not saved: on a GPU the resumed stream differs)
    return {"python": random.getstate(), "numpy": np.random.get_state(),
            "torch": torch.get_rng_state()}


def set_rng_state(state: dict) -> None:
    random.setstate(state["python"])
    np.random.set_state(state["numpy"])
    torch.set_rng_state(state["torch"])


def save_checkpoint(path, **fields) -> None:
    payload = {"format": FORMAT, "rng": rng_state(), **fields}
    # temp file + rename: a run killed while saving keeps
    # its previous checkpoint, never a truncated one
    with atomic_open(path, "wb") as handle:
        torch.save(payload, handle)


def load_checkpoint(path, kind: str | None = None) -> dict:
    path = Path(path)
    if not path.is_file():
        raise CheckpointError(f"{path}: checkpoint not found")
    try:
        # CPU first, so a GPU checkpoint loads anywhere; weights_only=False because RNG
        # states and configs are not plain tensors (load only checkpoints you trust)
        payload = torch.load(path, map_location="cpu", weights_only=False)
    except Exception as exc:  # truncated or not a torch file: name it, don't dump a traceback
        raise CheckpointError(f"{path}: unreadable checkpoint ({type(exc).__name__}: {exc})") \
            from None
    if not isinstance(payload, dict) or payload.get("format") != FORMAT:
        raise CheckpointError(f"{path}: not a checkpoint of this project (format "
                              f"{payload.get('format') if isinstance(payload, dict) else None})")
    if kind is not None and payload.get("kind") != kind:
        raise CheckpointError(f"{path}: a {payload.get('kind')!r} checkpoint, expected {kind!r}")
    return payload
