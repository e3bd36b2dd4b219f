"""Block catalogue and op-string grammar (no dependencies inside lib)."""
from .blocks import CATALOGUE, build_op
from .grammar import OpSpec, format_op, parse_op
from .layers import ESE, ConvBNAct
from .stem import PeleeStem

__all__ = ["CATALOGUE", "ESE", "ConvBNAct", "OpSpec", "PeleeStem", "build_op", "format_op",
           "parse_op"]
