import json
import math
import random

import pytest
import torch

from lib.latency import (CostLoss, LatencyTable, LUTMismatchError, build_lut, check_lut,
                         count_macs, default_lut_path, find_lut, load_lut, random_choices,
                         resolve_lut, same_table, save_lut, trace_slots)
from lib.latency.build import fit_fixed, in_context
from lib.latency.lut_file import LUT_DIR
from lib.latency.relative import Timing, time_relative
from lib.latency.slots import fingerprint
from lib.spaces import DeployView, FixedChooser, create_space, full_kwargs, get_space
from lib.supernet import Supernet
from lib.config import SearchConfig, parse_config
from tests.conftest import ROOT

TINY = dict(get_space("pfld_fbnet").tiny_kwargs)
QUICK = Timing(warmup=2, runs=5, max_rounds=3)


@pytest.fixture(scope="module")
def tiny_lut():
    return build_lut("pfld_fbnet", TINY, backend="ort", timing=QUICK, calib_archs=2,
                     progress=False)


def test_every_space_gets_a_lut_that_predicts_its_expected_cost(space):
    """A tiny MACs table per registered space: every entry present, and the supernet's
    differentiable expected cost of a fixed architecture equals the table's prediction
    (widths included: bilinear over each width slot's channel grid)."""
    name, kwargs = space
    lut = build_lut(name, kwargs, backend="flops", calib_archs=2, progress=False)
    table = check_lut(lut, name, kwargs)
    net = Supernet(name, kwargs)
    costs = table.slot_costs()
    for choices in net.sample_archs(3, torch.Generator().manual_seed(0)):
        net.fix(choices)
        expected = table.fixed["value"] + float(net.expected_cost(costs))
        assert table.predict(choices) == pytest.approx(expected, rel=1e-5)
        model = DeployView(create_space(name, FixedChooser(choices), **kwargs))
        macs = count_macs(model, [1, 3, kwargs["img_size"], kwargs["img_size"]])[0] / 1e6
        assert table.sum_entries(choices) <= macs * 1.001  # the blocks are part of the model


def test_expected_cost_under_the_policy(space):
    """θ's deterministic latency term: under uniform θ it is the table's reference (spaces
    without widths: widths interpolate on the grid); under θ peaked on one architecture it is
    that architecture's prediction; and it carries a gradient to every op slot whose
    candidates differ in price."""
    name, kwargs = space
    table = check_lut(build_lut(name, kwargs, backend="flops", calib_archs=2, progress=False),
                      name, kwargs)
    net = Supernet(name, kwargs)
    costs = table.slot_costs()
    net.sample(1.0, torch.Generator().manual_seed(0))
    cost = table.fixed["value"] + net.expected_cost(costs, net.policy())
    if not net.width_slots:
        assert float(cost) == pytest.approx(table.reference(), rel=1e-5)
    cost.backward()
    priced = [label for label, c in costs.items() if c.dim() == 1 and c.max() > c.min()]
    assert all(net.arch[label].grad.abs().sum() > 0 for label in priced)
    assert sum(float(logits.grad.abs().sum()) for logits in net.arch.values()) > 0
    peak = net.sample_archs(1, torch.Generator().manual_seed(1))[0]
    with torch.no_grad():
        for label, logits in net.arch.items():
            logits.copy_(torch.where(torch.arange(len(logits)) == net.candidates[label].index(
                peak[label]), 30.0, 0.0))
    net.sample(1.0, torch.Generator().manual_seed(2))  # the peak: widths take its channels
    with torch.no_grad():
        cost = table.fixed["value"] + float(net.expected_cost(costs, net.policy()))
    assert cost == pytest.approx(table.predict(peak), rel=1e-5)


