"""Fault tolerance of the search: resume after SIGKILL or SIGTERM gives the run that was never
interrupted; determinism; and the guard rails that refuse bad input by name."""
import json
import os
import signal
import subprocess
import sys
import time

import pytest
import torch

from lib.data import ensure_synthetic
from lib.spaces import get_space, jsonable, make_arch
from lib.config import SearchConfig
from lib.train import load_checkpoint, run_search
from lib.train.loop import NonFiniteLoss
from lib.train.tasks import LandmarkTask
from tests.conftest import ROOT, run_tool

TINY = dict(get_space("pfld_fbnet").tiny_kwargs)
KWARGS = {"stages": jsonable(TINY["stages"])}


@pytest.fixture(scope="module")
def faces(tmp_path_factory):
    return ensure_synthetic(tmp_path_factory.mktemp("data") / "synthetic", 112,
                            {"train": 64, "val": 8, "test": 8}, seed=1)


def _flags(faces, snapshot, *extra, workers=0):
    # augmentation on: a resumed run must draw the same augmentations, with any --workers
    return ["--dev_id", "cpu", "--workers", str(workers), "--data_root", faces,
            "--snapshot", snapshot, "--space_kwargs", json.dumps(KWARGS), "--num_points", "106",
            "--img_size", "96", "--lut", "flops", "--epochs", "3", "--warmup_epochs", "1",
            "--batch_size", "4", "--limit_train", "60", "--limit_val", "8", "--augment",
            "--seed", "3", "--deterministic", "--tlr", "0.05", "--progress", "false", *extra]


def _theta(snapshot):
    ckpt = load_checkpoint(snapshot / "supernet" / "checkpoint_last.pth", kind="supernet")
    assert ckpt["epoch"] == 3 and ckpt["batch"] == 0
    return {k: v for k, v in ckpt["model"].items() if k.startswith("arch.")}, ckpt["arch"]


@pytest.fixture(scope="module")
def reference(faces, tmp_path_factory):
    """An uninterrupted run: (θ, arch, its last checkpoint)."""
    snapshot = tmp_path_factory.mktemp("reference")
    run = run_tool("train.py", *_flags(faces, snapshot), timeout=300)
    assert run.returncode == 0, run.stderr
    return (*_theta(snapshot), snapshot / "supernet" / "checkpoint_last.pth")


def _same_run(got, reference):
    (theta, arch), (ref_theta, ref_arch, _) = got, reference
    assert theta.keys() == ref_theta.keys()
    for key, value in theta.items():
        assert torch.equal(value, ref_theta[key]), key  # bit-identical
    assert arch["choices"] == ref_arch["choices"]


def test_deterministic_runs_give_bit_identical_theta_with_any_workers(faces, tmp_path,
                                                                       reference):
    run = run_tool("train.py", *_flags(faces, tmp_path, workers=2), timeout=300)
    assert run.returncode == 0, run.stderr
    _same_run(_theta(tmp_path), reference)


@pytest.mark.parametrize("sig", [signal.SIGKILL, signal.SIGTERM], ids=["SIGKILL", "SIGTERM"])
def test_interrupted_search_resumes_to_the_uninterrupted_result(faces, tmp_path, reference, sig):
    """SIGKILL right after a mid-epoch checkpoint (--save_every) or SIGTERM in epoch 2, sent to
    the whole process group as a job scheduler or Ctrl-C does (the loader workers get it too):
    the resumed run ends with the θ and architecture of the run that never stopped (which
    loaded without workers)."""
    flags = _flags(faces, tmp_path, "--save_every", "5", workers=2)
    proc = subprocess.Popen([sys.executable, str(ROOT / "tools" / "train.py"), *map(str, flags)],
                            stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, cwd=ROOT,
                            start_new_session=True)
    last = tmp_path / "supernet" / "checkpoint_last.pth"
    deadline = time.monotonic() + 240
    while proc.poll() is None and time.monotonic() < deadline:
        if last.is_file():  # complete whenever it exists: written by rename
            ckpt = load_checkpoint(last)
            if ckpt["epoch"] >= 1 and (ckpt["batch"] > 0 or sig == signal.SIGTERM):
                break
        time.sleep(0.02)
    os.killpg(proc.pid, sig)
    _, err = proc.communicate(timeout=120)
    if sig == signal.SIGKILL:
        assert proc.returncode == -signal.SIGKILL
    else:
        assert proc.returncode == 128 + signal.SIGTERM, err
        assert "stopped by SIGTERM at epoch" in err and "resume with --auto_resume" in err
    stopped = load_checkpoint(last)
    assert stopped["epoch"] < 3
    run = run_tool("train.py", *flags, "--auto_resume", timeout=300)
    assert run.returncode == 0, run.stderr
    assert f"at epoch {stopped['epoch'] + 1}, batch {stopped['batch']}" in run.stderr
    _same_run(_theta(tmp_path), reference)


def test_truncated_checkpoint_is_refused_by_name(faces, tmp_path, reference):
    ckpt = tmp_path / "supernet" / "checkpoint_last.pth"
    ckpt.parent.mkdir()
    ckpt.write_bytes(b"PK\x03\x04 half a zip file")
    for extra in (["--auto_resume"], ["--resume", ckpt]):
        run = run_tool("train.py", *_flags(faces, tmp_path, *extra), timeout=120)
        assert run.returncode == 1
        assert f"{ckpt}: unreadable checkpoint" in run.stderr
        assert "Traceback" not in run.stderr


