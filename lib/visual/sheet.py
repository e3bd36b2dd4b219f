"""Contact sheets: tiles of one size with a caption strip under each, in a grid."""
from __future__ import annotations

import cv2
import numpy as np

from .draw import FONT


def caption(tile: np.ndarray, lines, height: int = 14) -> np.ndarray:
    """The tile with a white strip under it holding ``lines`` (one text line each)."""
    lines = [lines] if isinstance(lines, str) else list(lines)
    strip = np.full((height * len(lines) + 4, tile.shape[1], 3), 255, np.uint8)
    scale = min(0.4, 0.4 * tile.shape[1] / 112)
    for i, text in enumerate(lines):
        cv2.putText(strip, text, (3, height * (i + 1)), FONT, scale, (0, 0, 0), 1, cv2.LINE_AA)
    return np.concatenate([tile, strip])


def contact_sheet(tiles, columns: int, title: str | None = None, gap: int = 4) -> np.ndarray:
    """Tiles (same size, e.g. captioned crops) in rows of ``columns``, on white."""
    tiles = list(tiles)
    if not tiles:
        raise ValueError("a contact sheet needs at least one tile")
    h, w = tiles[0].shape[:2]
    rows = -(-len(tiles) // columns)
    top = 22 if title else 0
    sheet = np.full((top + rows * (h + gap) + gap, columns * (w + gap) + gap, 3), 255, np.uint8)
    if title:
        cv2.putText(sheet, title, (gap, 16), FONT, 0.5, (0, 0, 0), 1, cv2.LINE_AA)
    for i, tile in enumerate(tiles):
        y, x = top + gap + (i // columns) * (h + gap), gap + (i % columns) * (w + gap)
        sheet[y:y + h, x:x + w] = tile
    return sheet


def fit_tile(image: np.ndarray, height: int, width: int | None = None) -> np.ndarray:
    """``image`` scaled to ``height`` (aspect kept), on white ``width`` wide (default:
    ``4/3 x height``, wide enough for a face with its legend)."""
    width = width or height * 4 // 3
    scale = min(height / image.shape[0], width / image.shape[1])
    size = (max(1, round(image.shape[1] * scale)), max(1, round(image.shape[0] * scale)))
    scaled = cv2.resize(image, size, interpolation=cv2.INTER_AREA if scale < 1 else
                        cv2.INTER_LINEAR)
    tile = np.full((height, width, 3), 255, np.uint8)
    tile[:size[1], :size[0]] = scaled
    return tile