def test_width_entries_are_measured_on_the_channel_grid():
    kwargs = dict(get_space("mbv2_landmark").tiny_kwargs)
    slots = trace_slots("mbv2_landmark", kwargs)
    assert slots["stage1_width"]["grid"] == [16, 24]  # 24 x (0.5, 1.0), multiples of 8
    assert slots["stage1_layer0"]["in_width"] == "stage0_width"
    lut = build_lut("mbv2_landmark", kwargs, backend="flops", calib_archs=1, progress=False)
    keys = [k for k in lut["entries"] if k.startswith("stage1_layer0/ir_k3_e2_relu6/")]
    assert sorted(keys) == sorted(f"stage1_layer0/ir_k3_e2_relu6/1x{cin}x8x8/o{cout}"
                                  for cin in (8, 16) for cout in (16, 24))


def test_slot_shapes_come_from_a_traced_forward():
    slots = trace_slots("pfld_fbnet", {"img_size": 112, "num_points": 106})
    assert slots["stage0_layer0"]["in_shape"] == [1, 32, 14, 14]
    assert slots["stage1_layer0"]["in_shape"] == [1, 32, 14, 14]
    assert slots["stage1_layer1"]["in_shape"] == [1, 64, 7, 7]


def test_lut_has_every_candidate_and_metadata(tiny_lut, tmp_path):
    meta = tiny_lut["metadata"]
    for key in ("space", "fingerprint", "backend", "backend_version", "threads", "batch",
                "dtype", "unit", "statistic", "timing", "reference", "host_cpu", "date"):
        assert key in meta
    assert meta["backend"] == "ort" and meta["unit"] == "ms" and meta["threads"] == 1
    n_candidates = sum(len(s["candidates"]) for s in tiny_lut["slots"].values())
    assert len(tiny_lut["entries"]) == n_candidates
    assert all(e["value"] > 0 for e in tiny_lut["entries"].values())
    save_lut(tiny_lut, tmp_path / "lut.json")
    table = load_lut(tmp_path / "lut.json", "pfld_fbnet", TINY)
    low, high = table.bounds()
    assert low < table.reference() < high


def test_prediction_is_fixed_plus_entries(tiny_lut):
    table = check_lut(tiny_lut, "pfld_fbnet", TINY)
    choices = {label: s["candidates"][0] for label, s in table.slots.items()}
    expected = table.fixed["value"] + sum(
        e["value"] for k, e in tiny_lut["entries"].items()
        if any(k.startswith(f"{label}/{op}/") for label, op in choices.items()))
    assert table.predict(choices) == pytest.approx(expected)


def test_fingerprint_mismatch_is_refused_saying_what_differs(tiny_lut):
    with pytest.raises(LUTMismatchError, match="fingerprint") as error:
        check_lut(tiny_lut, "pfld_fbnet", {**TINY, "num_points": 9})
    assert "'num_points': 8" in str(error.value) and "'num_points': 9" in str(error.value)
    stale = {**tiny_lut, "metadata": {**tiny_lut["metadata"], "fingerprint": "f" * 16}}
    with pytest.raises(LUTMismatchError, match="the space's blocks changed since it was built"):
        check_lut(stale, "pfld_fbnet", TINY)


def test_missing_keys_are_listed(tiny_lut):
    broken = json.loads(json.dumps(tiny_lut))
    removed = sorted(broken["entries"])[:2]
    for key in removed:
        del broken["entries"][key]
    with pytest.raises(LUTMismatchError) as info:
        check_lut(broken, "pfld_fbnet", TINY)
    assert [p for p in info.value.problems if p.startswith("missing entry")] == \
        [f"missing entry {k}" for k in removed]


def test_unreadable_lut_names_the_file(tmp_path):
    path = tmp_path / "bad.json"
    path.write_text("{not json")
    with pytest.raises(ValueError, match="bad.json"):
        load_lut(path, "pfld_fbnet", TINY)


def test_flops_table_is_exact():
    lut = build_lut("pfld_fbnet", TINY, backend="flops", calib_archs=2, progress=False)
    table = check_lut(lut, "pfld_fbnet", TINY)
    choices = {label: s["candidates"][-1] for label, s in table.slots.items()}
    from lib.spaces import DeployView

    model = DeployView(create_space("pfld_fbnet", FixedChooser(choices), **TINY))
    macs, _ = count_macs(model, [1, 3, 96, 96])
    assert table.predict(choices) == pytest.approx(macs / 1e6)


