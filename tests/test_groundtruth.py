"""The ground-truth runner (bench/groundtruth.py) on a tiny space and recipe, and the ranking
statistics of bench/rank_supernet.py on hand-made tables."""
import json
import random
import shutil
import sys

import pytest

from tests.conftest import ROOT

sys.path.insert(0, str(ROOT / "bench"))
import groundtruth  # noqa: E402
from groundtruth_stats import bootstrap, ranking, seed_sd, spread, tau_of  # noqa: E402
from groundtruth_table import Table, TableError  # noqa: E402

TINY = {"num_points": 106, "img_size": 96,
        "stages": [[32, 1, 1, ["ir_k3_e1", "dw_k3", "gh_k3"]], [48, 2, 2, ["ir_k3_e2", "ir_k5_e1_se"]]]}
RECIPE = "dataset: synthetic\nepochs: 1\nlimit_train: 64\nlimit_val: 32\nbatch_size: 32\n"


def _runner(folder):
    def run(*flags, recipe="recipe.yaml"):
        groundtruth.main(["--space", "pfld_fbnet", "--space_kwargs", json.dumps(TINY),
                          "--lut", "flops", "--recipe", str(folder / recipe),
                          "--folder", str(folder / "gt"), "--runs_dir", str(folder / "runs"),
                          "--population", "5", "--window", "2", *flags])
    return run


@pytest.fixture(scope="module")
def trained(tmp_path_factory):
    """A tiny PFLD instance's plan and its table's first two rows (one epoch on 64 faces)."""
    folder = tmp_path_factory.mktemp("groundtruth")
    (folder / "recipe.yaml").write_text(RECIPE)
    _runner(folder)("--max_runs", "2")
    return folder


@pytest.fixture
def bench(trained, tmp_path):
    """(run, table path) on a copy of ``trained``."""
    shutil.copytree(trained, tmp_path, dirs_exist_ok=True)
    return _runner(tmp_path), tmp_path / "gt" / "pfld_fbnet_synthetic.json"


def test_runner_writes_rows_resumes_and_never_retrains_a_finished_unit(bench, monkeypatch):
    run, path = bench
    table = Table.load(path)
    assert [r["arch"] for r in table.runs] == list(table.archs)[:2]
    assert len(table.runs) == 2 and all(r["resumed"] is False for r in table.runs)
    row = table.runs[0]
    for key in ("test", "val", "train_loss_sum", "params", "macs", "predicted", "lut",
                "recipe_id", "fingerprint", "commit", "wall_s", "history"):
        assert row[key] is not None, key
    assert row["lut"] == "flops" and len(row["history"]) == 1
    # the runner was killed after a training finished but before its row was written:
    # the run resumes from its own finished checkpoint, it does not train again
    first = table.runs.pop()
    table.save()
    trained = []
    real = groundtruth.run_retrain
    monkeypatch.setattr(groundtruth, "run_retrain", lambda cfg: trained.append(cfg.name) or
                        real(cfg))
    run("--max_runs", "2")
    table = Table.load(path)
    assert len(table.runs) == 3
    redone = next(r for r in table.runs if (r["arch"], r["seed"]) == (first["arch"],
                                                                      first["seed"]))
    assert redone["resumed"] is True and redone["test"] == pytest.approx(first["test"])
    # every (architecture, seed) trained once, seed 0 of everything before any seed 1
    assert len(trained) == 2 and len({(r["arch"], r["seed"]) for r in table.runs}) == 3
    assert all(r["seed"] == 0 for r in table.runs)


def test_runner_refuses_another_recipe_instance_and_a_torn_table(bench):
    run, path = bench
    (path.parent.parent / "other.yaml").write_text(RECIPE + "lr: 0.01\n")
    with pytest.raises(SystemExit, match="another recipe; it differs in lr 0.002"):
        run("--max_runs", "1", recipe="other.yaml")
    data = json.loads(path.read_text())
    data["runs"][0]["fingerprint"] = "0123456789abcdef"
    path.write_text(json.dumps(data))
    with pytest.raises(TableError, match=r"row 1 \(pop\d+, seed 0\) is of space instance "
                                         "0123456789abcdef"):
        Table.load(path)
    data["runs"][0]["fingerprint"], data["runs"][0]["recipe_id"] = data["fingerprint"], "x"
    path.write_text(json.dumps(data))
    with pytest.raises(TableError, match="trained with recipe x"):
        Table.load(path)
    path.write_text(json.dumps(data)[:200])
    with pytest.raises(TableError, match="line 1: not valid JSON"):
        Table.load(path)


