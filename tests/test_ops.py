import pytest
import torch

from lib.ops import CATALOGUE, ESE, PeleeStem, build_op, format_op, parse_op

VALID = ["ir_k3_e6", "ir_k5_e1_g2", "ir_k3_e4_se", "ir_k3_e2_d3", "ir_k5_e2_se_hswish", "dw_k3",
         "dw_k5_se", "gh_k3", "gh_k3_e2", "conv_k5", "conv_k3_relu6", "skip"]


@pytest.mark.parametrize("text", VALID)
def test_round_trip(text):
    spec = parse_op(text)
    assert format_op(spec) == text == str(spec)


@pytest.mark.parametrize("text, fragment", [
    ("ir_k3", "missing required token(s) ['e']"),
    ("ir_e6_k3", "write it as 'ir_k3_e6'"),
    ("ir_k3_e6_g1", "write it as 'ir_k3_e6'"),
    ("ir_k3_e6_x", "unknown token 'x'"),
    ("dw_k3_e2", "unknown token 'e2'"),
    ("foo_k3", "unknown op type 'foo'"),
    ("ir_k4_e2", "kernel must be odd"),
    ("ir_k3_k5_e2", "repeats 'k'"),
    ("skip_k3", "unknown token 'k3'"),
    ("", "non-empty"),
])
def test_errors_name_the_problem(text, fragment):
    with pytest.raises(ValueError) as info:
        parse_op(text)
    assert fragment in str(info.value)


def test_every_token_changes_the_block():
    x = torch.randn(1, 16, 8, 8)
    param_counts = {op: sum(p.numel() for p in build_op(op, 16, 16, 1).parameters())
                    for op in ["ir_k3_e2", "ir_k5_e2", "ir_k3_e4", "ir_k3_e2_g2", "ir_k3_e2_se"]}
    assert len(set(param_counts.values())) == len(param_counts)
    dilated = build_op("ir_k3_e2_d3", 16, 16, 1)
    assert dilated(x).shape == x.shape
    assert any(getattr(m, "dilation", (1,))[0] == 3 for m in dilated.modules())


@pytest.mark.parametrize("op", VALID)
@pytest.mark.parametrize("stride, in_ch, out_ch", [(1, 16, 16), (2, 16, 32), (1, 16, 24)])
def test_shapes(op, stride, in_ch, out_ch):
    y = build_op(op, in_ch, out_ch, stride)(torch.randn(2, in_ch, 8, 8))
    assert y.shape == (2, out_ch, 8 // stride, 8 // stride)


def test_skip_is_identity_when_shapes_match():
    x = torch.randn(2, 16, 8, 8)
    assert torch.equal(build_op("skip", 16, 16, 1)(x), x)
    assert len(list(build_op("skip", 16, 32, 2).parameters())) > 0


def test_residual_rule():
    assert build_op("ir_k3_e2", 16, 16, 1).use_residual
    assert not build_op("ir_k3_e2", 16, 16, 2).use_residual
    assert not build_op("ir_k3_e2", 16, 32, 1).use_residual


def test_grouped_pointwise_checks_divisibility():
    with pytest.raises(ValueError, match="not divisible by g2"):
        build_op("ir_k3_e1_g2", 15, 16, 1)


def test_ese_is_global_pool_conv_hardsigmoid_scale():
    ese = ESE(4)
    x = torch.rand(1, 4, 5, 5)
    with torch.no_grad():
        gate = torch.nn.functional.hardsigmoid(ese.fc(x.mean((2, 3), keepdim=True)))
        assert torch.allclose(ese(x), x * gate)


def test_pelee_stem_structure():
    stem = PeleeStem(3, 16)
    first, out = stem(torch.randn(1, 3, 112, 112))
    assert first.shape == (1, 16, 56, 56) and out.shape == (1, 16, 28, 28)
    second_conv = stem.branch_conv[1][0]
    assert second_conv.kernel_size == (3, 3) and second_conv.stride == (2, 2)
    assert stem.fuse[0].in_channels == 32


def test_catalogue_is_complete():
    assert set(CATALOGUE) == {"ir", "dw", "gh", "conv", "skip"}
