"""The benches run end to end at toy sizes (their numbers are meaningless here)."""
import json
import subprocess
import sys

from tests.conftest import ROOT


def test_search_vs_random_end_to_end(tmp_path):
    """Two target searches, a budget search for the baseline, matched random architectures,
    scratch and inherited trainings, one-shot scores and drift-proof timing: every row is
    there, every random architecture is inside its window, the summary is well-formed."""
    tiny = "dataset: synthetic\nlimit_train: 64\nlimit_val: 32\nbatch_size: 32\n"
    (tmp_path / "search.yaml").write_text(tiny + "epochs: 2\nwarmup_epochs: 1\n")
    (tmp_path / "retrain.yaml").write_text(tiny + "epochs: 1\n")
    cmd = [sys.executable, str(ROOT / "bench" / "search_vs_random.py"), "--seeds", "0", "1",
           "--search_config", tmp_path / "search.yaml", "--retrain_config",
           tmp_path / "retrain.yaml", "--random", "2", "--inherit", "1",
           "--noise_seeds", "1", "--no_mul",
           "--baselines", "pfld_mbv3_small", "--max_rounds", "3", "--runs", "3",
           "--runs_dir", tmp_path / "runs", "--out", tmp_path / "out"]
    done = subprocess.run(list(map(str, cmd)), capture_output=True, text=True, cwd=ROOT,
                          timeout=600)
    assert done.returncode == 0, done.stderr[-3000:]
    out = tmp_path / "out" / "search_vs_random_pfld_fbnet_synthetic.json"
    result = json.loads(out.read_text())
    assert out.with_suffix(".png").stat().st_size > 0
    summary = result["summary"]
    assert 0 <= summary["percentile_mean"] <= 100
    assert -1 <= summary["kendall_tau_oneshot"] <= 1
    assert set(summary["kendall_tau_per_supernet"]) == {"target_s0", "target_s1"}
    rows = {r["run"]: r for r in result["rows"]}
    assert set(result["searches"]) == {"target_s0", "target_s1"}
    for name, search in result["searches"].items():
        assert search["random_n"] == 2
        for arch in search["random"]:
            assert abs(rows[arch]["predicted"] / search["predicted"] - 1) <= 0.05 + 1e-9
            assert rows[arch]["choices"] != search["choices"]
        assert len(search["inherited"]) == 2  # the searched one and one random one
    # the baseline is slower than the whole space: a search at the space's dearest budget
    assert any(r["kind"] == "budget" for r in rows.values())
    assert all(r["ms_ci95"][0] <= r["ms"] <= r["ms_ci95"][1] for r in rows.values())
    assert sum(r["init"] == "inherited" for r in rows.values()) == 4
    noise = summary["training_noise"]  # target_s0's pick and its first random one, 2 seeds
    assert len(noise) == 2 and all(len(n["scores"]) == 2 for n in noise.values())
    assert {r["train_seed"] for r in rows.values() if r["init"] == "reseeded"} == {1}

    # --reuse: a second run copies every scratch training it shares with the first
    again = [*cmd[:cmd.index("--seeds")], "--seeds", "0", *cmd[cmd.index("--search_config"):]]
    again[again.index("--runs_dir") + 1] = tmp_path / "runs2"
    for flag in ("--inherit", "--noise_seeds"):  # not what --reuse copies: skipped for time
        again[again.index(flag) + 1] = "0"
    again += ["--reuse", tmp_path / "runs" / "pfld_fbnet_synthetic"]
    done = subprocess.run(list(map(str, again)), capture_output=True, text=True, cwd=ROOT,
                          timeout=600)
    assert done.returncode == 0, done.stderr[-3000:]
    metric = result["metric"]
    second = json.loads(out.read_text())["rows"]

    def key(r):  # what a scratch or reseeded training is: architecture and seed
        return json.dumps([r["choices"] or r["arch"], r["train_seed"]], sort_keys=True)
    first = {key(r): r[metric] for r in rows.values() if r["init"] != "inherited"}
    shared = [r for r in second if r["init"] != "inherited" and key(r) in first]
    assert any(r["arch"] == "pfld_mbv3_small" for r in shared)
    assert all(r[metric] == first[key(r)] for r in shared)
    assert done.stderr.count("reusing ") == len(shared)


