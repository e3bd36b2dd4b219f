"""Every tool's configuration: one dataclass per tool, read one way (defaults < ``--config
FILE.yaml`` < flags; ``core.parse_config``). Option groups shared by several tools (devices and
data, the space instance) are mixins whose validators chain."""
from .core import option, parse_config, save_config, to_dict
from .lut import QUICK_VALUES, BuildLUTConfig
from .retrain import RetrainConfig
from .run import RunOptions, parse_dev_id
from .search import SearchConfig
from .space import SpaceOptions
from .tools import (EvaluateConfig, ExportConfig, PredictConfig, PrepareConfig, ReportConfig,
                    SampleConfig)

__all__ = ["BuildLUTConfig", "EvaluateConfig", "ExportConfig", "PredictConfig", "PrepareConfig",
           "QUICK_VALUES", "ReportConfig", "RetrainConfig", "RunOptions", "SampleConfig", "SearchConfig",
           "SpaceOptions", "option", "parse_config", "parse_dev_id", "save_config", "to_dict"]
