"""Pictures of predictions: landmarks, pose axes and parsing masks drawn on faces, and contact
sheets of captioned tiles. Images are BGR uint8 (OpenCV's order), points in pixel centres."""
from .draw import (GROUND_TRUTH, PREDICTION, class_palette, draw_landmarks, draw_legend,
                   draw_pose_axes, overlay_mask)
from .sheet import caption, contact_sheet, fit_tile

__all__ = ["GROUND_TRUTH", "PREDICTION", "caption", "class_palette", "contact_sheet",
           "draw_landmarks", "draw_legend", "draw_pose_axes", "fit_tile", "overlay_mask"]
