import pytest
import torch

from lib.spaces import make_arch
from lib.supernet import MixedOp, Supernet, build_subnet, inherit_weights, temperature
from tests.conftest import tiny_input


def _loss(out):
    return sum(o.pow(2).mean() for o in (out if isinstance(out, tuple) else (out,)))


@pytest.mark.parametrize("mode", ["hard", "soft"])
def test_forward_backward_gives_theta_gradients(space, mode):
    name, kwargs = space
    torch.manual_seed(0)
    net = Supernet(name, kwargs, gumbel=mode)
    net.sample(1.0, torch.Generator().manual_seed(0))
    _loss(net(tiny_input(kwargs))).backward()
    moot = _moot_widths(net)
    for label, logits in net.arch.items():
        assert logits.grad is not None, label
        if label in moot:  # every candidate gives the same channels: the choice changes nothing
            assert logits.grad.abs().max() < 1e-6, label
        else:
            assert logits.grad.abs().sum() > 0, label


def _moot_widths(net) -> set:
    """Width slots whose candidates all resolve to the same channel count under the installed
    sample (the cap reached on a wide base)."""
    return {label for label, channels in net.width_channels.items() if len(set(channels)) == 1}


def test_hard_mode_runs_only_the_sampled_candidate(space):
    name, kwargs = space
    net = Supernet(name, kwargs, gumbel="hard")
    weights = net.sample(1.0, torch.Generator().manual_seed(0))
    calls = []
    for op in net.mixed_ops.values():
        for i, candidate in enumerate(op.ops):
            candidate.register_forward_hook(lambda *_, lab=op.label, i=i: calls.append((lab, i)))
    net(tiny_input(kwargs))
    assert sorted(calls) == sorted((label, int(w.argmax())) for label, w in weights.items()
                                   if label in net.mixed_ops)
    for w in weights.values():  # straight-through: one-hot in value
        assert torch.equal(w.detach(), torch.nn.functional.one_hot(w.argmax(), len(w)).float())


def test_one_sample_is_shared_by_forward_and_cost():
    net = Supernet("pfld_fbnet", {"img_size": 96, "num_points": 8})
    costs = {label: torch.arange(len(s.candidates), dtype=torch.float32)
             for label, s in net.slots.items()}
    weights = net.sample(1.0, torch.Generator().manual_seed(3))
    expected = sum(float(costs[label][int(w.argmax())]) for label, w in weights.items())
    assert net.expected_cost(costs).detach().item() == pytest.approx(expected)
    for label, op in net.mixed_ops.items():
        assert op.weights is weights[label]


def test_parameter_groups_are_disjoint():
    net = Supernet("pfld_fbnet", {"img_size": 96, "num_points": 8})
    weight_ids = {id(p) for p in net.weight_parameters()}
    arch_ids = {id(p) for p in net.arch_parameters()}
    assert weight_ids.isdisjoint(arch_ids)
    assert weight_ids | arch_ids == {id(p) for p in net.parameters()}


def test_temperature_schedule():
    assert temperature(0) == 5.0
    assert temperature(10) == pytest.approx(5.0 * torch.exp(torch.tensor(-0.45)).item())


def test_derive_is_argmax():
    net = Supernet("pfld_fbnet", {"img_size": 96, "num_points": 8})
    with torch.no_grad():
        for logits in net.arch.values():
            logits[-1] = 1.0
    assert net.derive() == {label: s.candidates[-1] for label, s in net.slots.items()}


def test_forward_without_sample_is_an_error():
    net = Supernet("pfld_fbnet", {"img_size": 96, "num_points": 8})
    with pytest.raises(RuntimeError, match="no sample set"):
        net(torch.randn(1, 3, 96, 96))


def _inherited(name, kwargs, widest: bool, mixed: bool = False):
    """(supernet fixed to a sampled arch, its inherited subnet), both in eval mode; widths at
    the widest, the narrowest, or (``mixed``) alternating narrow and wide."""
    net = Supernet(name, kwargs)
    gen = torch.Generator().manual_seed(1)
    for _ in range(3):  # move BN statistics away from their init
        net.sample(1.0, gen)
        net(tiny_input(kwargs, batch=4))
    choices = net.sample_archs(1, gen)[0]
    for i, label in enumerate(net.width_slots):
        choices[label] = net.candidates[label][-1 if widest or (mixed and i % 2) else 0]
    net.eval()
    net.fix(choices)
    subnet = build_subnet(make_arch(name, kwargs, choices))
    inherit_weights(subnet, net, choices)
    return net, subnet.eval()


def test_subnet_inherits_and_reproduces_supernet(space):
    """Exact at the widest widths (nothing masked; narrowing keeps every tensor)."""
    name, kwargs = space
    net, subnet = _inherited(name, kwargs, widest=True)
    x = tiny_input(kwargs)
    with torch.no_grad():
        for a, b in zip(net(x), subnet(x)):
            assert torch.allclose(a, b, atol=1e-6)


@pytest.mark.parametrize("pick", ["narrowest", "mixed"])
def test_masked_supernet_is_the_narrow_subnet(space, pick):
    """Masking block outputs AND the hidden channels by the input width makes the supernet
    compute exactly the inherited narrower subnet. The tolerance is relative to the output's
    spread: mbv2's +0.5 offset would hide any difference from a max-relative one."""
    name, kwargs = space
    if not Supernet(name, kwargs).width_slots:
        pytest.skip(f"{name} has no width slots")
    net, subnet = _inherited(name, kwargs, widest=False, mixed=pick == "mixed")
    x = tiny_input(kwargs, batch=4)
    with torch.no_grad():
        a, b = net(x), subnet(x)
    assert a.shape == b.shape
    assert (a - b).abs().max() <= 1e-4 * a.std()
    assert sum(p.numel() for p in subnet.parameters()) < \
        sum(p.numel() for p in net.weight_parameters())


def test_inheritance_is_strict():
    kwargs = {"img_size": 96, "num_points": 8}
    net = Supernet("pfld_fbnet", kwargs)
    choices = net.derive()
    wrong = build_subnet(make_arch("pfld_fbnet", {**kwargs, "num_points": 9}, choices))
    with pytest.raises(RuntimeError, match="shape differs"):
        inherit_weights(wrong, net, choices)
    other = dict(choices)
    label = next(iter(other))
    other[label] = net.slots[label].candidates[1]
    subnet = build_subnet(make_arch("pfld_fbnet", kwargs, other))
    with pytest.raises(RuntimeError, match="inheritance mismatch"):
        inherit_weights(subnet, net, choices)


def test_soft_mode_mixes_all_candidates():
    net = Supernet("pfld_fbnet", {"img_size": 96, "num_points": 8}, gumbel="soft")
    net.sample(5.0, torch.Generator().manual_seed(0))
    assert all(op.active is None for op in net.mixed_ops.values())
    assert isinstance(next(iter(net.mixed_ops.values())), MixedOp)
