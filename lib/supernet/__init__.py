"""MixedOp, Gumbel sampling, derive, subnet and weight inheritance."""
from .mixed_op import MixedOp, SupernetChooser
from .subnet import build_subnet, inherit_weights, inheritance_map, inherited_subnet
from .supernet import GUMBEL_MODES, Supernet, temperature

__all__ = ["GUMBEL_MODES", "MixedOp", "Supernet", "SupernetChooser", "build_subnet",
           "inherit_weights", "inheritance_map", "inherited_subnet", "temperature"]