def test_shipped_lut_matches_default_space():
    table = load_lut(default_lut_path("pfld_fbnet", 112), "pfld_fbnet",
                     {"num_points": 106, "img_size": 112})
    assert table.metadata["backend"] == "ort" and table.metadata["threads"] == 1


SEARCH_CONFIGS = [ROOT / "configs" / "demo.yaml", *sorted((ROOT / "configs").glob("*search.yaml"))]


@pytest.mark.parametrize("config", SEARCH_CONFIGS, ids=lambda p: p.stem)
def test_lut_auto_finds_the_shipped_table_of_every_search_config(config):
    """Every search the Makefile runs finds its table by fingerprint, whatever its file is
    called (hourglass_seg's carries its cap in the name)."""
    cfg = parse_config(SearchConfig, ["--config", str(config)])
    kwargs = cfg.instance_kwargs()
    path = find_lut(cfg.space, kwargs)
    assert path.parent == LUT_DIR and json.loads(path.read_text())["metadata"]["backend"] == "ort"
    assert resolve_lut(cfg.lut, cfg.space, kwargs).metadata["space"] == cfg.space


def test_lut_auto_refuses_a_space_without_a_table_and_says_what_to_do(tmp_path):
    kwargs = {"img_size": 64, "cap": 16, "kernels": [3, 5]}
    with pytest.raises(FileNotFoundError) as error:
        resolve_lut("auto", "hourglass_seg", kwargs)
    message = str(error.value)
    assert "hourglass_seg_64_c32_ort_t1.json: hourglass_seg" in message  # what exists
    assert "python tools/build_lut.py --space hourglass_seg --space_kwargs" in message
    table = build_lut("hourglass_seg", kwargs, backend="flops", calib_archs=1, progress=False)
    save_lut(table, tmp_path / "mine.json")  # a table in the run folder is found too
    assert find_lut("hourglass_seg", kwargs, [tmp_path]) == tmp_path / "mine.json"


def test_a_table_from_another_machine_warns_once(tmp_path, caplog):
    lut = json.loads(default_lut_path("pfld_fbnet", 112).read_text())
    lut["metadata"]["host_cpu"] = "Some Other CPU"
    save_lut(lut, tmp_path / "other.json")
    caplog.set_level("WARNING", logger="lib.latency.resolve")
    resolve_lut(str(tmp_path / "other.json"), "pfld_fbnet", {"num_points": 106, "img_size": 112})
    warnings = [r.getMessage() for r in caplog.records if r.levelname == "WARNING"]
    assert len(warnings) == 1 and "'Some Other CPU'" in warnings[0], warnings


@pytest.mark.parametrize("path", sorted((ROOT / "lut").glob("*.json")), ids=lambda p: p.name)
def test_every_shipped_lut_matches_its_space(path):
    meta = json.loads(path.read_text())["metadata"]
    table = load_lut(path, meta["space"], meta["space_kwargs"])
    low, high = table.bounds()
    assert low < table.reference() < high


@pytest.mark.parametrize("mode", ["mul", "add"])
def test_cost_modes_are_safe_and_increasing(mode):
    loss = CostLoss(mode, reference=0.3)
    task = torch.tensor(0.5)
    values = [loss(task, torch.tensor(c))[0].item() for c in (1e-4, 0.1, 0.3, 3.0, 3e4)]
    assert all(torch.isfinite(torch.tensor(values)))
    assert values == sorted(values)


def test_target_mode_penalises_outside_the_band_it_should_spend():
    loss = CostLoss("target", alpha=1.0, target=0.3)
    task = torch.tensor(0.5)
    assert loss(task, torch.tensor(0.28))[0].item() == pytest.approx(0.5)  # in [0.9, 1] x 0.3
    assert loss(task, torch.tensor(0.6))[0].item() == pytest.approx(0.5 + 0.5 * 1.0)
    assert loss(task, torch.tensor(0.15))[0].item() == pytest.approx(0.5 + 0.5 * 0.4)
    assert CostLoss("target", target=0.3).alpha == 50.0
    with pytest.raises(ValueError, match="target"):
        CostLoss("target")


