"""The annotation formats people already have: COCO keypoint JSON, WFLW lines, menpo LJSON,
300-VW folders, images of any OpenCV format, and face-parsing sets as shipped. Each is
written small here, prepared, and trained on for one epoch; bad input names file and place."""
import json

import cv2
import numpy as np
import pytest
from PIL import Image

from lib.data import DataError
from lib.data.layouts import LAYOUTS
from lib.data.prepare import prepare
from lib.data.segmentation import celebamask_pairs, segmentation_splits
from lib.spaces import get_space, make_arch, save_arch
from tests.conftest import run_tool

SIZE = 96  # prepared crops: the tiny PFLD space's input


def _face(n: int, seed: int, centre=(60, 60), radius=30) -> np.ndarray:
    """``n`` points spread over a face-sized disc."""
    rng = np.random.default_rng(seed)
    angle, r = rng.uniform(0, 2 * np.pi, n), radius * np.sqrt(rng.uniform(0.05, 1, n))
    return np.stack([centre[0] + r * np.cos(angle), centre[1] + r * np.sin(angle)], 1)


def _image(path, seed: int, size=(120, 120)):
    rng = np.random.default_rng(seed)
    cv2.imwrite(str(path), rng.integers(0, 255, (*size, 3), dtype=np.uint8))


def _train_one_epoch(prepared, num_points, tmp_path):
    arch = tmp_path / "arch.json"
    kwargs = {**get_space("pfld_fbnet").tiny_kwargs, "num_points": num_points, "img_size": SIZE}
    save_arch(make_arch("pfld_fbnet", kwargs, {"stage0_layer0": "dw_k3",
                                               "stage1_layer0": "ir_k3_e2",
                                               "stage1_layer1": "ir_k5_e1_se"}), arch)
    run = run_tool("retrain.py", "--arch", arch, "--from_scratch", "--dev_id", "cpu",
                   "--dataset", "jd106", "--data_root", prepared, "--snapshot", tmp_path / "run",
                   "--epochs", "1", "--batch_size", "2", "--progress", "false", timeout=300)
    assert run.returncode == 0, run.stderr[-3000:]


def _coco(folder, faces=((0, 68), (0, 68), (1, 68), (2, 68)), suffix=".ppm") -> dict:
    """Three images (PPM, as OpenCV reads it), one holding two faces."""
    images, annotations = [], []
    for index in range(3):
        _image(folder / f"img{index}{suffix}", index)
        images.append({"id": 10 + index, "file_name": f"img{index}{suffix}", "width": 120,
                       "height": 120})
    for number, (image, n) in enumerate(faces):
        points = _face(n, number, centre=(40 + 30 * (number % 2), 60), radius=18)
        flat = np.concatenate([points, np.full((n, 1), 2.0)], 1).ravel().tolist()
        low, high = points.min(0), points.max(0)
        annotations.append({"id": number, "image_id": 10 + image, "keypoints": flat,
                            "num_keypoints": n, "bbox": [*low, *(high - low)]})
    return {"images": images, "annotations": annotations, "categories": [{"id": 1}]}


def test_coco_keypoints_one_sample_per_face_layout_by_count(tmp_path):
    raw = tmp_path / "raw"
    raw.mkdir()
    (raw / "train.json").write_text(json.dumps(_coco(raw)))
    out = tmp_path / "coco"
    report = prepare("coco", raw / "train.json", out, img_size=SIZE, split=(0.5, 0.25, 0.25),
                     progress=False)
    assert sum(report.written.values()) == 4  # two faces of one image are two samples
    assert report.layout == "ibug68" and report.euler  # 68 points: the iBUG layout
    boxed = prepare("coco", raw / "train.json", tmp_path / "boxed", img_size=SIZE,
                    split=(0.5, 0.25, 0.25), crop="bbox", progress=False)
    assert json.loads((tmp_path / "boxed" / "meta.json").read_text())["crop"] == "bbox"
    assert sum(boxed.written.values()) == 4
    _train_one_epoch(out, 68, tmp_path)


