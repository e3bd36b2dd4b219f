"""Face-parsing plumbing: readers (real files when ../shared/data is present, small files
made here otherwise), mIoU from a dataset-level confusion matrix, mask-consistent
augmentation, and the hourglass / mbv2 spaces end to end through the tools."""
import json

import cv2
import numpy as np
import pytest
import torch
from PIL import Image

from lib.data import DataError, ensure_synthetic
from lib.data.segmentation import (CELEBAMASK, FACESYNTHETICS, MaskAugment, celebamask_pairs,
                                   facesynthetics_pairs, read_mask, segmentation_splits)
from lib.train.metrics import confusion_matrix, iou_from_confusion
from tests.conftest import ROOT, run_tool

SHARED = ROOT.parent / "shared" / "data"
needs_shared = pytest.mark.skipif(not SHARED.is_dir(), reason="../shared/data is absent")


def test_miou_is_dataset_level_and_skips_absent_classes():
    target = torch.tensor([[0, 0, 1, 255]])
    pred = torch.tensor([[0, 1, 1, 2]])
    conf = confusion_matrix(pred, target, 3)
    assert conf.sum() == 3  # the ignored pixel is not counted
    miou, per_class = iou_from_confusion(conf)
    assert per_class[0] == pytest.approx(0.5) and per_class[1] == pytest.approx(0.5)
    assert per_class[2] is None  # absent from both: no IoU, not 1
    assert miou == pytest.approx(0.5)
    # two batches summed != mean of per-batch mIoU
    a = confusion_matrix(torch.tensor([0, 0, 0, 0]), torch.tensor([0, 0, 0, 1]), 2)
    b = confusion_matrix(torch.tensor([1]), torch.tensor([1]), 2)
    assert iou_from_confusion(a + b)[0] == pytest.approx((0.75 + 0.5) / 2)


def _folder(tmp_path, palette: bool):
    root = tmp_path / "celeb"
    (root / "images").mkdir(parents=True)
    (root / "masks").mkdir()
    rng = np.random.default_rng(0)
    for i in range(5):
        cv2.imwrite(str(root / "images" / f"f{i}.jpg"), rng.integers(0, 255, (40, 40, 3),
                                                                       dtype=np.uint8))
        mask = Image.fromarray(np.full((40, 40), i % 19, np.uint8))
        if palette:
            mask = mask.convert("P")
            mask.putpalette([v for c in range(256) for v in (c * 7 % 256, c * 3 % 256, 9)])
        mask.save(root / "masks" / f"f{i}.png")
    return root


def test_palette_masks_read_as_indices(tmp_path):
    root = _folder(tmp_path, palette=True)
    assert read_mask(root / "masks" / "f3.png").max() == 3  # not the palette colour
    splits = segmentation_splits("celebamask", root, 32, 19, seed=1)
    sizes = [len(splits["train"]), len(splits["val"]), len(splits["test"]())]
    assert sum(sizes) == 5 and min(sizes) >= 1
    image, mask = splits["val"][0]
    assert image.shape == (3, 32, 32) and mask.shape == (32, 32) and mask.dtype == torch.long


def test_bad_labels_and_missing_masks_name_the_file(tmp_path):
    root = _folder(tmp_path, palette=False)
    Image.fromarray(np.full((40, 40), 40, np.uint8)).save(root / "masks" / "f1.png")
    with pytest.raises(DataError, match=r"f1\.png: label values \[40\]"):
        splits = segmentation_splits("celebamask", root, 32, 19)
        splits["test"]()  # (wherever f1 landed)
    (root / "masks" / "f2.png").unlink()
    with pytest.raises(DataError, match="mask for 1 images"):
        celebamask_pairs(root)
    with pytest.raises(DataError, match="has no masks"):
        segmentation_splits("jd106", root, 32, 19)