def test_quick_lut_and_its_fidelity_with_a_noise_floor(tmp_path):
    """tools/build_lut.py --quick --context true builds a drift-proof table in context;
    bench/lut_fidelity.py scores it and its entries alone on subnets timed in two passes, in
    the table's time base, and reports the pass-against-pass noise floor."""
    from lib.spaces import get_space

    kwargs = json.dumps({**get_space("pfld_fbnet").tiny_kwargs, "num_points": 106})
    lut = tmp_path / "tiny.json"
    built = subprocess.run([sys.executable, str(ROOT / "tools" / "build_lut.py"), "--quick",
                            "--context", "true", "--space_kwargs", kwargs, "--calib_archs", "3",
                            "--runs", "10", "--max_rounds", "3", "--out", str(lut)],
                           capture_output=True, text=True, cwd=ROOT, timeout=600)
    assert built.returncode == 0, built.stderr[-3000:]
    meta = json.loads(lut.read_text())["metadata"]
    assert meta["timing"]["precision"] == 0.04 and meta["timing"]["runs"] == 10  # flag wins
    assert meta["reference"]["ms"] > 0 and "ratio to a reference" in meta["statistic"]
    scored = subprocess.run([sys.executable, str(ROOT / "bench" / "lut_fidelity.py"),
                             "--space_kwargs", kwargs, "--lut", str(lut), "--n", "3",
                             "--runs", "5", "--warmup", "1", "--max_rounds", "3",
                             "--out", str(tmp_path)], capture_output=True, text=True,
                            cwd=ROOT, timeout=600)
    assert scored.returncode == 0, scored.stderr[-3000:]
    assert "noise floor (pass vs pass)" in scored.stdout.splitlines()[-1]
    assert "blocks alone: MAPE" in scored.stdout.splitlines()[-1]  # built in context
    result = json.loads((tmp_path / "lut_fidelity_pfld_fbnet_ort.json").read_text())
    assert result["subnets"] == 5 and set(result["noise_floor"]) >= {"mape_pct", "kendall_tau"}
    assert set(result["scores"]) == {"offset", "fitted", "alone"}
    assert result["time_base"] == "the LUT's reference"
    assert all(len(r["passes"]) == 2 for r in result["rows"])


def test_a_search_without_random_matches_is_reported_not_fatal():
    """A search that lands in an isolated corner (no random architecture within ±5 %) gets
    an empty comparison in the JSON and table; the summary counts the other searches."""
    from types import SimpleNamespace as NS

    sys.path.insert(0, str(ROOT / "bench"))
    from vs_random_report import summarise, table

    def row(arch, nme, kind):
        return {"run": arch, "arch": arch, "init": "scratch", "kind": kind, "nme_box": nme,
                "ms": 1.0, "ms_ci95": [1.0, 1.0], "predicted": 1.0, "choices": {"s": arch},
                "one_shot": {"target_s0": -nme}}
    rows = {a: row(a, v, k) for a, v, k in [("target_s0", 0.10, "target"), ("mul_s0", 0.2, "mul"),
                                          ("random_000", 0.12, "random"),
                                          ("random_001", 0.11, "random")]}
    searched = {"target_s0": {"mode": "target", "seed": 0, "choices": {"s": "a"},
                              "predicted": 1.0},
                "mul_s0": {"mode": "mul", "seed": 0, "choices": {"s": "b"}, "predicted": 0.4}}
    windows = {"target_s0": {"random": ["random_000", "random_001"], "draws": 10},
               "mul_s0": {"random": [], "draws": 200000}}
    config = NS(epochs=1, warmup="epochs", warmup_epochs=0, lr=0.1, batch_size=1, augment=False,
                seed=0, limit_train=None, limit_val=None, space="pfld_fbnet")
    args = NS(search_config="s", retrain_config="r", target=1.0, tolerance=0.05, random=2,
              inherit=0, noise_seeds=0, runs=1, precision=0.01, max_rounds=1, calib_batches=1)
    bench = NS(args=args, search=config, retrain=config, dataset="synthetic", rows=rows,
               task=NS(metric="nme_box", higher_is_better=False), searched=searched,
               windows=windows, taus={"target_s0": {"all": 0.5, "top20": 0.5}})
    result = summarise(bench)
    assert result["searches"]["mul_s0"]["percentile"] is None
    assert result["summary"]["percentile_mean"] == 100  # the target search beats both
    assert "none within the window (0)" in table(result, "nme_box")


def test_timing_estimators_scores_each_statistic_pass_against_pass(tmp_path):
    done = subprocess.run([sys.executable, str(ROOT / "bench" / "timing_estimators.py"),
                           "--n", "3", "--rounds", "6", "--runs", "3", "--out", str(tmp_path)],
                          capture_output=True, text=True, cwd=ROOT, timeout=600)
    assert done.returncode == 0, done.stderr[-3000:]
    result = json.loads((tmp_path / "timing_estimators_pfld_fbnet.json").read_text())
    assert {"median, 6 rounds", "geometric mean, 5 rounds"} <= set(result["scores"])
    assert all(len(ratios) == 6 for p in result["ratios"] for ratios in p.values())


def test_reuse_keys_match_runs_from_before_newer_options_and_kwargs_spelled_either_way():
    """--reuse copies a training only when architecture, seed and recipe are the same: a run
    saved before --amp/--channels_last existed trained with their defaults, and an
    architecture's kwargs name one instance whether defaults are written out or not."""
    sys.path.insert(0, str(ROOT / "bench"))
    from search_vs_random import _training_key

    from lib.spaces import full_kwargs

    arch = {"space": "pfld_fbnet", "space_kwargs": {"num_points": 106}, "choices": {"s": "a"}}
    now = {"epochs": 8, "lr": 5e-3, "amp": "off", "channels_last": False, "workers": 2}
    older = {"epochs": 8, "lr": 5e-3}  # written before --amp and --channels_last
    full = {**arch, "space_kwargs": full_kwargs("pfld_fbnet", {"num_points": 106})}
    assert _training_key(arch, now) == _training_key(arch, older) == _training_key(full, now)
    assert _training_key(arch, {**now, "amp": "bf16"}) != _training_key(arch, older)
    assert _training_key(arch, {**now, "lr": 1e-2}) != _training_key(arch, now)
