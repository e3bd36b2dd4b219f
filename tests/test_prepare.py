"""Raw formats, layouts, solvePnP, preparation and its bad-input handling."""
import json

import cv2
import numpy as np
import pytest

from lib.data import DataError, LandmarkListDataset
from lib.data.augment import hflip
from lib.data.formats import read_datatang, read_facesynthetics, read_pixel_list, read_pts
from lib.data.headpose import estimate_euler
from lib.data.layouts import LAYOUTS, get_layout
from lib.data.prepare import prepare
from lib.data.render import render_face
from tests.conftest import ROOT

SHARED = ROOT.parent / "shared" / "data"
needs_shared = pytest.mark.skipif(not SHARED.is_dir(), reason="../shared/data is absent")


@needs_shared
def test_real_datatang_json_and_pixel_list_agree():
    samples = list(read_datatang(SHARED / "datatang106"))
    assert len(samples) == 400 and all(s.points.shape == (106, 2) for s in samples)
    assert all(s.image.is_file() for s in samples)
    assert sum((~s.visible).sum() for s in samples) > 0  # visibility flags are read
    listed = {s.image.name: s.points
              for s in read_pixel_list(SHARED / "datatang106" / "list_pixels.txt", 106)}
    for s in samples[:20]:
        assert np.allclose(listed[s.image.name], s.points, atol=1e-3)


@needs_shared
def test_real_pts_and_facesynthetics():
    helen = list(read_pts(SHARED / "helen68"))
    assert len(helen) == 100 and all(s.points.shape == (68, 2) and s.image.is_file()
                                     for s in helen)
    fs = list(read_facesynthetics(SHARED / "facesynthetics_100"))
    assert len(fs) == 80 and all(s.points.shape == (70, 2) and s.image.is_file() for s in fs)


@needs_shared
@pytest.mark.parametrize("fmt, folder, n", [("datatang", "datatang106", 106),
                                             ("pts", "helen68", 68),
                                             ("facesynthetics", "facesynthetics_100", 70)])
def test_prepare_real_data_is_loadable(fmt, folder, n, tmp_path):
    report = prepare(fmt, SHARED / folder, tmp_path / "out", progress=False)
    assert sum(report.written.values()) > 0 and not report.skipped
    train = LandmarkListDataset(tmp_path / "out" / "train_data" / "list.txt", n, 112)
    image, landmarks, euler = train[0]
    assert image.shape == (3, 112, 112)
    pts = landmarks.reshape(-1, 2)
    assert (pts > -0.2).all() and (pts < 1.2).all()  # face inside the crop, margin 1.2
    meta = json.loads((tmp_path / "out" / "meta.json").read_text())
    assert meta["written"] == report.written


def test_headerless_pts(tmp_path):
    cv2.imwrite(str(tmp_path / "a.png"), np.zeros((50, 50, 3), np.uint8))
    (tmp_path / "a.pts").write_text("\n".join(f"{i} {i + 1}" for i in range(68)) + "\n")
    (sample,) = read_pts(tmp_path)
    assert sample.points.shape == (68, 2) and sample.image.name == "a.png"


def test_solvepnp_recovers_synthetic_pose():
    errors = []
    for seed in range(30):
        _, landmarks, pose, _ = render_face(np.random.default_rng(seed), 112)
        errors.append(np.abs(estimate_euler(landmarks * 112 - 0.5, LAYOUTS["synthetic"], 112)
                             - pose))
    assert (np.mean(errors, axis=0) < 6).all()  # a few degrees: identity varies the shape


@pytest.mark.parametrize("name", ["synthetic", "ibug68", "facesynthetics70"])
def test_flip_twice_is_identity(name):
    layout = LAYOUTS[name]
    rng = np.random.default_rng(0)
    image = rng.integers(0, 255, (16, 16, 3), dtype=np.uint8)
    landmarks, euler = rng.random((layout.num_points, 2)), np.array([5.0, 20.0, -10.0])
    once = hflip(image, landmarks, euler, layout)
    assert not np.allclose(once[1], landmarks)
    back = hflip(*once, layout)
    assert np.array_equal(back[0], image) and np.allclose(back[1], landmarks)
    assert np.allclose(back[2], euler)


def test_flip_pairs_are_involutions():
    for layout in LAYOUTS.values():
        seen = [i for pair in layout.flip_pairs for i in pair]
        assert len(seen) == len(set(seen)), layout.name
        assert all(0 <= i < layout.num_points for i in seen)
    assert get_layout("jd106", 106).eye_corners == (35, 93)
    with pytest.raises(ValueError, match="no flip pairs"):
        hflip(np.zeros((4, 4, 3)), np.zeros((106, 2)), np.zeros(3), get_layout("mine", 106))


def _pixel_fixture(tmp_path, lines_for):
    """A pixel-list dataset of 4 good 64x64 images plus whatever ``lines_for`` adds."""
    raw = tmp_path / "raw"
    raw.mkdir()
    pts = " ".join(f"{10 + 40 * (i % 2)} {10 + 40 * (i // 2)}" for i in range(4))
    lines = []
    for i in range(4):
        cv2.imwrite(str(raw / f"{i}.png"), np.full((64, 64, 3), 40 * i, np.uint8))
        lines.append(f"{i}.png {pts}")
    lines += lines_for(raw, pts)
    (raw / "list.txt").write_text("\n".join(lines) + "\n")
    return raw


