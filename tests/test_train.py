import json

import pytest
import torch

from lib.data import ensure_synthetic
from lib.config import RetrainConfig, SearchConfig, parse_config
from lib.latency import build_lut, save_lut
from lib.spaces import get_space, make_arch, save_arch, space_defaults
from lib.supernet import Supernet
from lib.train.retrain import resolve_arch
from lib.train import CheckpointError, load_checkpoint, pfld_loss, run_search, save_checkpoint
from tests.conftest import ROOT, run_tool

TINY = dict(get_space("pfld_fbnet").tiny_kwargs)


@pytest.fixture(scope="module")
def faces(tmp_path_factory):
    return ensure_synthetic(tmp_path_factory.mktemp("data") / "synthetic", 112,
                            {"train": 48, "val": 8, "test": 8}, seed=1)


def _cli(*args, cwd=ROOT):
    return run_tool("train.py", *args, cwd=cwd, timeout=300)


def test_two_epoch_cli_smoke_run(faces, tmp_path):
    run = _cli("--data_root", str(faces), "--snapshot", str(tmp_path), "--epochs", "2",
               "--warmup_epochs", "1", "--batch_size", "8", "--limit_val", "8",
               "--progress", "false", "--dev_id", "cpu")
    assert run.returncode == 0, run.stderr
    assert "derived architecture" in run.stdout and "LUT-predicted latency" in run.stdout
    out = tmp_path / "supernet"
    for name in ("checkpoint_last.pth", "checkpoint_best.pth", "arch.json"):
        assert (out / name).is_file()
    assert list((out / "tensorboard").glob("events.out.tfevents.*"))
    arch = json.loads((out / "arch.json").read_text())
    printed = json.loads(run.stdout.split("derived architecture:\n", 1)[1].split("\nLUT", 1)[0])
    assert arch["choices"] == printed
    ckpt = load_checkpoint(out / "checkpoint_last.pth", kind="supernet")
    assert ckpt["epoch"] == 2 and ckpt["config"]["epochs"] == 2


def test_pfld_loss_weights_pose_error_in_radians():
    pred, target = torch.zeros(2, 4), torch.ones(2, 4)
    truth = torch.zeros(2, 3)
    frontal = pfld_loss(pred, target, truth, truth, eps=0.1)
    assert frontal.item() == pytest.approx(0.4)  # eps * l2: a perfect pose still trains
    off = pfld_loss(pred, target, torch.tensor([[90.0, 0, 0]] * 2), truth, eps=0.1)
    assert off.item() == pytest.approx(4 * 1.1)  # 1 - cos(pi/2) = 1, degrees converted


