"""Every tool reads its options one way: defaults < --config FILE.yaml < flags; unknown keys
and bad values fail naming the key; booleans, lists and the seed flags' aliases."""
import pytest
import yaml

from lib.config import (BuildLUTConfig, EvaluateConfig, ExportConfig, PrepareConfig,
                        ReportConfig, RetrainConfig, SampleConfig, SearchConfig, parse_config,
                        save_config)

# each tool's config, the flags it needs to be valid, and a field to set
TOOLS = {"train.py": (SearchConfig, [], "epochs"),
         "retrain.py": (RetrainConfig, ["--arch", "a.json", "--from_scratch"], "epochs"),
         "build_lut.py": (BuildLUTConfig, [], "calib_archs"),
         "export.py": (ExportConfig, ["--ckpt", "c.pth"], "threads"),
         "evaluate.py": (EvaluateConfig, ["--ckpt", "c.pth"], "threads"),
         "sample.py": (SampleConfig, ["--supernet", "s.pth"], "num"),
         "prepare_data.py": (PrepareConfig, ["--dataset", "pts", "--data_root", "raw",
                                             "--out", "o"], "img_size"),
         "report.py": (ReportConfig, ["--eval", "e.json"], "pareto")}


@pytest.mark.parametrize("tool", sorted(TOOLS))
def test_every_tool_takes_a_yaml_config_and_refuses_unknown_keys(tool, tmp_path, capsys):
    cls, needed, name = TOOLS[tool]
    value, flag_value = (15, 17) if name != "pareto" else ("p.csv", "q.csv")
    config = tmp_path / "c.yaml"
    config.write_text(yaml.safe_dump({name: value}))
    assert getattr(parse_config(cls, [*needed, "--config", str(config)]), name) == value
    later = parse_config(cls, [*needed, "--config", str(config), f"--{name}", str(flag_value)])
    assert getattr(later, name) == flag_value  # flags win over the file
    config.write_text("no_such_key: 1\n")
    with pytest.raises(SystemExit):
        parse_config(cls, [*needed, "--config", str(config)])
    assert "c.yaml: unknown config key 'no_such_key'" in capsys.readouterr().err


def test_required_options_bad_values_and_saved_configs(tmp_path, capsys):
    with pytest.raises(SystemExit):
        parse_config(ExportConfig, [])
    assert "--ckpt required" in capsys.readouterr().err
    with pytest.raises(SystemExit):
        parse_config(EvaluateConfig, ["--ckpt", "c", "--threads", "two"])
    assert "--threads" in capsys.readouterr().err
    config = tmp_path / "c.yaml"
    config.write_text("split: [0.8, x, 0.1]\n")
    with pytest.raises(SystemExit):
        parse_config(PrepareConfig, ["--dataset", "pts", "--data_root", "r", "--out", "o",
                                     "--config", str(config)])
    assert "bad value for 'split'" in capsys.readouterr().err
    # a saved config is read back as the same config
    cfg = parse_config(PrepareConfig, ["--dataset", "pts", "--data_root", "r", "--out", "o",
                                       "--split", "0.7,0.2,0.1", "--skip_bad"])
    save_config(cfg, tmp_path / "saved.yaml")
    assert parse_config(PrepareConfig, ["--config", str(tmp_path / "saved.yaml")]) == cfg


def test_booleans_lists_and_aliases():
    base = ["--ckpt", "c.pth"]
    assert parse_config(ExportConfig, base).mnn is None  # unset: decided by MNN's presence
    assert parse_config(ExportConfig, [*base, "--mnn"]).mnn is True
    assert parse_config(ExportConfig, [*base, "--no-mnn"]).mnn is False
    assert parse_config(ExportConfig, [*base, "--mnn", "false"]).mnn is False
    assert parse_config(ExportConfig, ["--supernet", "s.pth", "--resume", "c.pth"]).ckpt == \
        "c.pth"  # NNI's form
    assert parse_config(ReportConfig, ["--eval", "a.json", "b.json"]).eval == ["a.json",
                                                                               "b.json"]
    assert parse_config(SearchConfig, ["--no-progress"]).progress is False