def _truncated(raw, pts):
    cv2.imwrite(str(raw / "t.jpg"), np.full((64, 64, 3), 128, np.uint8))
    data = (raw / "t.jpg").read_bytes()
    (raw / "t.jpg").write_bytes(data[: len(data) // 2])
    return [f"t.jpg {pts}"]


def _unreadable(raw, pts):
    (raw / "u.png").write_bytes(b"garbage")
    return [f"u.png {pts}"]


def _fresh(raw, coordinates):
    cv2.imwrite(str(raw / "f.png"), np.zeros((64, 64, 3), np.uint8))
    return [f"f.png {coordinates}"]


BAD_CASES = {
    "truncated image": (_truncated, "list.txt:5: truncated image"),
    "unreadable image": (_unreadable, "list.txt:5: cannot decode image"),
    "wrong point count": (lambda raw, pts: [f"0.png {pts} 1 2"], "list.txt:5: 11 values"),
    "NaN": (lambda raw, pts: _fresh(raw, f"nan {pts.split(' ', 1)[1]}"), "list.txt:5: NaN"),
    "absurd coordinates": (lambda raw, pts: _fresh(raw, f"9999 {pts.split(' ', 1)[1]}"),
                           "list.txt:5: coordinates far outside"),
    "missing file": (lambda raw, pts: [f"gone.png {pts}"], "list.txt:5: image not found"),
    "duplicate": (lambda raw, pts: [f"3.png {pts}"], "list.txt:5: duplicate entry"),
}


@pytest.mark.parametrize("case", sorted(BAD_CASES))
def test_bad_input_stops_or_is_skipped(case, tmp_path):
    make, message = BAD_CASES[case]
    raw = _pixel_fixture(tmp_path, make)
    out = tmp_path / "prepared"
    with pytest.raises(DataError, match=message):
        prepare("pixels", raw, out, img_size=32, num_points=4, progress=False)
    assert not out.exists() and [p.name for p in tmp_path.iterdir()] == ["raw"]
    report = prepare("pixels", raw, out, img_size=32, num_points=4, skip_bad=True,
                     progress=False)
    assert len(report.skipped) == 1 and message.split(": ", 1)[1] in report.skipped[0]
    assert sum(report.written.values()) == 4


def test_augmentation_keeps_labels_consistent_with_geometry():
    from lib.data.augment import LandmarkAugment

    layout = LAYOUTS["synthetic"]
    augment = LandmarkAugment(layout, flip=0.5, colour=0, blur=0, occlude=0)
    errors = []
    for seed in range(20):
        image, landmarks, pose, _ = render_face(np.random.default_rng(seed), 112)
        out_image, out_landmarks, out_pose = augment(image, landmarks, pose,
                                                     np.random.default_rng(seed + 100))
        assert out_image.shape == image.shape and out_image.dtype == np.uint8
        errors.append(np.abs(estimate_euler(out_landmarks * 112 - 0.5, layout, 112) - out_pose))
    # labels follow the pixels: the error stays at solvePnP's own level on unaugmented faces
    assert (np.mean(errors, axis=0) < 6).all()


def test_augmented_view_is_seeded_and_train_only(tmp_path):
    import torch

    from lib.data import ensure_synthetic, landmark_splits

    root = ensure_synthetic(tmp_path / "s", 112, {"train": 4, "val": 2, "test": 2}, seed=3)
    draws = []
    for _ in range(2):
        torch.manual_seed(0)
        splits = landmark_splits("synthetic", root, 106, 112, augment=True)
        draws.append(splits["train"][0])
        plain = splits["val"].landmarks[0]
        assert torch.equal(splits["val"][0][1], plain)  # validation is never augmented
    assert all(torch.equal(a, b) for a, b in zip(*draws))


def test_region_nme_matches_hand_computation():
    import torch

    from lib.train.metrics import region_nme

    target = torch.tensor([[0.0, 0.0, 1.0, 0.0, 0.0, 1.0, 1.0, 1.0]])
    pred = target + torch.tensor([[0.2, 0.0, 0.0, 0.0, 0.0, 0.0, 0.0, 0.4]])
    regions = {"top": (0, 1), "bottom": (2, 3)}
    assert region_nme(pred, target, regions) == pytest.approx({"top": 0.1, "bottom": 0.2})


def test_attribute_columns_are_tolerated_when_consistent(tmp_path):
    from lib.data import read_list
    from lib.data.synthetic import format_line

    cv2.imwrite(str(tmp_path / "a.png"), np.zeros((8, 8, 3), np.uint8))
    line = format_line("a.png", np.full((4, 2), 0.5), np.array([1.0, 2.0, 3.0]))
    path, coords_euler = line.split(" ", 1)[0], line.split(" ", 1)[1].split()
    with_attrs = " ".join([path] + coords_euler[:8] + ["0", "1", "0", "0", "1", "0"]
                          + coords_euler[8:])
    (tmp_path / "list.txt").write_text(f"{with_attrs}\n{with_attrs}\n")
    _, landmarks, euler, _ = read_list(tmp_path / "list.txt", 4)
    assert np.allclose(euler, [[1, 2, 3]] * 2) and np.allclose(landmarks, 0.5)
    (tmp_path / "list.txt").write_text(f"{with_attrs}\n{line}\n")
    with pytest.raises(DataError, match=r"list.txt:2: 12 values, expected 18"):
        read_list(tmp_path / "list.txt", 4)


def test_offline_augmented_copies_only_in_train(tmp_path):
    raw = _pixel_fixture(tmp_path, lambda raw, pts: [])
    report = prepare("pixels", raw, tmp_path / "out", img_size=32, num_points=4,
                     split=(0.5, 0.25, 0.25), augment_copies=2, progress=False)
    assert report.written == {"train": 2 * 3, "val": 1, "test": 1}
    names = [line.split()[0] for line in
             (tmp_path / "out" / "train_data" / "list.txt").read_text().splitlines()]
    assert sum("_aug" in n for n in names) == 4
