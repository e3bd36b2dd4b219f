"""Search and retrain loops, losses, metrics, checkpoints (their configuration: lib.config)."""
from .checkpoint import CheckpointError, load_checkpoint, save_checkpoint
from .distributed import Interrupted, WorkerFailed, launch_or_run
from .losses import angle_loss, pfld_loss
from .metrics import nme
from .models import subnet_from_checkpoint, supernet_from_checkpoint
from .results import RetrainResult, SearchResult
from .retrain import run_retrain
from .search import run_search

__all__ = ["CheckpointError", "Interrupted", "RetrainResult", "SearchResult", "WorkerFailed",
           "angle_loss", "launch_or_run", "load_checkpoint", "nme", "pfld_loss", "run_retrain",
           "run_search", "save_checkpoint", "subnet_from_checkpoint", "supernet_from_checkpoint"]
