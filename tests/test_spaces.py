import json

import pytest
import torch

from lib.spaces import (FixedChooser, create_space, describe_space, list_spaces, load_arch,
                        make_arch, save_arch, validate_arch)
from lib.spaces.pfld_fbnet import S0, S1
from tests.conftest import tiny_input


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