def test_coco_layout_follows_the_point_count(tmp_path):
    (tmp_path / "a.json").write_text(json.dumps(_coco(tmp_path, ((0, 98), (1, 98), (2, 98)))))
    report = prepare("coco", tmp_path / "a.json", tmp_path / "out", img_size=SIZE,
                     split=(1 / 3, 1 / 3, 1 / 3), progress=False)
    assert report.layout == "wflw98"


def _bad_coco(tmp_path, change):
    data = _coco(tmp_path)
    change(data)
    (tmp_path / "bad.json").write_text(json.dumps(data))
    return tmp_path / "bad.json"


COCO_BAD = {
    "missing key": (lambda d: d["annotations"][1].pop("keypoints"),
                    r"annotations\[1\]: missing key 'keypoints'"),
    "wrong keypoint count": (lambda d: d["annotations"][2]["keypoints"].pop(),
                             r"annotations\[2\]: 'keypoints' must be \[x, y, v\] \* K"),
    "bad visibility": (lambda d: d["annotations"][0]["keypoints"].__setitem__(5, 7),
                       r"annotations\[0\]: keypoint 1 has visibility 7"),
    "unknown image id": (lambda d: d["annotations"][3].__setitem__("image_id", 99),
                         r"annotations\[3\]: image_id 99 is not in 'images'"),
    "missing image": (lambda d: d["images"][2].__setitem__("file_name", "gone.jpg"),
                      r"annotations\[3\]: image not found"),
    "other point count": (lambda d: d["annotations"][3].__setitem__(
        "keypoints", d["annotations"][3]["keypoints"][:-3]), r"annotations\[3\]: 67 points"),
}


@pytest.mark.parametrize("case", sorted(COCO_BAD))
def test_bad_coco_names_the_annotation_and_writes_nothing(case, tmp_path):
    change, message = COCO_BAD[case]
    path = _bad_coco(tmp_path, change)
    out = tmp_path / "out"
    with pytest.raises(DataError, match=r"bad\.json: " + message):
        prepare("coco", path, out, img_size=SIZE, progress=False)
    assert not out.exists()


def _wflw_line(points, image, box=(5, 5, 100, 100)) -> str:
    return " ".join([*(f"{v:.3f}" for v in points.ravel()), *map(str, box), "0 1 0 0 1 0",
                     image])


def test_wflw_lines(tmp_path):
    (tmp_path / "images" / "0--Parade").mkdir(parents=True)
    lines = []
    for index in range(4):
        _image(tmp_path / "images" / "0--Parade" / f"{index}.jpg", index)
        lines.append(_wflw_line(_face(98, index), f"0--Parade/{index}.jpg"))
    (tmp_path / "list_98pt_rect_attr_train.txt").write_text("\n".join(lines) + "\n")
    out = tmp_path / "wflw"
    report = prepare("wflw", tmp_path / "list_98pt_rect_attr_train.txt", out, img_size=SIZE,
                     split=(0.5, 0.25, 0.25), images=tmp_path / "images", crop="bbox",
                     progress=False)
    assert report.layout == "wflw98" and sum(report.written.values()) == 4
    _train_one_epoch(out, 98, tmp_path)
    bad_lines = {
        r"bad\.txt:3: 205 values, expected 207": lines[2].rsplit(" ", 2)[0],  # lost 2 fields
        r"bad\.txt:3: non-numeric value": "x" + lines[2],
        r"bad\.txt:3: image not found": lines[2].replace("2.jpg", "gone.jpg"),
    }
    for message, line in bad_lines.items():
        (tmp_path / "bad.txt").write_text("\n".join([*lines[:2], line, lines[3]]) + "\n")
        with pytest.raises(DataError, match=message):
            prepare("wflw", tmp_path / "bad.txt", tmp_path / "bad", images=tmp_path / "images",
                    progress=False)
        assert not (tmp_path / "bad").exists()


def _ljson(points, groups=None) -> str:
    groups = groups or {"face_ibug_68": points}
    return json.dumps({"version": 3, "groups": {
        name: {"landmarks": {"points": [[y, x] for x, y in p], "connectivity": []},
               "labels": []} for name, p in groups.items()}})


