"""ONNX export, simplification, onnxruntime and MNN parity."""
from .deploy import MNN_TOLERANCE, ORT_TOLERANCE, export_and_verify
from ..latency.mnn import MNNRunner, convert_onnx_to_mnn, mnn_available
from .onnx_export import ParityError, export_onnx, run_onnx

__all__ = ["MNNRunner", "MNN_TOLERANCE", "ORT_TOLERANCE", "ParityError", "convert_onnx_to_mnn",
           "export_and_verify", "export_onnx", "mnn_available", "run_onnx"]