def test_plan_has_population_windows_and_baselines(trained):
    plan = json.loads((trained / "gt" / "pfld_fbnet_synthetic.plan.json").read_text())
    kinds = [info["kind"] for info in plan["archs"].values()]
    assert kinds.count("population") == 5 and kinds.count("baseline") == 2
    for name, budget in plan["budgets"].items():
        members = [i for i in plan["archs"].values() if name in i["windows"]]
        assert len(members) >= 2
        assert all(0.85 * budget <= m["predicted"] <= budget for m in members)
        assert sum(m["seeds"] == 3 for m in members) == 2


def test_dense_budgets_sit_where_latencies_crowd():
    latencies = [1.0, 1.02, 1.05, 1.08, 1.1, 2.0, 3.0, 3.1]
    low, high = groundtruth.dense_budgets(latencies, 2)
    assert low == 1.1 and high == 3.1  # 5 inside [0.935, 1.1]; then [2.635, 3.1] holds 2


def test_ranking_of_known_orders():
    truth = {f"a{i}": float(i) for i in range(12)}
    report = ranking(truth, dict(truth), {"w": ["a2", "a3", "a4", "a5"]})
    assert report["tau"]["value"] == 1.0 and report["tau_top"]["value"] == 1.0
    assert report["top_k_overlap"]["value"] == 1.0
    assert report["windows"]["w"]["pick"] == "a2"
    assert report["windows"]["w"]["pick_percentile"]["value"] == 100
    assert report["windows"]["w"]["regret"]["value"] == 0
    reverse = ranking(truth, {a: -v for a, v in truth.items()}, {"w": ["a2", "a3", "a4"]})
    assert reverse["tau"]["value"] == -1.0 and reverse["top_k_overlap"]["value"] == 0
    assert reverse["windows"]["w"]["pick"] == "a4"
    assert reverse["windows"]["w"]["pick_percentile"]["value"] == 0
    assert reverse["windows"]["w"]["regret"]["value"] == 2.0


def test_tau_interval_shrinks_as_rows_are_added():
    rng = random.Random(0)
    truth = {f"a{i}": float(i) for i in range(80)}
    scores = {a: v + rng.gauss(0, 15) for a, v in truth.items()}
    widths = []
    for n in (10, 80):
        ids = sorted(truth, key=lambda a: int(a[1:]))[:n]
        low, high = bootstrap(tau_of(truth, scores), ids)
        widths.append(high - low)
    assert widths[1] < 0.6 * widths[0]


def test_seed_sd_and_pairs_apart():
    values = {"a": [1.0, 1.2], "b": [2.0, 2.2], "c": [2.05, 2.25]}
    sd = seed_sd(values)
    assert sd == pytest.approx(0.1414, abs=1e-4)
    means = {k: sum(v) / 2 for k, v in values.items()}
    # a-b and a-c differ by ~1 > 2 sd; b-c by 0.05 < 2 sd
    assert spread(means, sd)["pairs_apart"] == pytest.approx(2 / 3)


def test_a_row_of_the_study_at_the_tables_recipe_is_copied_not_trained(bench, monkeypatch):
    run, path = bench
    run("--curves", "1", "--max_runs", "1")  # the recipe's own length: the same recipe id
    study = Table.load(path.parent / "curves" / "pfld_fbnet_synthetic_e1.json")
    (row,) = study.runs
    table = Table.load(path)  # a table that has not trained it yet
    table.data["runs"] = [r for r in table.runs if r["arch"] != row["arch"]]
    table.save()
    monkeypatch.setattr(groundtruth, "run_retrain", lambda cfg: pytest.fail("trained again"))
    run("--arch", row["arch"], "--seed", "0")
    copied = Table.load(path).row(row["arch"], 0)
    assert copied["copied_from"] == "pfld_fbnet_synthetic_e1.json"
    assert copied["test"] == row["test"]