def test_menpo_ljson_takes_the_68_point_group_as_x_y(tmp_path):
    raw = tmp_path / "raw"
    raw.mkdir()
    for index in range(4):
        _image(raw / f"face{index}.png", index)
        points = _face(68, index)
        (raw / f"face{index}.ljson").write_text(_ljson(points, {
            "face_ibug_49": points[:49], "face_ibug_68": points}))
    from lib.data.formats import read_ljson

    first = next(read_ljson(raw))
    assert np.allclose(first.points, _face(68, 0))  # (y, x) in the file, (x, y) here
    out = tmp_path / "ljson"
    report = prepare("ljson", raw, out, img_size=SIZE, split=(0.5, 0.25, 0.25), progress=False)
    assert report.layout == "ibug68" and sum(report.written.values()) == 4
    _train_one_epoch(out, 68, tmp_path)
    nulls = json.loads(_ljson(_face(68, 1)))
    nulls["groups"]["face_ibug_68"]["landmarks"]["points"][5] = [None, None]
    for message, text in {
            r"face1\.ljson: no group of 68 points": _ljson(None, {"g": _face(49, 1)}),
            r"face1\.ljson: not menpo LJSON v3 \(KeyError": json.dumps({"version": 3}),
            r"face1\.ljson: LJSON version 2, expected 3": json.dumps({"version": 2}),
            r"face1\.ljson: group face_ibug_68 has missing": json.dumps(nulls)}.items():
        (raw / "face1.ljson").write_text(text)
        with pytest.raises(DataError, match=message):
            prepare("ljson", raw, tmp_path / "bad", progress=False)
        assert not (tmp_path / "bad").exists()


def test_300vw_folders_and_images_of_any_opencv_format(tmp_path):
    """``<video>/annot/NNNNNN.pts`` beside ``<video>/imgs/NNNNNN.jpg``, and a .ppm beside its
    .pts as in menpo's test assets."""
    for video in ("001", "002"):
        (tmp_path / video / "annot").mkdir(parents=True)
        (tmp_path / video / "imgs").mkdir()
        for frame in (1, 2):
            seed = int(video) * 10 + frame
            _image(tmp_path / video / "imgs" / f"{frame:06d}.jpg", seed)
            (tmp_path / video / "annot" / f"{frame:06d}.pts").write_text(
                "version: 1\nn_points: 68\n{\n" + "\n".join(
                    f"{x:.2f} {y:.2f}" for x, y in _face(68, seed)) + "\n}\n")
    _image(tmp_path / "still.ppm", 7)
    (tmp_path / "still.pts").write_text("\n".join(f"{x} {y}" for x, y in _face(68, 7)))
    out = tmp_path / "vw"
    report = prepare("pts", tmp_path, out, img_size=SIZE, split=(0.6, 0.2, 0.2), progress=False)
    assert sum(report.written.values()) == 5 and not report.skipped
    _train_one_epoch(out, 68, tmp_path)


# Points whose place on a face the datasets' own figures fix, as (subject's right, subject's
# left) pairs and midline points, independent of the flip tables under test: WFLW and LaPa
# jaw ends, outer eye corners, mouth corners, pupils; AFLW-19 brow ends, outer eye corners,
# mouth corners (MMPose's AFLW figure), chin and nose tip on the midline; COFW's eye corners.
ANCHORS = {
    "wflw98": ([(0, 32), (60, 72), (76, 82), (96, 97)], [16, 54]),
    "lapa106": ([(0, 32), (66, 79), (84, 90), (104, 105)], [16]),
    "aflw19": ([(0, 5), (6, 11), (15, 17)], [13, 18]),
    "cofw29": ([(8, 9)], []),  # only the outer eye corners are documented (MMPose's NME)
}


