import cv2
import numpy as np
import pytest
import torch

from lib.data import DataError, LandmarkListDataset, ensure_synthetic, get_layout
from lib.data.face_template import flip_pairs, landmarks_3d, sample_shape
from lib.data.render import render_face
from lib.data.synthetic import format_line


def test_render_is_deterministic_and_consistent():
    a = render_face(np.random.default_rng([0, 1, 2]), 112)
    b = render_face(np.random.default_rng([0, 1, 2]), 112)
    for x, y in zip(a, b):
        assert np.array_equal(x, y)
    image, landmarks, euler, mask = a
    assert image.shape == (112, 112, 3) and mask.shape == (112, 112)
    assert landmarks.shape == (106, 2) and euler.shape == (3,)
    assert mask.max() <= 18 and {0, 1}.issubset(set(np.unique(mask)))


def test_landmarks_lie_on_their_mask_regions():
    hits = 0
    for seed in range(20):
        image, landmarks, _, mask = render_face(np.random.default_rng(seed), 112)
        x, y = (landmarks[74] * 112).astype(int)  # right pupil
        hits += mask[y, x] in (3, 16)  # right eye (or glasses over it)
    assert hits >= 14  # occluders may hide a few


def test_flip_pairs_mirror_the_template():
    points = landmarks_3d(sample_shape(np.random.default_rng(0)))
    index = list(range(106))
    for a, b in flip_pairs():
        index[a], index[b] = b, a
    mirrored = points.copy()
    mirrored[:, 0] *= -1
    mirrored = mirrored[index]
    differ = np.where(np.abs(mirrored - points).max(1) > 1e-9)[0]
    assert set(differ) <= {74, 83}  # pupils follow the gaze, not the mirror


def test_synthetic_generation_is_atomic_and_cached(tmp_path):
    root = ensure_synthetic(tmp_path / "syn", 112, {"train": 6, "val": 2, "test": 2}, seed=5)
    listing = (root / "train_data" / "list.txt").read_text().splitlines()
    assert len(listing) == 6 and len(listing[0].split()) == 1 + 212 + 3
    stamp = (root / "meta.json").stat().st_mtime_ns
    ensure_synthetic(tmp_path / "syn", 112, {"train": 6, "val": 2, "test": 2}, seed=5)
    assert (root / "meta.json").stat().st_mtime_ns == stamp
    assert [p.name for p in tmp_path.iterdir()] == ["syn"]  # no temp folder left
    data = LandmarkListDataset(root / "train_data" / "list.txt", 106, 112)
    image, lm, euler = data[0]
    assert image.shape == (3, 112, 112) and 0 <= image.min() and image.max() <= 1
    assert lm.shape == (212,) and euler.shape == (3,)
    # another input size reads the same faces resized (coordinates are crop-normalised), and
    # asking for a size does not regenerate an existing set
    small, lm_small, _ = LandmarkListDataset(root / "train_data" / "list.txt", 106, 64)[0]
    assert small.shape == (3, 64, 64) and torch.equal(lm_small, lm)
    ensure_synthetic(tmp_path / "syn")
    assert (root / "meta.json").stat().st_mtime_ns == stamp


def _write_list(folder, lines):
    folder.mkdir(parents=True, exist_ok=True)
    path = folder / "list.txt"
    path.write_text("\n".join(lines) + "\n")
    return path


@pytest.fixture
def good_line(tmp_path):
    (tmp_path / "imgs").mkdir()
    cv2.imwrite(str(tmp_path / "imgs" / "a.png"), np.zeros((112, 112, 3), np.uint8))
    return format_line("imgs/a.png", np.full((106, 2), 0.5), np.zeros(3))


def test_wrong_value_count_names_file_and_line(tmp_path, good_line):
    path = _write_list(tmp_path, [good_line, good_line + " 0.1"])
    with pytest.raises(DataError, match=r"list.txt:2: 217 values, expected 216"):
        LandmarkListDataset(path, 106, 112)


def test_missing_image_names_file_and_line(tmp_path, good_line):
    path = _write_list(tmp_path, [good_line, good_line.replace("a.png", "gone.png")])
    with pytest.raises(DataError, match=r"list.txt:2: image not found: imgs/gone.png"):
        LandmarkListDataset(path, 106, 112)


def test_unreadable_image_names_file_and_line(tmp_path, good_line):
    (tmp_path / "imgs" / "bad.png").write_bytes(b"not an image")
    path = _write_list(tmp_path, [good_line.replace("a.png", "bad.png")])
    with pytest.raises(DataError, match=r"list.txt:1: cannot decode image"):
        LandmarkListDataset(path, 106, 112)


def test_nan_values_are_refused(tmp_path, good_line):
    tokens = good_line.split()
    tokens[5] = "nan"
    path = _write_list(tmp_path, [" ".join(tokens)])
    with pytest.raises(DataError, match=r"list.txt:1: NaN"):
        LandmarkListDataset(path, 106, 112)


def test_layouts():
    assert get_layout("synthetic", 106).eye_corners == (66, 75)
    assert get_layout("jd106", 106).eye_corners == (35, 93)
    unknown = get_layout("mine", 68)
    assert unknown.eye_corners is None and unknown.flip_pairs == ()
