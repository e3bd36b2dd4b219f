"""Search spaces and the one registry. Importing this package registers every space."""
from . import hourglass_seg, mbv2_landmark, pfld_fbnet  # noqa: F401  (registers)
from .arch import describe_space, load_arch, make_arch, save_arch, validate_arch
from .choosers import Chooser, FirstChooser, FixedChooser, Slot
from .registry import (DeployView, create_space, deployed_output, deployed_params, full_kwargs,
                       get_space, jsonable, list_spaces, register_space, short_kwargs,
                       space_defaults, split_outputs)

__all__ = ["Chooser", "DeployView", "FirstChooser", "FixedChooser", "Slot", "create_space",
           "deployed_output", "deployed_params", "describe_space", "full_kwargs", "get_space",
           "jsonable", "list_spaces", "load_arch", "make_arch", "register_space", "save_arch",
           "short_kwargs", "space_defaults", "split_outputs", "validate_arch"]
