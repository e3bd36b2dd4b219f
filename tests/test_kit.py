"""The measurement kit: export, time on a "device" without torch, import, search with it."""
import json
import os
import subprocess
import sys

import pytest

from lib.latency import LatencyTable
from lib.latency.kit import KitError, import_kit
from lib.latency.slots import trace_slots
from lib.spaces import get_space
from tests.conftest import run_tool

pytest.importorskip("MNN", reason="the kit's .mnn files need MNN")

KWARGS = {**get_space("pfld_fbnet").tiny_kwargs, "num_points": 106}
FORMAT = "[ - ] %-24s    max = %8.3f ms  min = %8.3f ms  avg = %8.3f ms"  # benchmark.cpp


@pytest.fixture(scope="module")
def kit(tmp_path_factory):
    folder = tmp_path_factory.mktemp("kit") / "kit"
    run = run_tool("build_lut.py", "--space_kwargs", json.dumps(KWARGS), "--kit", folder,
                   "--calib_archs", "4", "--holdout", "3", "--runs", "5", "--warmup", "1",
                   "--max_rounds", "2")
    assert run.returncode == 0, run.stderr[-3000:]
    return folder, json.loads((folder / "manifest.json").read_text())


def test_a_kit_round_trip_on_a_device_without_torch(kit, tmp_path):
    folder, manifest = kit
    ids = {m["id"] for m in manifest["models"]}
    assert {m["role"] for m in manifest["models"]} == {"block", "calibration", "holdout",
                                                        "reference"}
    assert all((folder / "onnx" / f"{i}.onnx").is_file() and (folder / "mnn" / f"{i}.mnn")
               .is_file() for i in ids)
    assert sorted(p.name for p in (folder / "mnn").iterdir()) == sorted(f"{i}.mnn" for i in ids)
    # the device: neither torch nor the project can be imported there
    device = ("import sys, runpy; sys.modules['torch'] = None; sys.argv = ['run_kit.py']; "
              "runpy.run_path('run_kit.py', run_name='__main__')")
    run = subprocess.run([sys.executable, "-c", device], cwd=folder, capture_output=True,
                         text=True, timeout=600, env={**os.environ, "PYTHONPATH": ""})
    assert run.returncode == 0, run.stderr[-3000:]
    results = json.loads((folder / "results.json").read_text())
    assert set(results["models"]) == ids and results["backend"] == "mnn"
    assert results["device"]["ran_on"] and results["device"]["cpu"]
    run = run_tool("build_lut.py", "--kit", folder, "--import", folder / "results.json")
    assert run.returncode == 0, run.stderr[-3000:]
    assert "fidelity on the kit's 3 held-out subnets: MAPE" in run.stdout
    lut = folder / "lut_mnn.json"
    meta = json.loads(lut.read_text())["metadata"]
    assert meta["kit"] == manifest["kit"] and meta["backend"] == "mnn"
    search = run_tool("train.py", "--dev_id", "cpu", "--dataset", "synthetic", "--space_kwargs",
                      json.dumps(KWARGS), "--lut", lut, "--epochs", "2", "--warmup_epochs", "1",
                      "--limit_train", "16", "--limit_val", "8", "--batch_size", "8",
                      "--snapshot", tmp_path / "search", "--progress", "false")
    assert search.returncode == 0, search.stderr[-3000:]
    assert (tmp_path / "search" / "supernet" / "arch.json").is_file()


def _benchmark_out(manifest, drop=(), extra=()) -> tuple[str, dict]:
    """benchmark.out's text for the kit, testQuantizedModel=1, with a different time for every
    block (exact at the 3 decimals benchmark.out prints) and whole-model times that a table
    with a fixed part of 0.05 ms predicts; quant rows are 2x."""
    plan, slots = manifest["plan"], trace_slots(manifest["space"], manifest["space_kwargs"])
    block = {name: 0.001 * (i + 1) for i, name in enumerate(plan["blocks"])}
    table = LatencyTable({}, {key: {"value": block[name]} for key, name in
                              plan["entries"].items()}, {"value": 0.05}, slots)
    whole = [*plan["calibration"], *plan["holdout"],
             {"id": "reference", "choices": {k: v["candidates"][0] for k, v in slots.items()}}]
    times = {**block, **{m["id"]: table.predict(m["choices"]) for m in whole}}
    lines = ["MNN benchmark",
             "Forward type: CPU thread=4 precision=0 sparsity=0 sparseBlockOC=1 "
             "testQuantizedModel=1 enableKleidiAI=0",
             "--------> Benchmarking... loop = 10, warmup = 10",
             "[-INFO-]: precision!=2, use fp32 inference.",
             "Auto set sparsity=0 when test quantized model in benchmark..."]
    for name, ms in times.items():
        if name not in drop:
            lines.append(FORMAT % (f"{name}.mnn", 1.2 * ms, ms, 1.1 * ms))
            lines.append(FORMAT % (f"quant-{name}.mnn", 3 * ms, 2 * ms, 2.5 * ms))
    return "\n".join([*lines, *extra]) + "\n", times


