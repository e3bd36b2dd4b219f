"""What a search and a retrain return to their caller (the tools print them; the benches
read them)."""
from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path


@dataclass
class SearchResult:
    arch: dict
    predicted: float
    unit: str
    metric: str
    best: float
    out_dir: Path
    theta: dict  # the final architecture logits, per slot


@dataclass
class RetrainResult:
    arch: dict
    metric: str
    best: float
    out_dir: Path
    history: list  # per epoch: {"epoch", "train_loss" (mean over its batches), "val": metrics}