def test_checkpoint_round_trip_and_truncation(tmp_path):
    model = torch.nn.Linear(3, 2)
    path = tmp_path / "c.pth"
    save_checkpoint(path, kind="supernet", model=model.state_dict(), epoch=4, tau=1.5)
    loaded = load_checkpoint(path, kind="supernet")
    assert loaded["epoch"] == 4 and loaded["tau"] == 1.5 and "rng" in loaded
    assert torch.equal(loaded["model"]["weight"], model.weight)
    with pytest.raises(CheckpointError, match="expected 'subnet'"):
        load_checkpoint(path, kind="subnet")
    data = path.read_bytes()
    path.write_bytes(data[: len(data) // 2])
    with pytest.raises(CheckpointError, match="c.pth: unreadable checkpoint"):
        load_checkpoint(path)


def test_config_precedence_and_unknown_keys(tmp_path, capsys):
    config = tmp_path / "c.yaml"
    config.write_text("epochs: 30\nlr: 0.5\n")
    cfg = parse_config(SearchConfig, ["--config", str(config), "--lr", "0.1"])
    assert cfg.epochs == 30 and cfg.lr == 0.1 and cfg.batch_size == 64
    assert parse_config(SearchConfig, ["--progress"]).progress is True
    assert parse_config(SearchConfig, ["--progress", "false"]).progress is False
    config.write_text("epochs: 7\nepocs: 3\n")
    with pytest.raises(SystemExit) as info:
        parse_config(SearchConfig, ["--config", str(config)])
    assert info.value.code != 0
    assert "c.yaml: unknown config key 'epocs'" in capsys.readouterr().err


def test_cli_bad_inputs_exit_nonzero_naming_the_file(faces, tmp_path):
    config = tmp_path / "bad.yaml"
    config.write_text("gumble: hard\n")
    run = _cli("--config", str(config))
    assert run.returncode != 0 and "bad.yaml: unknown config key 'gumble'" in run.stderr
    broken = tmp_path / "broken"
    (broken / "train_data").mkdir(parents=True)
    line = (faces / "train_data" / "list.txt").read_text().splitlines()[0]
    image = str(faces / "train_data" / line.split()[0])
    (broken / "train_data" / "list.txt").write_text(f"{image} {' '.join(line.split()[1:])}\n"
                                                    f"{image} 0.5 0.5\n")
    run = _cli("--dataset", "jd106", "--data_root", str(broken), "--progress", "false",
               "--dev_id", "cpu", "--snapshot", str(tmp_path / "s"))
    assert run.returncode != 0
    assert f"{broken / 'train_data' / 'list.txt'}:2: 3 values, expected 216" in run.stderr
    assert not (tmp_path / "s").exists()


def _target_search(faces, tmp_path, lut_path, target):
    cfg = SearchConfig(dev_id="cpu", data_root=str(faces), snapshot=str(tmp_path / str(target)),
                       space_kwargs={"stages": TINY["stages"]}, num_points=106, lut=str(lut_path),
                       mode="target", target_ms=target, tlr=0.1, epochs=4, tau0=1.0,
                       warmup_epochs=0, batch_size=8, progress=False, seed=0)
    return run_search(cfg)


def test_target_mode_meets_tight_and_loose_budgets(faces, tmp_path):
    kwargs = {"stages": TINY["stages"], "num_points": 106, "img_size": 112}
    lut = build_lut("pfld_fbnet", kwargs, backend="flops", calib_archs=1, progress=False)
    save_lut(lut, tmp_path / "lut.json")
    entries = lut["slots"]
    cheapest = lut["fixed"]["value"] + sum(
        min(lut["entries"][f"{label}/{op}/{'x'.join(map(str, s['in_shape']))}"]["value"]
            for op in s["candidates"]) for label, s in entries.items())
    dearest = lut["fixed"]["value"] + sum(
        max(lut["entries"][f"{label}/{op}/{'x'.join(map(str, s['in_shape']))}"]["value"]
            for op in s["candidates"]) for label, s in entries.items())
    tight = cheapest + 0.1 * (dearest - cheapest)
    tight_run = _target_search(faces, tmp_path, tmp_path / "lut.json", tight)
    loose_run = _target_search(faces, tmp_path, tmp_path / "lut.json", dearest * 1.01)
    assert tight_run.predicted <= tight
    assert loose_run.predicted <= dearest * 1.01
    assert tight_run.arch["choices"] != loose_run.arch["choices"]


@pytest.mark.parametrize("tool", ["train.py", "retrain.py", "build_lut.py", "sample.py",
                                  "export.py", "evaluate.py", "report.py", "prepare_data.py"])
def test_every_tool_prints_its_help(tool):
    run = run_tool(tool, "--help", timeout=60)
    assert run.returncode == 0, run.stderr
    assert "usage:" in run.stdout


def test_an_architecture_inherits_from_its_supernet_however_its_kwargs_are_spelled(tmp_path):
    """Search checkpoints written before the canonical form name their space by the given
    kwargs; architecture files from NNI or Archai write every kwarg. The same instance must
    inherit, not be refused."""
    supernet = Supernet("pfld_fbnet", TINY)
    save_checkpoint(tmp_path / "search.pth", kind="supernet", space="pfld_fbnet",
                    space_kwargs=TINY, gumbel="hard", model=supernet.state_dict(),
                    arch=supernet.derived_arch())
    arch = make_arch("pfld_fbnet", {**space_defaults("pfld_fbnet"), **TINY}, supernet.derive())
    save_arch(arch, tmp_path / "arch.json")
    cfg = parse_config(RetrainConfig, ["--supernet", str(tmp_path / "search.pth"),
                                       "--arch", str(tmp_path / "arch.json")])
    resolved, model = resolve_arch(cfg)
    assert resolved["choices"] == arch["choices"]
    assert model.eval()(torch.zeros(1, 3, TINY["img_size"], TINY["img_size"]))[0].shape[0] == 1
