"""evaluate --show: a contact sheet of the K worst and K best faces of a split, prediction
and ground truth drawn in two colours, each face's error under it. Landmarks are ranked by
box NME, masks by their pixel error (1 - pixel accuracy over the labelled pixels)."""
from __future__ import annotations

import cv2
import numpy as np
import torch
from torch.utils.data import DataLoader

from ..data.segmentation import SCHEMES
from ..spaces import deployed_output
from ..visual import (GROUND_TRUTH, PREDICTION, caption, class_palette, contact_sheet,
                      draw_landmarks, overlay_mask)
from .metrics import nme

TILE = 224  # px: a 112 px crop at twice its size, its 106 points apart


def _pixels(image: torch.Tensor) -> np.ndarray:
    """A dataset item's float BGR [3, S, S] in [0, 1] as uint8 HWC, enlarged to TILE."""
    crop = (image.permute(1, 2, 0).numpy() * 255).round().clip(0, 255).astype(np.uint8)
    return cv2.resize(crop, (TILE, TILE), interpolation=cv2.INTER_LINEAR)


def _landmark_tile(image, pred, target, error, index):
    size = image.shape[-1]
    zoom = TILE / size
    tile = _pixels(image)
    # crop units (edges 0 and 1) -> pixel centres of the enlarged tile
    for points, colour in ((target, GROUND_TRUTH), (pred, PREDICTION)):
        draw_landmarks(tile, points.reshape(-1, 2).numpy() * size * zoom - 0.5, colour,
                       radius=1.5)
    return caption(tile, f"#{index}  NME {error:.4f}")


def _mask_tile(image, labels, truth, error, index, palette):
    base = _pixels(image)

    def overlay(mask):
        big = cv2.resize(mask.numpy().astype(np.uint8), (TILE, TILE),
                         interpolation=cv2.INTER_NEAREST)
        return overlay_mask(base, big, palette, alpha=0.6)

    pair = np.concatenate([overlay(labels), np.full((TILE, 2, 3), 255, np.uint8),
                           overlay(truth)], axis=1)
    return caption(pair, f"#{index}  pixel error {error:.3f}  (left: model, right: truth)")


@torch.no_grad()
def show_sheet(predict, data, task, k: int, path, title: str) -> str:
    """Write the sheet of ``data``'s ``k`` worst and ``k`` best samples to ``path``."""
    landmark = hasattr(task, "num_points")
    images, preds, targets = [], [], []
    for batch in DataLoader(data, 32):
        out = deployed_output(predict(batch[0])).cpu()
        images.append(batch[0])
        preds.append(out if landmark else out.argmax(dim=1))
        targets.append(batch[1])
    images, preds, targets = torch.cat(images), torch.cat(preds), torch.cat(targets)
    if landmark:
        errors = nme(preds, targets)["box"]
        what = "box NME: cyan model, magenta truth"
    else:
        labelled = targets != task.ignore_index
        errors = 1 - ((preds == targets) & labelled).sum((1, 2)) / labelled.sum((1, 2)).clamp_min(1)
        what = "pixel error: model and truth overlays"
        names = SCHEMES.get(task.dataset)
        palette = class_palette(task.num_classes if names is None else names.num_classes)
    order = torch.argsort(errors, descending=True).tolist()
    k = min(k, max(1, len(order) // 2))
    chosen = order[:k] + order[::-1][:k]  # the worst first, then the best (best first)
    tiles = [_landmark_tile(images[i], preds[i], targets[i], float(errors[i]), i) if landmark
             else _mask_tile(images[i], preds[i], targets[i], float(errors[i]), i, palette)
             for i in chosen]
    sheet = contact_sheet(tiles, k, f"{title}: top row the {k} worst, bottom row the {k} best "
                                    f"by {what}")
    cv2.imwrite(str(path), sheet)
    return str(path)
