"""The fixed subnet: built by the same space class, weights inherited strictly."""
from __future__ import annotations

from torch import nn

from ..spaces import FixedChooser, create_space, validate_arch
from .mixed_op import MixedOp
from .supernet import Supernet


def build_subnet(arch: dict) -> nn.Module:
    validate_arch(arch)
    return create_space(arch["space"], FixedChooser(arch["choices"]),
                        **arch.get("space_kwargs", {}))


def inheritance_map(supernet: Supernet, choices: dict[str, str]) -> dict[str, str]:
    """Supernet state-dict key -> subnet key. Shared layers map ``net.X -> X``; inside a
    MixedOp at path P, only the chosen candidate i maps: ``net.P.ops.i.Y -> P.Y``."""
    chosen_prefix = {}
    for path, module in supernet.net.named_modules():
        if isinstance(module, MixedOp):
            index = module.candidates.index(choices[module.label])
            chosen_prefix[f"{path}.ops."] = (f"{path}.ops.{index}.", f"{path}.")
    mapping = {}
    for key in supernet.net.state_dict():
        for mixed, (chosen, target) in chosen_prefix.items():
            if key.startswith(mixed):
                if key.startswith(chosen):
                    mapping[f"net.{key}"] = target + key[len(chosen):]
                # a key of another candidate of this MixedOp maps
                # to nothing: only the chosen path is inherited
                break
        else:
            mapping[f"net.{key}"] = key
    return mapping


def _narrow(tensor, shape, searched_width: bool):
    """The leading channels of a supernet tensor for a narrower subnet (FBNetV2 masking keeps
    the first channels). Only spaces with width slots may narrow; None when impossible."""
    if tensor.shape == shape:
        return tensor
    # a subnet tensor larger than the supernet's cannot
    # come from a narrower width: an error, not a pad
    if not searched_width or len(shape) != tensor.dim() or \
            any(t > s for t, s in zip(shape, tensor.shape)):
        return None
    return tensor[tuple(slice(0, t) for t in shape)].clone()


def inherit_weights(subnet: nn.Module, supernet: Supernet, choices: dict[str, str]) -> None:
    """Copy the chosen path's weights into ``subnet`` (narrowed to the chosen widths); any
    mismatch is an error listing it."""
    source = supernet.state_dict()
    mapping = inheritance_map(supernet, choices)
    target = subnet.state_dict()
    state, shape = {}, []
    for src, dst in mapping.items():
        if dst in target:
            # only under width slots may shapes differ; anywhere
            # else a differing shape is a bug to report
            state[dst] = _narrow(source[src], target[dst].shape, bool(supernet.width_slots))
            if state[dst] is None:
                shape.append(f"{dst} {tuple(source[src].shape)} -> {tuple(target[dst].shape)}")
        else:
            # kept, so the report below lists it as not in the subnet
            state[dst] = source[src]
    missing = sorted(set(target) - set(state))
    unexpected = sorted(set(state) - set(target))
    if missing or unexpected or shape:
        raise RuntimeError("weight inheritance mismatch:\n"
                           f"  missing in supernet: {missing}\n"
                           f"  not in subnet: {unexpected}\n"
                           f"  shape differs: {shape}")
    subnet.load_state_dict(state, strict=True)


def inherited_subnet(supernet: Supernet, arch: dict) -> nn.Module:
    """The subnet of ``arch`` with its weights inherited from ``supernet``."""
    model = build_subnet(arch)
    inherit_weights(model, supernet, arch["choices"])
    return model