def test_benchmark_out_imports_as_fp32_and_int8(kit, tmp_path):
    folder, manifest = kit
    text, times = _benchmark_out(manifest)
    out = tmp_path / "benchmark.txt"
    out.write_text(text)
    lut, scores = import_kit(folder, out)
    assert lut["metadata"]["threads"] == 4 and lut["metadata"]["dtype"] == "float32"
    assert "min of 10 runs" in lut["metadata"]["statistic"]
    assert scores["n"] == 3 and scores["mape_pct"] < 0.5  # additive, up to the printed digits
    for key, name in manifest["plan"]["entries"].items():  # each entry is its own block's row
        assert lut["entries"][key]["value"] == pytest.approx(times[name], abs=1e-9), key
    quant, _ = import_kit(folder, out, int8=True)
    assert quant["metadata"]["dtype"] == "int8"
    for key, name in manifest["plan"]["entries"].items():
        assert quant["entries"][key]["value"] == pytest.approx(2 * times[name], abs=1e-9)


def test_bad_results_are_refused_with_the_reason_and_no_lut(kit, tmp_path):
    folder, manifest = kit
    text, _ = _benchmark_out(manifest)
    cases = {
        "malformed": text.replace("ms  min =", "ms  minimum =", 1),
        "missing": _benchmark_out(manifest, drop=("block2", "holdout1"))[0],
        "duplicate": text + text.splitlines()[-2] + "\n",
        "not benchmark.out": "\n".join(text.splitlines()[5:]),
    }
    expected = {"malformed": ":6: not a benchmark.out result row",
                "missing": "2 of the kit's", "duplicate": "appears twice",
                "not benchmark.out": "no 'Forward type"}
    for name, content in cases.items():
        path = tmp_path / f"{name.replace(' ', '_')}.txt"
        path.write_text(content)
        lut = tmp_path / f"{name}.json"
        run = run_tool("build_lut.py", "--kit", folder, "--import", path, "--out", lut)
        assert run.returncode != 0 and expected[name] in run.stderr, (name, run.stderr)
        assert not lut.exists()
    with pytest.raises(KitError, match="block2, holdout1"):
        import_kit(folder, tmp_path / "missing.txt")
    (tmp_path / "torn.json").write_text(json.dumps({"kit": manifest["kit"], "fingerprint":
                                                    manifest["fingerprint"], "models": {}}))
    with pytest.raises(KitError, match=r"torn\.json: not run_kit.py results"):
        import_kit(folder, tmp_path / "torn.json")
    # results of another kit, and a model file changed since the export
    results = {"kit": "0" * 16, "fingerprint": manifest["fingerprint"], "models": {}}
    (tmp_path / "other.json").write_text(json.dumps(results))
    with pytest.raises(KitError, match="not of this kit"):
        import_kit(folder, tmp_path / "other.json")
    (tmp_path / "good.txt").write_text(text)
    model = folder / "mnn" / "block0.mnn"
    original = model.read_bytes()
    try:
        model.write_bytes(original + b"\0")
        with pytest.raises(KitError, match="block0.mnn: changed since the kit was exported"):
            import_kit(folder, tmp_path / "good.txt")
    finally:
        model.write_bytes(original)


def test_a_kit_of_a_space_that_has_changed_is_refused(kit, tmp_path):
    import shutil

    folder, manifest = kit
    copy = tmp_path / "old"
    shutil.copytree(folder, copy)
    (copy / "manifest.json").write_text(json.dumps({**manifest, "fingerprint": "f" * 16}))
    (tmp_path / "b.txt").write_text(_benchmark_out(manifest)[0])
    with pytest.raises(KitError, match="the kit's fingerprint ffff.*the same kwargs, but the "
                                       "space's blocks changed"):
        import_kit(copy, tmp_path / "b.txt")