def test_calibration_fits_scale_and_offset_on_whole_models():
    calibration = [{"sum_entries": s, "measured": 1.2 * s + 0.3} for s in (1.0, 2.0, 4.0)]
    fit = fit_fixed(calibration)
    assert fit["scale"] == pytest.approx(1.2) and fit["value"] == pytest.approx(0.3)
    assert fit_fixed(calibration, linear=False)["scale"] == 1.0
    assert fit_fixed(calibration[:2])["method"].startswith("median")  # under-determined
    wild = [{"sum_entries": s, "measured": 5 * s} for s in (1.0, 2.0, 3.0)]
    assert fit_fixed(wild)["scale"] == 1.0  # implausible: offset only
    table = LatencyTable({}, {}, {"value": 0.3, "scale": 1.2}, {})
    assert table.scale == 1.2


def test_mnn_backend_times_blocks_with_mnn(tmp_path):
    lut = build_lut("pfld_fbnet", TINY, backend="mnn", timing=QUICK, calib_archs=3,
                    progress=False)
    assert lut["metadata"]["backend_version"].startswith("MNN ")
    assert all(e["value"] > 0 for e in lut["entries"].values())
    save_lut(lut, tmp_path / "mnn.json")
    table = load_lut(tmp_path / "mnn.json", "pfld_fbnet", TINY)
    choices = lut["fixed"]["calibration"][0]["choices"]
    assert table.predict(choices) == pytest.approx(table.fixed["value"] + table.scale * sum(
        e["value"] for k, e in lut["entries"].items()
        if any(k.startswith(f"{label}/{op}/") for label, op in choices.items())))


def test_corners_are_the_cheapest_and_dearest_architectures():
    kwargs = dict(get_space("mbv2_landmark").tiny_kwargs)
    table = check_lut(build_lut("mbv2_landmark", kwargs, backend="flops", calib_archs=1,
                                progress=False), "mbv2_landmark", kwargs)
    low, high = table.corner(dearest=False), table.corner(dearest=True)
    assert all(low[w] == min(s.candidates, key=float) for w, s in table.width_slots.items())
    rng = random.Random(0)
    for _ in range(5):  # MACs are exact, so no architecture lies outside the corners
        choices = random_choices(table.slots, rng)
        assert table.predict(low) <= table.predict(choices) <= table.predict(high)


def test_mean_ci95_and_percentile_among():
    """The t interval of a textbook sample, and the percentile's tie and direction rules."""
    from lib.latency.ranking import mean_ci95, percentile_among
    from lib.latency.relative import median_ci95

    assert median_ci95([5, 1, 4, 2, 3]) == (3, 1, 5)  # under 6 values: the whole range
    values = list(range(1, 21))  # 20 values: x_(6) and x_(15), P(B(20, 1/2) < 6) = 2.1 %
    assert median_ci95(values) == (10.5, 6, 15)
    mean, low, high = mean_ci95([1, 2, 3, 4, 5])  # sd 1.5811, t(4) 2.776
    assert mean == 3 and high - mean == pytest.approx(2.776 * 1.5811388 / 5 ** 0.5, rel=1e-5)
    assert mean - low == pytest.approx(high - mean)
    assert mean_ci95([0.5]) == (0.5, 0.5, 0.5)
    errors = [0.10, 0.20, 0.30, 0.40]
    assert percentile_among(0.05, errors, higher_is_better=False) == 100
    assert percentile_among(0.20, errors, higher_is_better=False) == 62.5  # 2 beaten, 1 tie
    assert percentile_among(0.20, errors, higher_is_better=True) == 37.5  # 1 beaten, 1 tie
    with pytest.raises(ValueError):
        percentile_among(0.1, [], higher_is_better=False)


