"""Measuring, LUT build/load/query and the cost term of the search loss."""
from .cost import COST_MODES, TARGET_BAND, CostLoss
from .counting import count_macs
from .lut import (LatencyTable, LUTMismatchError, build_lut, check_lut, default_lut_path,
                  load_lut, save_lut, trace_slots)
from .measure import BACKENDS, export_onnx_bytes, time_module, time_ort, time_torch
from .ranking import kendall_tau

__all__ = ["BACKENDS", "COST_MODES", "CostLoss", "LUTMismatchError", "LatencyTable",
           "TARGET_BAND", "build_lut", "check_lut", "count_macs", "default_lut_path",
           "export_onnx_bytes", "kendall_tau", "load_lut", "save_lut", "time_module", "time_ort",
           "time_torch", "trace_slots"]