@pytest.mark.parametrize("name", sorted(ANCHORS))
def test_flip_moves_each_point_to_its_mirror_on_a_drawn_face(name):
    """A frontal face drawn with the subject's right on the image's left: a mirror puts each
    anchor where its left/right counterpart was, and the layout's first eye corner is the
    image-left one."""
    from lib.data.augment import hflip

    layout, (pairs, midline) = LAYOUTS[name], ANCHORS[name]
    face = np.random.default_rng(0).uniform(0.3, 0.7, (layout.num_points, 2))
    for depth, (right, left) in enumerate(pairs):
        y = 0.2 + 0.15 * depth
        face[right], face[left] = (0.5 - 0.1 - 0.05 * depth, y), (0.5 + 0.1 + 0.05 * depth, y)
    for depth, index in enumerate(midline):
        face[index] = (0.5, 0.6 + 0.1 * depth)
    _, flipped, _ = hflip(np.zeros((4, 4, 3), np.uint8), face, np.zeros(3), layout)
    for right, left in pairs:
        assert np.allclose(flipped[right], face[right]) and np.allclose(flipped[left],
                                                                        face[left])
    assert np.allclose(flipped[midline], face[midline])
    right_eye, left_eye = layout.eye_corners
    assert face[right_eye][0] < 0.5 < face[left_eye][0]


def test_new_layouts_flip_pairs_and_eye_corners():
    for name in ("wflw98", "lapa106", "cofw29", "aflw19"):
        layout = LAYOUTS[name]
        flipped = np.arange(layout.num_points)
        for a, b in layout.flip_pairs:
            flipped[a], flipped[b] = b, a
        assert (flipped[flipped] == np.arange(layout.num_points)).all(), name  # involution
        right, left = layout.eye_corners
        assert flipped[right] == left, name  # the two outer eye corners mirror each other
        assert all(set(r) <= set(range(layout.num_points)) for r in layout.regions.values())


def _parsing(folder, names, image_size=64, mask_size=32, suffix=".jpg", label=3):
    for index, name in enumerate(names):
        _image(folder / f"{name}{suffix}", index, (image_size, image_size))
        mask = np.zeros((mask_size, mask_size), np.uint8)
        mask[: mask_size // 2] = label
        Image.fromarray(mask, mode="L").save(folder / f"{name}.png")


def _train_segmentation_one_epoch(root):
    from lib.latency.slots import trace_slots

    kwargs = {**get_space("hourglass_seg").tiny_kwargs, "img_size": 32, "num_classes": 19}
    first = {label: info["candidates"][0] for label, info in
             trace_slots("hourglass_seg", kwargs).items()}
    save_arch(make_arch("hourglass_seg", kwargs, first), root / "arch.json")
    run = run_tool("retrain.py", "--arch", root / "arch.json", "--from_scratch", "--dev_id",
                   "cpu", "--dataset", "celebamask", "--data_root", root, "--snapshot",
                   root / "run", "--epochs", "1", "--batch_size", "2", "--progress", "false",
                   timeout=300)
    assert run.returncode == 0, run.stderr[-3000:]


def test_parsing_flat_folder_and_masks_of_another_size(tmp_path, caplog):
    _parsing(tmp_path, [str(i) for i in range(6)])  # CelebAMask-HQ: 512 masks, 1024 images
    pairs = celebamask_pairs(tmp_path)
    assert [p[0].name for p in pairs][:2] == ["0.jpg", "1.jpg"]
    with caplog.at_level("INFO", logger="lib.data.segmentation"):
        splits = segmentation_splits("celebamask", tmp_path, 32, 19, seed=0)
    assert "masks resized to their image's size" in caplog.text
    image, mask = splits["train"][0]
    assert mask.shape == (32, 32) and set(mask.unique().tolist()) == {0, 3}
    _train_segmentation_one_epoch(tmp_path)
    other = tmp_path / "wide"
    other.mkdir()
    _parsing(other, ["a", "b", "c"])
    Image.fromarray(np.zeros((32, 48), np.uint8), mode="L").save(other / "b.png")
    with pytest.raises(DataError, match=r"b\.png: mask is 48x32, image 64x64: the aspect"):
        segmentation_splits("celebamask", other, 32, 19, seed=0)["test"]()