def test_augmentation_moves_image_and_mask_together():
    image = np.zeros((32, 32, 3), np.uint8)
    image[:, :8] = 200  # a bright band on the left ...
    mask = np.zeros((32, 32), np.uint8)
    mask[:, :8] = 4  # ... labelled left_eye
    aug = MaskAugment(FACESYNTHETICS, rotate=0, scale=0, shift=0)
    flipped = [aug(image, mask, np.random.default_rng(s)) for s in range(8)]
    mirrored = [(im, m) for im, m in flipped if im[:, -1, 0].mean() > 100]
    assert mirrored, "no sample was mirrored"
    for im, m in mirrored:  # band moved right and became right_eye (3)
        assert (m[:, -8:] == 3).all() and (m[:, :-8] == 0).all()
    im, m = MaskAugment(CELEBAMASK, rotate=30, scale=0.2, shift=0.2)(
        image, mask, np.random.default_rng(3))
    bright = im[..., 0] > 150
    labelled = np.isin(m, (4, 5))
    assert (bright & labelled).sum() > 0.8 * labelled.sum()  # same pixels moved
    assert (m == 255).any()  # shifted-in border is ignored, not background


def test_synthetic_faces_have_masks(tmp_path):
    root = ensure_synthetic(tmp_path / "syn", 112, {"train": 4, "val": 2, "test": 2}, seed=1)
    splits = segmentation_splits("synthetic", root, 64, 19)
    _, mask = splits["train"][0]
    assert mask.shape == (64, 64) and 1 in mask.unique()  # skin is there


@needs_shared
def test_real_facesynthetics_and_celebamask_read():
    pairs = facesynthetics_pairs(SHARED / "facesynthetics_100")
    assert len(pairs) == 80
    assert read_mask(pairs[0][1]).shape == (512, 512)
    splits = segmentation_splits("facesynthetics", SHARED / "facesynthetics_100", 64, 19,
                                 limit_train=4, limit_val=2)
    assert len(splits["train"]) == 4 and len(splits["val"]) == 2
    assert splits["train"][0][1].max() <= 255
    celeb = celebamask_pairs(SHARED / "celebamask_parsing")
    assert len(celeb) == 400
    assert set(np.unique(read_mask(celeb[0][1]))) <= set(range(19))


def _tool(name, *args):
    run = run_tool(name, *args)
    assert run.returncode == 0, run.stdout[-2000:] + run.stderr[-3000:]
    return run.stdout


@pytest.mark.parametrize("space", ["hourglass_seg", "mbv2_landmark"])
def test_space_end_to_end_through_the_tools(space, tmp_path):
    """search (flops LUT) -> sample -> retrain -> export (ORT + MNN when installed) ->
    evaluate, on tiny synthetic data, with each space's tiny kwargs."""
    from lib.spaces import get_space

    faces = ensure_synthetic(tmp_path / "faces", 112, {"train": 24, "val": 4, "test": 4}, seed=4)
    kwargs = dict(get_space(space).tiny_kwargs)
    kwargs.update({"num_points": 106} if space == "mbv2_landmark" else {"num_classes": 19})
    common = ["--data_root", faces, "--snapshot", tmp_path / "ckpt", "--dev_id", "cpu",
              "--progress", "false", "--batch_size", "8"]
    _tool("train.py", "--space", space, "--space_kwargs", json.dumps(kwargs),
          "--lut", "flops", "--epochs", "2", "--warmup_epochs", "1", *common)
    ckpt = tmp_path / "ckpt" / "supernet" / "checkpoint_last.pth"
    _tool("sample.py", "--supernet", ckpt, "--num", "3", "--out", tmp_path / "o")
    _tool("retrain.py", "--supernet", ckpt, "--epochs", "1", *common)
    subnet = tmp_path / "ckpt" / "subnet" / "checkpoint_best.pth"
    out = _tool("export.py", "--resume", subnet, "--out_dir", tmp_path / "o")
    assert "parity" in out
    for model in (subnet, tmp_path / "o" / "subnet.onnx"):
        _tool("evaluate.py", "--ckpt", model, "--data_root", faces,
              "--out", tmp_path / "o" / "eval.json")
        report = json.loads((tmp_path / "o" / "eval.json").read_text())
        key = "miou" if space == "hourglass_seg" else "nme_box"
        assert 0 <= report[key] and report["samples"] == 4
        if space == "hourglass_seg":
            assert list(report["iou_per_class"])[:2] == ["background", "skin"]
