"""predict's loop: every input image or video frame -> faces (a box, the whole image, or
the detector's) -> the model -> a picture and a JSON per image (per video: an annotated
video and one JSON of its frames), and a summary with the time per face."""
from __future__ import annotations

import json
import logging
from pathlib import Path

import cv2
import numpy as np

from ..atomic import atomic_write_text
from ..data import DataError
from ..visual import contact_sheet, fit_tile
from .crops import box_corners
from .detect import FaceDetector, landmark_box
from .faces import predict_face
from .inputs import is_video, list_inputs, read_frames, read_image, video_fps
from .models import load_predictor, model_layout, training_crop
from .picture import class_names, draw_faces, mask_picture

log = logging.getLogger(__name__)
SHEET_TILE = 240  # px: a 112 px crop's points stay apart, four tiles fit a screen's width


class FacePipeline:
    """Faces of one image: where they are (box, whole image, detector) and what the model
    says of each."""

    def __init__(self, cfg):
        self.predictor = p = load_predictor(cfg.ckpt, cfg.threads)
        if cfg.task and p.task != cfg.task:
            what = f" ({p.info['space']})" if p.info.get("space") else ""
            raise ValueError(f"{p.path}: a {p.task} model{what}, not a {cfg.task} one "
                             f"(--task {cfg.task})")
        self.dataset = cfg.dataset or p.info.get("dataset") or "synthetic"
        self.data_root = cfg.data_root or p.info.get("data_root")
        margin, source = training_crop(self.dataset, self.data_root)
        self.margin = cfg.margin or margin
        log.info("%s: %s model, %d px crops, margin %.3g (%s)", p.path, p.task, p.img_size,
                 self.margin, "--margin" if cfg.margin else source)
        self.layout = model_layout(p, self.dataset, self.data_root, cfg.layout) \
            if p.task == "landmark" else None
        self.names = None if p.task == "landmark" else class_names(self.dataset,
                                                                   p.kwargs["num_classes"])
        self.cfg = cfg
        self.detector = None if cfg.box or cfg.whole else FaceDetector()

    def faces(self, image):
        cfg, h, w = self.cfg, *image.shape[:2]
        if cfg.whole:  # already a crop like the training ones: the whole of it, as it is
            low, high = box_corners((0, 0, w, h))
            return [predict_face(self.predictor, image, (0, 0, w, h), low, high, 1.0,
                                 layout=self.layout)]
        if cfg.box:
            return [predict_face(self.predictor, image, cfg.box, *box_corners(cfg.box),
                                 self.margin, cfg.refine, self.layout)]
        faces = []
        for box, score in self.detector(image):
            face = predict_face(self.predictor, image, box, *landmark_box(box), self.margin,
                                cfg.refine, self.layout)
            face.score = score
            faces.append(face)
        return faces

    def picture(self, image, faces):
        """``(picture, label map or None)``."""
        if self.names is None:
            return draw_faces(image, faces, self.cfg.numbers), None
        return mask_picture(image, faces, self.names)


def _record(path, image, faces, model) -> dict:
    return {"image": str(path), "size": [image.shape[1], image.shape[0]], "model": model,
            "faces": [face.to_json() for face in faces]}


def predict_inputs(cfg) -> dict:
    pipeline = FacePipeline(cfg)
    model = {**pipeline.predictor.describe(), "margin": pipeline.margin,
             "layout": getattr(pipeline.layout, "name", None)}
    out = Path(cfg.out)
    out.mkdir(parents=True, exist_ok=True)
    summary = {"pictures": [], "faces": 0, "no_face": [], "unreadable": [], "ms": []}
    sheet_tiles = []
    paths = [p for given in cfg.input for p in list_inputs(given)]
    used = set()
    for path in paths:
        stem = path.stem if path.stem not in used else path.name.replace(".", "_")
        used.add(stem)
        try:
            if is_video(path):
                _video(pipeline, path, out / stem, cfg.every, model, summary)
                continue
            image = read_image(path)
        except DataError as exc:
            log.error("%s", exc)
            summary["unreadable"].append(str(exc))
            continue
        faces = pipeline.faces(image)
        picture, labels = pipeline.picture(image, faces)
        _account(summary, path, faces)
        cv2.imwrite(str(out / f"{stem}.png"), picture)
        if labels is not None:
            cv2.imwrite(str(out / f"{stem}_mask.png"), labels)
        atomic_write_text(out / f"{stem}.json",
                          json.dumps(_record(path, image, faces, model), indent=1) + "\n")
        summary["pictures"].append(str(out / f"{stem}.png"))
        sheet_tiles.append(picture)
    if cfg.sheet and sheet_tiles:
        # as wide as the widest picture's aspect needs (a legend makes a mask's wider)
        width = max(round(SHEET_TILE * t.shape[1] / t.shape[0]) for t in sheet_tiles)
        tiles = [fit_tile(t, SHEET_TILE, width) for t in sheet_tiles]
        title = f"{Path(cfg.ckpt).name}: {len(tiles)} images"
        cv2.imwrite(str(cfg.sheet), contact_sheet(tiles, min(4, len(tiles)), title))
        summary["sheet"] = str(cfg.sheet)
    ms = summary.pop("ms")
    summary["ms_per_face"] = float(np.median(ms)) if ms else None
    return summary


def _account(summary, where, faces) -> None:
    summary["faces"] += len(faces)
    summary["ms"] += [face.ms for face in faces]
    if not faces:  # said and skipped: the other inputs still run
        log.warning("%s: no face found", where)
        summary["no_face"].append(str(where))


def _video(pipeline, path, stem: Path, every: int, model, summary) -> None:
    frames, writer = [], None
    try:
        for index, frame in read_frames(path, every):
            faces = pipeline.faces(frame)
            picture, _ = pipeline.picture(frame, faces)
            _account(summary, f"{path} frame {index}", faces)
            if writer is None:
                # frames kept at the source rate divided by the step: the video plays as long
                writer = cv2.VideoWriter(str(stem.with_suffix(".mp4")),
                                         cv2.VideoWriter_fourcc(*"mp4v"),
                                         max(1.0, video_fps(path) / every),
                                         (picture.shape[1], picture.shape[0]))
            writer.write(picture)
            frames.append({"frame": index, **_record(path, frame, faces, None)})
    finally:
        if writer is not None:
            writer.release()
    atomic_write_text(stem.with_suffix(".json"), json.dumps(
        {"video": str(path), "every": every, "model": model, "frames": frames}, indent=1) + "\n")
    summary["pictures"].append(str(stem.with_suffix(".mp4")))
