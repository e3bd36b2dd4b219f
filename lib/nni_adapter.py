"""NNI as a peer: a registered space as an NNI 3.0 ``ModelSpace``, and NNI's frozen samples
back as this project's architecture files.

Optional (``pip install -r requirements-nni.txt``: nni 3.0 + pytorch-lightning). The core
never imports this module, and this module imports nni only inside its functions, so the
project imports and runs without it.

Each op slot becomes a ``LayerChoice`` labelled like the slot, its candidates keyed by their
op strings, so an NNI sample ``{label: op}`` is already this project's ``choices``. Width
slots have no ``LayerChoice`` form (a width changes the layers around it); spaces with width
slots are refused.
"""
from __future__ import annotations

import importlib.util

from torch import nn

from .spaces import create_space, describe_space, full_kwargs, make_arch, validate_arch
from .spaces.choosers import Chooser, Slot


def nni_available() -> bool:
    return importlib.util.find_spec("nni") is not None


class _LayerChoiceChooser(Chooser):
    def __init__(self, layer_choice):
        super().__init__()
        self.layer_choice = layer_choice

    def build(self, slot: Slot) -> nn.Module:
        return self.layer_choice({op: slot.build(op) for op in slot.candidates},
                                 label=slot.label)

    def build_width(self, slot, base_ch: int) -> int:
        raise ValueError(f"width slot {slot.label!r}: width slots have no NNI LayerChoice "
                         "form; the NNI adapter takes spaces with op slots only")


def nni_model_space(space: str, space_kwargs: dict | None = None) -> nn.Module:
    """``space`` as an NNI ``ModelSpace`` (one ``LayerChoice`` per op slot)."""
    from nni.nas.nn.pytorch import LayerChoice, ModelSpace

    kwargs = full_kwargs(space, space_kwargs or {})

    class FaceNASSpace(ModelSpace):
        def __init__(self):
            super().__init__()
            self.net = create_space(space, _LayerChoiceChooser(LayerChoice), **kwargs)

        def forward(self, x):
            return self.net(x)

    return FaceNASSpace()


def arch_from_nni(space: str, space_kwargs: dict | None, sample: dict) -> dict:
    """An architecture file from an NNI sample (``{label: op}``, e.g. an exported or frozen
    architecture), validated against the space: a missing or foreign choice is refused."""
    kwargs = full_kwargs(space, space_kwargs or {})
    slots = describe_space(space, kwargs)
    missing = [label for label in slots if label not in sample]
    if missing:
        raise ValueError(f"NNI sample has no choice for slots {missing}")
    choices = {label: str(sample[label]) for label in slots}
    return validate_arch(make_arch(space, kwargs, choices), "NNI sample")
