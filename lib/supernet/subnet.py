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
                break
        else:
            mapping[f"net.{key}"] = key
    return mapping


def inherit_weights(subnet: nn.Module, supernet: Supernet, choices: dict[str, str]) -> None:
    """Copy the chosen path's weights into ``subnet``; any mismatch is an error listing it."""
    source = supernet.state_dict()
    mapping = inheritance_map(supernet, choices)
    state = {dst: source[src] for src, dst in mapping.items()}
    target = subnet.state_dict()
    missing = sorted(set(target) - set(state))
    unexpected = sorted(set(state) - set(target))
    shape = sorted(k for k in set(state) & set(target) if state[k].shape != target[k].shape)
    if missing or unexpected or shape:
        raise RuntimeError("weight inheritance mismatch:\n"
                           f"  missing in supernet: {missing}\n"
                           f"  not in subnet: {unexpected}\n"
                           f"  shape differs: {shape}")
    subnet.load_state_dict(state, strict=True)
