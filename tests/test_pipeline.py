"""sample / retrain / evaluate on a tiny search."""
import csv
import json
from pathlib import Path

import pytest
import torch

from lib.config import RetrainConfig, SearchConfig
from lib.data import LandmarkListDataset, Layout, ensure_synthetic
from lib.spaces import get_space
from lib.train import (CheckpointError, load_checkpoint, run_retrain, run_search,
                       save_checkpoint)
from lib.train.evaluation import evaluate
from lib.train.evaluation_summary import summarize_landmarks
from lib.train.metrics import ced_auc, failure_rate, nme
from lib.train.sampling import hypervolume, pareto_front
from tests.conftest import run_tool

TINY_STAGES = get_space("pfld_fbnet").tiny_kwargs["stages"]


@pytest.fixture(scope="module")
def searched(tmp_path_factory):
    root = tmp_path_factory.mktemp("pipe")
    faces = ensure_synthetic(root / "faces", 112, {"train": 40, "val": 8, "test": 8}, seed=2)
    cfg = SearchConfig(dev_id="cpu", data_root=str(faces), snapshot=str(root / "ckpt"),
                       space_kwargs={"stages": TINY_STAGES}, lut="flops", epochs=2,
                       warmup_epochs=1, batch_size=8, progress=False)
    run_search(cfg)
    return faces, root / "ckpt" / "supernet" / "checkpoint_last.pth", root


def _tool(name, *args):
    return run_tool(name, *args, timeout=300)


def test_pareto_front_is_non_dominated():
    points = [(1.0, 0.5), (2.0, 0.4), (1.5, 0.6), (3.0, 0.4), (0.5, 0.9), (2.0, 0.4)]
    front = pareto_front(points)
    assert front == [True, True, False, False, True, True]


def test_hypervolume_is_the_area_a_front_dominates_up_to_the_reference():
    ref = (4.0, 1.0)
    assert hypervolume([(1.0, 0.5)], ref) == 3.0 * 0.5
    # a second point adds only the slab below the first: 2 x 0.1
    assert hypervolume([(2.0, 0.4), (1.0, 0.5)], ref) == pytest.approx(1.5 + 0.2)
    # dominated points and points beyond the reference add nothing
    assert hypervolume([(2.0, 0.4), (1.0, 0.5), (3.0, 0.45), (5.0, 0.1), (0.5, 1.2)], ref) \
        == pytest.approx(1.7)
    assert hypervolume([], ref) == 0.0


def test_sample_writes_a_non_dominated_front(searched, tmp_path):
    faces, ckpt, _ = searched
    run = _tool("sample.py", "--supernet", str(ckpt), "--num", "6", "--out", str(tmp_path))
    assert run.returncode == 0, run.stderr
    with open(tmp_path / "pareto.csv") as handle:
        rows = list(csv.DictReader(handle))
    assert rows[0]["arch_id"] == "argmax"
    assert len({r["choices"] for r in rows}) == len(rows)  # deduplicated
    pts = [(float(r["predicted"]), float(r["val"])) for r in rows]
    for r, (c, e) in zip(rows, pts):
        dominated = any(c2 <= c and e2 <= e and (c2, e2) != (c, e) for c2, e2 in pts)
        assert (r["on_front"] == "True") == (not dominated)
    assert (tmp_path / "pareto.png").read_bytes()[:4] == b"\x89PNG"


def test_retrain_inherits_then_resumes(searched, tmp_path):
    faces, ckpt, _ = searched
    common = dict(dev_id="cpu", data_root=str(faces), snapshot=str(tmp_path), batch_size=8,
                  progress=False)
    result = run_retrain(RetrainConfig(supernet=str(ckpt), epochs=1, **common))
    last = result.out_dir / "checkpoint_last.pth"
    assert (result.out_dir / "checkpoint_best.pth").is_file()
    assert result.arch["choices"] == load_checkpoint(ckpt)["arch"]["choices"]
    resumed = run_retrain(RetrainConfig(resume=str(last), epochs=2, **common))
    assert load_checkpoint(last, kind="subnet")["epoch"] == 2
    assert resumed.arch == result.arch


