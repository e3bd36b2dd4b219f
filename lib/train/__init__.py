"""Search and retrain loops, losses, metrics, checkpoints, configuration."""
from .checkpoint import CheckpointError, load_checkpoint, save_checkpoint
from .config import parse_config
from .distributed import Interrupted, WorkerFailed, launch_or_run
from .losses import angle_loss, pfld_loss
from .metrics import nme
from .models import subnet_from_checkpoint, supernet_from_checkpoint
from .retrain import RetrainResult, run_retrain
from .retrain_config import RetrainConfig
from .search import SearchResult, run_search
from .search_config import SearchConfig

__all__ = ["CheckpointError", "Interrupted", "RetrainConfig", "RetrainResult", "SearchConfig",
           "SearchResult", "WorkerFailed", "angle_loss", "launch_or_run", "load_checkpoint", "nme",
           "parse_config", "pfld_loss", "run_retrain", "run_search", "save_checkpoint",
           "subnet_from_checkpoint", "supernet_from_checkpoint"]
