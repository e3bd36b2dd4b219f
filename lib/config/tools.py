"""Configuration of the tools that read what a run wrote: export, evaluate, sample, report,
and of ``prepare_data``. A checkpoint a tool reads is ``--supernet`` when it is a search's and
``--ckpt`` when it is a trained subnet's; ``--resume`` continues a run (train, retrain), and
export and evaluate also answer to it (NNI's and the reference's export command uses it)."""
from __future__ import annotations

from dataclasses import dataclass

from ..data import DATASETS
from ..data.formats import FORMATS
from .core import chain_validate, option

CROPS = ("landmarks", "bbox")
TASKS = ("landmark", "segmentation")


def fractions(value) -> tuple[float, ...]:
    """``0.8,0.1,0.1`` (a flag) or ``[0.8, 0.1, 0.1]`` (YAML); prepare checks the sum."""
    parts = value.split(",") if isinstance(value, str) else value
    return tuple(float(part) for part in parts)


def parse_box(text) -> tuple[float, float, float, float]:
    """``x,y,w,h`` (image pixels: top-left corner and size) from a flag or a YAML list."""
    parts = text.split(",") if isinstance(text, str) else list(text)
    try:
        x, y, w, h = (float(part) for part in parts)
    except ValueError:
        raise ValueError(f"--box must be x,y,w,h (four numbers), got {text!r}") from None
    if w <= 0 or h <= 0:
        raise ValueError(f"--box width and height must be positive, got {text!r}")
    return x, y, w, h


def _require(config, *names: str) -> None:
    missing = [f"--{name}" for name in names if not getattr(config, name)]
    if missing:
        raise ValueError(f"{' and '.join(missing)} required")


def _positive(config, *names: str) -> None:
    for name in names:
        if getattr(config, name) is not None and getattr(config, name) < 1:
            raise ValueError(f"--{name} must be positive")


@dataclass
class ModelOptions:
    """What the tools that run a trained model share (export, evaluate)."""
    ckpt: str | None = option(None, "subnet checkpoint (a supernet checkpoint: its argmax subnet "
                                    "with inherited weights; evaluate also takes an .onnx "
                                    "file)", aliases=("resume",))
    threads: int = option(1, "runtime threads (parity runs, ONNX scoring, the latency figure)")

    def validate(self) -> None:
        _require(self, "ckpt")
        _positive(self, "threads")
        chain_validate(super())


@dataclass
class ExportConfig(ModelOptions):
    supernet: str | None = option(None, "accepted for NNI compatibility; the subnet checkpoint "
                                        "already holds its architecture")
    mnn: bool | None = option(None, "also convert and check MNN (default: when MNN is "
                                    "installed)")
    out_dir: str = option("output", "writes subnet.onnx, subnet.mnn, export.json here")


@dataclass
class EvaluateConfig(ModelOptions):
    dataset: str = option("synthetic", "dataset (as in training)", choices=DATASETS)
    data_root: str | None = option(None, "dataset folder (default: data/<dataset>)")
    split: str = option("test", "split to score", choices=("test", "val"))
    out: str = option("output/evaluate.json", "report JSON")
    show: int = option(0, "also draw the K worst and K best faces (prediction and truth)")
    sheet: str = option("output/evaluate_show.png", "where --show writes its contact sheet")

    def validate(self) -> None:
        if self.show < 0:
            raise ValueError("--show must be >= 0")
        chain_validate(super())


@dataclass
class PredictConfig(ModelOptions):
    """``--ckpt`` also takes an exported .onnx or .mnn file."""
    input: list[str] = option([], "images, folders of images, or videos")
    out: str = option("output/predict", "folder of the pictures and JSON files")
    box: tuple | None = option(None, "face box x,y,w,h in image pixels (the same for every "
                                     "image); default: the face detector", type=parse_box)
    whole: bool = option(False, "each image is already a face crop: predict on all of it")
    task: str | None = option(None, "refuse a model of another task", choices=TASKS)
    dataset: str | None = option(None, "what the model was trained on (crop margin, layout, "
                                       "class names); default: the checkpoint's, else "
                                       "synthetic", choices=DATASETS)
    data_root: str | None = option(None, "that dataset's folder (its meta.json margin)")
    margin: float | None = option(None, "crop side / landmark box (default: the training "
                                        "data's)")
    layout: str | None = option(None, "landmark layout for the pose (default: the dataset's)")
    refine: int = option(0, "passes that re-crop around the predicted points (for models "
                            "accurate on these faces: one that is off drifts)")
    every: int = option(1, "in a video, predict every Nth frame")
    numbers: bool = option(False, "draw each landmark's index")
    sheet: str | None = option(None, "also write all pictures as one contact sheet here")

    def validate(self) -> None:
        _require(self, "input")
        _positive(self, "every")
        if self.box and self.whole:
            raise ValueError("--box and --whole exclude each other")
        if self.refine < 0 or (self.margin is not None and self.margin <= 0):
            raise ValueError("--refine must be >= 0 and --margin positive")
        chain_validate(super())


@dataclass
class SampleConfig:
    supernet: str | None = option(None, "search checkpoint")
    num: int = option(8, "subnets to sample (deduplicated)")
    seed: int = option(0, "sampling seed")
    calib_batches: int = option(8, "training batches that re-estimate BatchNorm per subnet")
    data_root: str | None = option(None, "override the search's data root")
    limit_val: int | None = option(None, "score on the first N validation samples only")
    out: str = option("output", "writes pareto.csv, pareto.png, arch_<id>.json here")

    def validate(self) -> None:
        _require(self, "supernet")
        _positive(self, "num", "limit_val")
        if self.calib_batches < 0:
            raise ValueError("--calib_batches must be >= 0")


@dataclass
class PrepareConfig:
    dataset: str | None = option(None, "raw format", choices=tuple(sorted(FORMATS)))
    data_root: str | None = option(None, "raw folder (or annotation / pixel-list file)")
    out: str | None = option(None, "output folder, e.g. data/NAME")
    images: str | None = option(None, "folder the image paths are relative to (coco, wflw; "
                                      "default: the annotation file's folder)")
    crop: str = option("landmarks", "crop around the landmarks or the annotated face box "
                                     "(coco, wflw)", choices=CROPS)
    img_size: int = option(112, "crop size (128 for mbv2)")
    margin: float = option(1.2, "crop side / landmark box")
    split: tuple = option((0.8, 0.1, 0.1), "train,val,test fractions", type=fractions)
    seed: int = option(0, "seed of the split and the augmented copies")
    num_points: int | None = option(None, "points per face (needed for --dataset pixels)")
    layout: str | None = option(None, "landmark layout (flip pairs, eye corners, pose "
                                      "points); default: the format's")
    augment_copies: int = option(0, "extra augmented copies of each training face "
                                    "(PFLD-style: rotation up to 30°, scale, shift, colour, "
                                    "flip)")
    skip_bad: bool = option(False, "log and skip bad samples instead of stopping")

    def validate(self) -> None:
        _require(self, "dataset", "data_root", "out")
        _positive(self, "img_size", "num_points")
        if self.margin <= 0 or self.augment_copies < 0:
            raise ValueError("--margin must be positive and --augment_copies >= 0")


@dataclass
class ReportConfig:
    eval: list[str] = option([], "evaluate.py JSON files, the first one the searched model")
    export: str | None = option(None, "export.json of the first model (adds MNN, sizes)")
    pareto: str | None = option(None, "pareto.csv (adds the argmax's predicted latency)")

    def validate(self) -> None:
        _require(self, "eval")
