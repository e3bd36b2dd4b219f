"""Search loop, losses, metrics, checkpoints, configuration."""
from .checkpoint import CheckpointError, load_checkpoint, save_checkpoint
from .config import parse_config
from .losses import angle_loss, pfld_loss
from .metrics import nme
from .search import SearchResult, run_search
from .search_config import SearchConfig

__all__ = ["CheckpointError", "SearchConfig", "SearchResult", "angle_loss", "load_checkpoint",
           "nme", "parse_config", "pfld_loss", "run_search", "save_checkpoint"]