def test_in_context_entries_predict_every_measured_swap():
    """With entries moved into context, the table predicts each measured swap of one slot's
    candidate into the reference network exactly (the blocks alone did not), leaves the
    reference's own candidates alone, and shifts a slot's entries by one amount per op."""
    table = check_lut(build_lut("mbv2_landmark", dict(get_space("mbv2_landmark").tiny_kwargs),
                                backend="flops", calib_archs=1, progress=False),
                      "mbv2_landmark", dict(get_space("mbv2_landmark").tiny_kwargs))
    first = {label: info["candidates"][0] for label, info in table.slots.items()}
    rng = random.Random(0)
    swapped = {(label, op): rng.uniform(-0.5, 2.0) for label, info in table.slots.items()
               if info.get("kind") != "width" for op in info["candidates"][1:]}
    moved = LatencyTable(table.metadata, in_context(table, first, swapped), table.fixed,
                         table.slots)
    base = moved.sum_entries(first)
    assert base == pytest.approx(table.sum_entries(first))
    for (label, op), cost in swapped.items():
        assert moved.sum_entries({**first, label: op}) - base == pytest.approx(cost, abs=1e-5)
        shifts = {round(e["value"] - e["alone"], 6) for k, e in moved.entries.items()
                  if k.startswith(f"{label}/{op}/")}
        assert len(shifts) == 1, (label, op)


def test_negative_in_context_entries_are_reported(caplog):
    space, kwargs = "mbv2_landmark", dict(get_space("mbv2_landmark").tiny_kwargs)
    table = check_lut(build_lut(space, kwargs, backend="flops", calib_archs=1, progress=False),
                      space, kwargs)
    first = {label: info["candidates"][0] for label, info in table.slots.items()}
    label, info = next((k, v) for k, v in table.slots.items() if v.get("kind") != "width")
    with caplog.at_level("WARNING", logger="lib.latency.build"):
        in_context(table, first, {(label, info["candidates"][1]): -1e6})
    assert "in-context entries are negative" in caplog.text


def test_relative_timing_cancels_a_drifting_machine(monkeypatch):
    """A machine whose speed swings ±40 % over a run (simulated: each timed burst takes 0.1 s
    of a fake clock and is scaled by a sine of that clock, a full swing every 6.3 s): ratios
    to the reference, re-timed every 0.25 s, recover the models' true ratios, and a model
    with 30 % noise per round is timed for more rounds than the steady ones until its
    interval is narrow enough."""
    clock = [0.0]
    noise = random.Random(0)

    def drifting_median(fn, warmup, runs):
        clock[0] += 0.1
        return fn() * (1 + 0.4 * math.sin(clock[0]))

    monkeypatch.setattr("lib.latency.relative.median_ms", drifting_median)
    monkeypatch.setattr("lib.latency.relative.now", lambda: clock[0])
    costs = {"a": 1.0, "b": 2.0, "c": 3.0}
    models = {name: (lambda c=c: lambda: c) for name, c in costs.items()}
    models["noisy"] = lambda: lambda: 2.0 * noise.uniform(0.7, 1.3)
    result, reference = time_relative(models, lambda: lambda: 1.5,
                                      Timing(precision=0.03, max_rounds=40, interval=0.25))
    for name, cost in costs.items():
        assert result[name].ratio == pytest.approx(cost / 1.5, rel=0.02), name
        assert len(result[name].ratios) == 6  # steady: the minimum number of rounds
    assert len(result["noisy"].ratios) > 6
    low, high = result["noisy"].ci95
    assert low < 2.0 * reference["ms"] / 1.5 < high
    # timed without the reference, one model alone swings by more than c differs from b
    plain = [drifting_median(lambda: 1.0, 0, 0) for _ in range(63)]
    assert max(plain) / min(plain) > 1.5


