"""The optional NNI adapter (skipped without requirements-nni.txt)."""
import pytest
import torch

from lib.nni_adapter import arch_from_nni, nni_available
from lib.spaces import describe_space, get_space
from lib.supernet import build_subnet
from tests.conftest import tiny_input

TINY = dict(get_space("pfld_fbnet").tiny_kwargs)
needs_nni = pytest.mark.skipif(not nni_available(),
                               reason="nni is optional: pip install -r requirements-nni.txt")


@needs_nni
def test_every_op_slot_is_a_layer_choice_and_samples_map_back():
    from nni.nas.nn.pytorch import LayerChoice

    from lib.nni_adapter import nni_model_space

    space = nni_model_space("pfld_fbnet", TINY)
    choices = {m.label: list(m.names) for m in space.modules() if isinstance(m, LayerChoice)}
    slots = describe_space("pfld_fbnet", TINY)
    assert choices == {label: list(slot.candidates) for label, slot in slots.items()}
    sample = {label: names[-1] for label, names in choices.items()}
    frozen = space.freeze(sample)
    arch = arch_from_nni("pfld_fbnet", TINY, sample)
    subnet = build_subnet(arch)
    subnet.load_state_dict({k.removeprefix("net."): v for k, v in frozen.state_dict().items()})
    x = tiny_input(TINY)
    frozen.eval(), subnet.eval()
    assert torch.allclose(frozen(x)[0], subnet(x)[0], atol=1e-6)


def test_a_foreign_sample_is_refused():  # no nni needed: the mapping is the project's
    with pytest.raises(ValueError, match="no choice for slots"):
        arch_from_nni("pfld_fbnet", TINY, {})
    slots = describe_space("pfld_fbnet", TINY)
    sample = {label: slot.candidates[0] for label, slot in slots.items()}
    sample[next(iter(slots))] = "ir_k9_e1"
    with pytest.raises(ValueError, match="is not a candidate"):
        arch_from_nni("pfld_fbnet", TINY, sample)
