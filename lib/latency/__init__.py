"""Measuring, LUT build/load/query and the cost term of the search loss."""
from .build import build_lut, host_cpu, measure, subnet
from .cost import COST_MODES, TARGET_BAND, TARGET_LOW, CostLoss
from .counting import count_macs
from .lut_file import (LUTMismatchError, check_lut, default_lut_path, find_lut, load_lut,
                       same_table, save_lut)
from .measure import BACKENDS, export_onnx_bytes, time_module, time_ort, time_torch
from .ranking import kendall_tau
from .relative import Timing, time_relative
from .resolve import resolve_lut
from .slots import random_choices, trace_slots
from .table import LatencyTable

__all__ = ["BACKENDS", "COST_MODES", "CostLoss", "LUTMismatchError", "LatencyTable",
           "TARGET_BAND", "TARGET_LOW", "Timing", "build_lut", "check_lut", "count_macs",
           "default_lut_path", "export_onnx_bytes", "find_lut", "host_cpu", "kendall_tau",
           "load_lut", "measure", "random_choices", "resolve_lut", "same_table", "save_lut",
           "subnet", "time_module", "time_ort", "time_relative", "time_torch", "trace_slots"]