def test_retrain_refuses_a_mismatched_checkpoint_listing_keys(searched, tmp_path):
    faces, ckpt, _ = searched
    payload = load_checkpoint(ckpt)
    state = dict(payload["model"])
    dropped = sorted(k for k in state if k.startswith("net.head."))[:2]
    for key in dropped:
        del state[key]
    broken = tmp_path / "broken.pth"
    save_checkpoint(broken, **{**{k: v for k, v in payload.items()
                                  if k not in ("format", "rng")}, "model": state})
    with pytest.raises(CheckpointError) as info:
        run_retrain(RetrainConfig(dev_id="cpu", supernet=str(broken), data_root=str(faces),
                                  snapshot=str(tmp_path), epochs=1, progress=False))
    assert all(key in str(info.value) for key in dropped)


def test_export_and_evaluate_tools_agree(searched, tmp_path):
    faces, ckpt, _ = searched
    run = _tool("export.py", "--resume", str(ckpt), "--out_dir", str(tmp_path))
    assert run.returncode == 0, run.stderr
    assert (tmp_path / "subnet.onnx").is_file()
    reports = []
    for model in (str(ckpt), str(tmp_path / "subnet.onnx")):
        out = tmp_path / f"ev{len(reports)}.json"
        run = _tool("evaluate.py", "--ckpt", model, "--data_root", str(faces), "--out", str(out))
        assert run.returncode == 0, run.stderr
        reports.append(json.loads(out.read_text()))
    assert reports[0]["nme_box"] == pytest.approx(reports[1]["nme_box"], abs=1e-5)
    assert "euler_mae_deg" in reports[0] and "euler_mae_deg" not in reports[1]


def test_nme_failure_auc_match_hand_computation():
    target = torch.tensor([[0.0, 0.0, 1.0, 0.0, 0.0, 1.0, 1.0, 1.0]])  # unit square
    pred = target + torch.tensor([[0.1, 0.0, 0.0, 0.0, 0.0, 0.0, 0.0, 0.3]])
    errors = nme(pred, target, eye_corners=(0, 1))
    # point errors 0.1, 0, 0, 0.3 -> mean 0.1; box sqrt(1*1) = 1; eye corners 1 apart
    assert errors["box"].item() == pytest.approx(0.1)
    assert errors["io"].item() == pytest.approx(0.1)
    values = torch.tensor([0.02, 0.05, 0.2])
    assert failure_rate(values, 0.10) == pytest.approx(1 / 3)
    # CED: 0 below 0.02, 1/3 until 0.05, 2/3 after: area (0.03/3 + 0.05*2/3) / 0.1
    assert ced_auc(values, 0.10) == pytest.approx((0.03 / 3 + 0.05 * 2 / 3) / 0.1, abs=2e-3)
    report = summarize_landmarks(pred, target, torch.zeros(1, 3), torch.ones(1, 3),
                                 Layout("t", 2, eye_corners=(0, 1)))
    assert report["euler_mae_deg"] == pytest.approx(1.0)
    assert report["nme_box"] == pytest.approx(0.1)


def test_evaluating_on_test_decodes_only_the_test_split(searched, monkeypatch):
    """Scoring a model on the test split must not decode the training set first (on a real
    dataset that is most of the images)."""
    faces, ckpt, _ = searched
    decoded, original = [], LandmarkListDataset.__init__

    def record(self, list_path, *args, **kwargs):
        decoded.append(Path(list_path).parent.name)
        original(self, list_path, *args, **kwargs)

    monkeypatch.setattr(LandmarkListDataset, "__init__", record)
    report = evaluate(ckpt, "synthetic", faces, "test", runs=0)
    assert decoded == ["test_data"] and report["samples"] == 8