def test_relative_timing_on_onnxruntime():
    from lib.latency.measure import export_onnx_bytes, ort_sessions

    shape = [1, 3, 16, 16]
    models = {name: ort_sessions(export_onnx_bytes(torch.nn.Conv2d(3, ch, 3), shape), shape)
              for name, ch in (("small", 4), ("large", 128))}
    reference = ort_sessions(export_onnx_bytes(torch.nn.Conv2d(3, 16, 3), shape), shape)
    result, ref = time_relative(models, reference, Timing(warmup=2, runs=20, max_rounds=4))
    assert result["large"].ms > result["small"].ms > 0 and ref["ms"] > 0
    assert all(r.ci95[0] <= r.ms <= r.ci95[1] and len(r.ratios) == 4
               for r in result.values())


def test_relative_timing_is_not_moved_by_slow_sessions(monkeypatch):
    """About one round in four lands in a slow session (+30 %), as on these machines: the
    median ratio stays exactly on the true one, where a mean over rounds would move by the
    slow rounds' share (about 7 %)."""
    draw = random.Random(1)

    def median_ms(fn, warmup, runs):
        value = fn()
        return value * (1.3 if value != 1.5 and draw.random() < 0.25 else 1.0)

    monkeypatch.setattr("lib.latency.relative.median_ms", median_ms)
    costs = {"a": 1.0, "b": 2.0, "c": 3.0}
    models = {name: (lambda c=c: lambda: c) for name, c in costs.items()}
    result, _ = time_relative(models, lambda: lambda: 1.5, Timing(max_rounds=40))
    for name, cost in costs.items():
        assert result[name].ratio == pytest.approx(cost / 1.5, rel=1e-9), name
        assert 1.3 in [round(r * 1.5 / cost, 6) for r in result[name].ratios]  # slow rounds


def test_torch_timing_sets_the_thread_count_per_session_not_per_call(monkeypatch):
    """Resizing torch's thread pool inside the timed call would time the resize too."""
    from lib.latency.measure import sessions_of
    from lib.latency.relative import median_ms

    calls = []
    real, before = torch.set_num_threads, torch.get_num_threads()
    monkeypatch.setattr(torch, "set_num_threads", lambda n: (calls.append(n), real(n)))
    try:
        fresh = sessions_of("torch", torch.nn.Conv2d(3, 4, 3), [1, 3, 8, 8], threads=1)
        assert median_ms(fresh(), warmup=2, runs=5) > 0
        assert calls == [1]
    finally:
        real(before)


@pytest.mark.parametrize("kwargs", [{}, {"num_points": 106}, {"img_size": 112, "num_points": 106},
                                    full_kwargs("pfld_fbnet")],
                         ids=["none", "some", "flags", "all"])
def test_one_instance_has_one_fingerprint_however_its_kwargs_are_spelled(kwargs):
    """Defaults left out or written out name the same model: the same table must match it
    (the shipped tables hashed the kwargs as given, files now write every kwarg)."""
    assert find_lut("pfld_fbnet", kwargs) == default_lut_path("pfld_fbnet", 112)
    assert fingerprint("pfld_fbnet", kwargs, {}) == fingerprint("pfld_fbnet", {}, {})


def test_a_checkpoint_knows_its_table_across_the_canonical_kwargs_change():
    """A search resumed under the table it started with does not warn of another table, also
    when its checkpoint recorded the older hash of the kwargs as given."""
    shipped = load_lut(default_lut_path("pfld_fbnet", 112), "pfld_fbnet", {})  # older hash
    assert same_table(dict(shipped.metadata), shipped, "pfld_fbnet", full_kwargs("pfld_fbnet"))
    flops = resolve_lut("flops", "pfld_fbnet", TINY)  # counted anew, with today's hash
    older = {**flops.metadata, "space_kwargs": TINY,
             "fingerprint": fingerprint("pfld_fbnet", TINY, flops.slots, canonical=False)}
    assert same_table(older, flops, "pfld_fbnet", TINY)
    assert not same_table({**older, "fingerprint": "f" * 16}, flops, "pfld_fbnet", TINY)
    assert not same_table({**older, "backend": "ort"}, flops, "pfld_fbnet", TINY)
