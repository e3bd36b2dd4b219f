import json

import pytest
import torch

from lib.spaces import (FixedChooser, create_space, describe_space, list_spaces, load_arch,
                        make_arch, save_arch, validate_arch)
from lib.spaces.pfld_fbnet import S0, S1
from tests.conftest import ROOT, tiny_input


def test_registry_lists_pfld():
    assert "pfld_fbnet" in list_spaces()
    with pytest.raises(KeyError, match="unknown space"):
        describe_space("nope")


def test_pfld_default_layout_matches_nni():
    slots = describe_space("pfld_fbnet")
    assert list(slots) == ["stage0_layer0", "stage0_layer1", "stage1_layer0", "stage1_layer1",
                           "stage1_layer2"]
    assert slots["stage0_layer0"].candidates == S0 + ("skip",)
    assert slots["stage1_layer0"].candidates == S1  # stride 2, widths change: no skip
    assert slots["stage1_layer0"].stride == 2 and slots["stage1_layer0"].out_ch == 64
    assert all(len(s.candidates) >= 9 for s in slots.values())


def test_pfld_outputs_and_param_range():
    choices = {label: slot.candidates[0] for label, slot in describe_space("pfld_fbnet").items()}
    model = create_space("pfld_fbnet", FixedChooser(choices), num_points=106)
    landmarks, pose = model(torch.randn(2, 3, 112, 112))
    assert landmarks.shape == (2, 212) and pose.shape == (2, 3)
    deployed = sum(p.numel() for n, p in model.named_parameters() if not n.startswith("aux."))
    assert 100_000 < deployed < 250_000  # REFERENCE: subnets ~104K-206K params


def test_pfld_rejects_bad_img_size():
    with pytest.raises(ValueError, match="img_size 100"):
        describe_space("pfld_fbnet", {"img_size": 100})


def test_arch_validation_lists_problems(tmp_path):
    slots = describe_space("pfld_fbnet")
    choices = {label: s.candidates[0] for label, s in slots.items()}
    choices["stage1_layer0"] = "skip"
    del choices["stage0_layer0"]
    choices["bogus"] = "ir_k3_e2"
    with pytest.raises(ValueError) as info:
        validate_arch(make_arch("pfld_fbnet", {}, choices))
    text = str(info.value)
    assert "'stage0_layer0' has no choice" in text
    assert "'bogus' is not a slot" in text
    assert "'skip' is not a candidate" in text


def test_arch_file_round_trip(tmp_path, space):
    name, kwargs = space
    slots = describe_space(name, kwargs)
    arch = make_arch(name, kwargs, {label: s.candidates[-1] for label, s in slots.items()})
    save_arch(arch, tmp_path / "arch.json")
    assert load_arch(tmp_path / "arch.json") == json.loads(json.dumps(arch))


def test_every_space_builds_and_trains_as_subnet(space):
    name, kwargs = space
    for pick in (0, -1):
        choices = {label: s.candidates[pick] for label, s in describe_space(name, kwargs).items()}
        model = create_space(name, FixedChooser(choices), **kwargs)
        out = model(tiny_input(kwargs))
        loss = sum(o.float().pow(2).mean() for o in (out if isinstance(out, tuple) else (out,)))
        loss.backward()
        assert all(p.grad is not None for p in model.parameters() if p.requires_grad)


def test_mbv2_baseline_is_mobilenetv2():
    """The architecture file rebuilds MobileNetV2 1.0: its backbone (all but the final linear)
    has MobileNetV2's 2.22 M parameters, and the space spans the issue's table."""
    arch = load_arch(ROOT / "lib/spaces/archs/mbv2_landmark_1.0.json")
    model = create_space("mbv2_landmark", FixedChooser(arch["choices"]), **arch["space_kwargs"])
    out = model(torch.randn(2, 3, 128, 128))
    assert out.shape == (2, 140)
    backbone = sum(p.numel() for n, p in model.named_parameters() if not n.startswith("head.3"))
    assert 2.20e6 < backbone < 2.24e6
    slots = describe_space("mbv2_landmark")
    assert len([s for s in slots if s.endswith("_width")]) == 6
    assert len(slots["stage0_layer0"].candidates) == 3  # k 3/5/7 at e6
    assert len(slots["stage1_layer1"].candidates) == 16  # k x e 2..6, + skip
    assert slots["stage5_width"].candidates == ("0.25", "0.5", "0.75", "1.0", "1.25")


def test_hourglass_layout_and_size_check():
    slots = describe_space("hourglass_seg")
    assert sum(s.startswith("down") and s.endswith("_layer0") for s in slots) == 5
    assert sum(s.startswith("skip") and s.endswith("_layer0") for s in slots) == 4
    assert sum(s.startswith("up") and s.endswith("_layer0") for s in slots) == 4
    assert slots["down0_layer0"].candidates == ("conv_k3", "conv_k5", "conv_k7")
    assert "skip" in slots["down0_layer1"].candidates and slots["down1_layer0"].stride == 2
    with pytest.raises(ValueError, match="img_size 100 must be a positive multiple of the "
                                         "total stride 32"):
        describe_space("hourglass_seg", {"img_size": 100})
    with pytest.raises(ValueError, match="mbv2_landmark: img_size 100"):
        describe_space("mbv2_landmark", {"img_size": 100})
