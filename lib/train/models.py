"""Models from checkpoints: the supernet of a search, the subnet of a retrain."""
from __future__ import annotations

from ..spaces import validate_arch
from ..supernet import Supernet, build_subnet, inherited_subnet
from .checkpoint import CheckpointError, load_checkpoint


def load_strict(model, state, source) -> None:
    own = model.state_dict()  # once: rebuilding it per key is quadratic in the key count
    expected, given = set(own), set(state)
    missing, unexpected = sorted(expected - given), sorted(given - expected)
    shape = sorted(k for k in expected & given if own[k].shape != state[k].shape)
    if missing or unexpected or shape:
        raise CheckpointError(f"{source}: weights do not match the model:\n"
                              f"  missing: {missing}\n  unexpected: {unexpected}\n"
                              f"  shape differs: {shape}")
    model.load_state_dict(state, strict=True)


def supernet_from_checkpoint(path, ckpt: dict | None = None) -> tuple[Supernet, dict]:
    """The supernet of a search checkpoint (``ckpt``: the file's contents when already
    loaded)."""
    ckpt = ckpt or load_checkpoint(path, kind="supernet")
    model = Supernet(ckpt["space"], ckpt["space_kwargs"], ckpt.get("gumbel", "hard"))
    load_strict(model, ckpt["model"], path)
    return model, ckpt


def subnet_from_checkpoint(path, ckpt: dict | None = None):
    """``(model, arch, checkpoint)`` from a subnet checkpoint (or the argmax subnet with
    inherited weights from a supernet checkpoint)."""
    ckpt = ckpt or load_checkpoint(path)
    # a search checkpoint stands in for a subnet (its derived architecture,
    # weights inherited), so evaluate and export accept either
    if ckpt.get("kind") == "supernet":
        supernet, _ = supernet_from_checkpoint(path, ckpt)
        arch = validate_arch(ckpt["arch"], str(path))
        return inherited_subnet(supernet, arch), arch, ckpt
    if ckpt.get("kind") != "subnet":
        raise CheckpointError(f"{path}: a {ckpt.get('kind')!r} checkpoint, expected a subnet")
    arch = validate_arch(ckpt["arch"], str(path))
    model = build_subnet(arch)
    load_strict(model, ckpt["model"], path)
    return model, arch, ckpt
