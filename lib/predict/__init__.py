"""Running a trained or exported model on a user's images and videos: model loading (subnet
checkpoint, .onnx, .mnn), face crops by the training rule, an optional bundled face detector,
pictures and JSON. ``tools/predict.py`` is its command line."""
from .crops import FaceCrop
from .models import Predictor, load_predictor
from .run import predict_inputs

__all__ = ["FaceCrop", "Predictor", "load_predictor", "predict_inputs"]
