"""Datasets, the embedded synthetic faces, landmark layouts."""
from .datasets import (DATASETS, dataset_layout, default_data_root, landmark_splits,
                       landmark_test)
from .formats import DataError
from .landmark_list import LandmarkListDataset, read_list
from .layouts import LAYOUTS, Layout, get_layout
from .synthetic import ensure_synthetic

__all__ = ["DATASETS", "DataError", "dataset_layout", "LAYOUTS", "LandmarkListDataset", "Layout",
           "default_data_root", "ensure_synthetic", "get_layout", "landmark_splits",
           "landmark_test", "read_list"]
