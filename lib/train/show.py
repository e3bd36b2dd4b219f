"""Pictures of a model on its data: evaluate --show's contact sheet of the K worst and K best
faces of a split, and a few fixed validation faces in TensorBoard each epoch; prediction and
ground truth drawn in two colours, each face's error under it. Landmarks are ranked by
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


class _Drawer:
    """Predictions -> (labels or points, per-face errors) and captioned tiles, for a task."""

    def __init__(self, task):
        self.task, self.landmark = task, hasattr(task, "num_points")
        if not self.landmark:
            scheme = SCHEMES.get(task.dataset)
            self.palette = class_palette(task.num_classes if scheme is None
                                         else scheme.num_classes)

    def score(self, out: torch.Tensor, targets: torch.Tensor):
        if self.landmark:
            return out, nme(out, targets)["box"]
        labels = out.argmax(dim=1)
        labelled = targets != self.task.ignore_index
        right = ((labels == targets) & labelled).sum((1, 2))
        return labels, 1 - right / labelled.sum((1, 2)).clamp_min(1)

    def tile(self, image, pred, target, error: float, index: int) -> np.ndarray:
        if self.landmark:
            return _landmark_tile(image, pred, target, error, index)
        return _mask_tile(image, pred, target, error, index, self.palette)

    @property
    def legend(self) -> str:
        return "box NME: cyan model, magenta truth" if self.landmark else \
            "pixel error: model and truth overlays"


@torch.no_grad()
def show_sheet(predict, data, task, k: int, path, title: str) -> str:
    """Write the sheet of ``data``'s ``k`` worst and ``k`` best samples to ``path``."""
    drawer = _Drawer(task)
    images, preds, targets, errors = [], [], [], []
    for batch in DataLoader(data, 32):
        pred, error = drawer.score(deployed_output(predict(batch[0])).float().cpu(), batch[1])
        images.append(batch[0])
        preds.append(pred)
        targets.append(batch[1])
        errors.append(error)
    images, preds, targets = torch.cat(images), torch.cat(preds), torch.cat(targets)
    errors = torch.cat(errors)
    order = torch.argsort(errors, descending=True).tolist()
    k = min(k, max(1, len(order) // 2))
    chosen = order[:k] + order[::-1][:k]  # the worst first, then the best (best first)
    tiles = [drawer.tile(images[i], preds[i], targets[i], float(errors[i]), i) for i in chosen]
    sheet = contact_sheet(tiles, k, f"{title}: top row the {k} worst, bottom row the {k} best "
                                    f"by {drawer.legend}")
    cv2.imwrite(str(path), sheet)
    return str(path)


@torch.no_grad()
def log_faces(writer, model, loader, task, device, step: int, count: int = 4,
              tag: str = "val/faces") -> None:
    """The first ``count`` faces of ``loader`` (a validation loader, in order: the same faces
    every epoch, so the pictures show the model learning them) with prediction and truth
    drawn, as one TensorBoard image."""
    batch = next(iter(loader), None)
    if batch is None:
        return
    images, targets = batch[0][:count].cpu(), batch[1][:count].cpu()
    was_training = model.training
    model.eval()
    out = deployed_output(model(images.to(device))).float().cpu()
    model.train(was_training)
    drawer = _Drawer(task)
    preds, errors = drawer.score(out, targets)
    tiles = [drawer.tile(images[i], preds[i], targets[i], float(errors[i]), i)
             for i in range(len(images))]
    sheet = contact_sheet(tiles, len(tiles))
    writer.add_image(tag, np.ascontiguousarray(sheet[..., ::-1]), step, dataformats="HWC")