def test_resume_refuses_a_checkpoint_of_another_space(faces, tmp_path, reference):
    other = tmp_path / "other"
    run = run_tool("train.py", *_flags(faces, other, "--epochs", "1", "--warmup_epochs", "0"),
                   timeout=120)
    assert run.returncode == 0, run.stderr
    ckpt = other / "supernet" / "checkpoint_last.pth"
    run = run_tool("train.py", *_flags(faces, tmp_path, "--resume", ckpt, "--img_size", "112"),
                   timeout=120)
    assert run.returncode == 1
    assert f"{ckpt}: checkpoint has space_kwargs" in run.stderr and "'img_size': 96" in run.stderr


def test_a_checkpoint_saved_on_cuda_1_resumes_on_the_cpu(faces, tmp_path, reference,
                                                          monkeypatch):
    """Weights, optimiser states and RNG states of a GPU run, opened where there is no GPU
    (docs/GPU.md): mapped on load, and the search goes on from them."""
    path = tmp_path / "gpu1.pth"
    ckpt = load_checkpoint(reference[2])
    with monkeypatch.context() as m:  # every storage tagged as saved from GPU 1
        m.setattr(torch.serialization, "location_tag", lambda storage: "cuda:1")
        torch.save(ckpt, path)
    with pytest.raises(RuntimeError, match="CUDA"):
        torch.load(path, weights_only=False)  # what an unmapped load meets here
    result = run_search(_small_search(faces, tmp_path, epochs=4, limit_train=10, resume=str(path)))
    resumed = load_checkpoint(result.out_dir / "checkpoint_last.pth", kind="supernet")
    assert resumed["epoch"] == 4 and resumed["theta_steps"] > ckpt["theta_steps"]


def test_lut_of_another_space_is_refused(faces, tmp_path):
    lut = ROOT / "lut" / "mbv2_landmark_64_n106_ort_t1.json"
    flags = _flags(faces, tmp_path)
    flags[flags.index("flops")] = str(lut)
    run = run_tool("train.py", *flags, timeout=120)
    assert run.returncode == 1
    assert f"{lut}: LUT does not match the space" in run.stderr
    assert "built for space 'mbv2_landmark', not 'pfld_fbnet'" in run.stderr


def test_arch_with_an_invalid_choice_is_refused(faces, tmp_path):
    arch = make_arch("pfld_fbnet", {**KWARGS, "num_points": 106, "img_size": 96},
                     {"stage0_layer0": "ir_k9_e1", "stage1_layer0": "ir_k3_e2",
                      "stage1_layer1": "ir_k5_e1_se"})
    path = tmp_path / "arch.json"
    path.write_text(json.dumps(arch))
    run = run_tool("retrain.py", "--arch", path, "--from_scratch", "--dev_id", "cpu",
                   "--data_root", faces, "--snapshot", tmp_path, timeout=120)
    assert run.returncode == 1
    assert f"{path}: invalid architecture" in run.stderr
    assert "slot 'stage0_layer0': 'ir_k9_e1' is not a candidate" in run.stderr


def _nan_on_call(n):
    """LandmarkTask.loss that returns NaN on its n-th call."""
    original, calls = LandmarkTask.loss, []

    def loss(self, model, batch):
        calls.append(1)
        value = original(self, model, batch)
        return value * float("nan") if len(calls) == n else value
    return loss


def _small_search(faces, tmp_path, **overrides):
    return SearchConfig(**{**dict(dev_id="cpu", data_root=str(faces), snapshot=str(tmp_path),
                                  space_kwargs=KWARGS, num_points=106, img_size=96, lut="flops",
                                  epochs=2, warmup_epochs=1, batch_size=8, limit_train=40,
                                  limit_val=8, progress=False), **overrides})


def test_nonfinite_loss_stops_naming_the_step(faces, tmp_path, monkeypatch):
    monkeypatch.setattr(LandmarkTask, "loss", _nan_on_call(3))
    with pytest.raises(NonFiniteLoss, match=r"weight loss is nan at step 2 \(epoch 1, batch 3\)"
                                            ".*--skip_nonfinite"):
        run_search(_small_search(faces, tmp_path))


def test_skip_nonfinite_skips_and_counts(faces, tmp_path, monkeypatch):
    monkeypatch.setattr(LandmarkTask, "loss", _nan_on_call(3))
    result = run_search(_small_search(faces, tmp_path, skip_nonfinite=True))
    ckpt = load_checkpoint(result.out_dir / "checkpoint_last.pth", kind="supernet")
    assert ckpt["nonfinite_skipped"] == 1 and ckpt["epoch"] == 2
    assert all(torch.isfinite(v).all() for v in ckpt["model"].values() if v.is_floating_point())


def test_resuming_a_checkpoint_with_unkeyed_augmentation_warns(faces, tmp_path, caplog):
    """Checkpoints from before augmentation was keyed by (pass, index) drew it from one stream
    per process: resuming one cannot repeat the original run's batches, and says so."""
    first = run_search(_small_search(faces, tmp_path / "first", epochs=1, augment=True))
    path = first.out_dir / "checkpoint_last.pth"
    with caplog.at_level("WARNING"):
        run_search(_small_search(faces, tmp_path / "now", augment=True, resume=str(path)))
    assert "augments its batches differently" not in caplog.text
    ckpt = load_checkpoint(path, kind="supernet")
    ckpt.pop("draws", None)  # as written before the mark
    torch.save(ckpt, path)
    with caplog.at_level("WARNING"):
        run_search(_small_search(faces, tmp_path / "old", augment=True, resume=str(path)))
    assert "augments its batches differently" in caplog.text
