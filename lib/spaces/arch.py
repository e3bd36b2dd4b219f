"""Architecture files: ``{"space", "space_kwargs", "choices"}``, validated on load."""
from __future__ import annotations

import json
from pathlib import Path

from ..atomic import atomic_write_text
from .choosers import FirstChooser
from .registry import create_space, full_kwargs, get_space


def describe_space(space: str, space_kwargs: dict | None = None):
    """The slot table of a space instance: op slots, then width slots, each in construction
    order."""
    chooser = FirstChooser()
    create_space(space, chooser, **(space_kwargs or {}))
    return {**chooser.slots, **chooser.width_slots}


def validate_arch(arch: dict, source: str = "architecture") -> dict:
    """Check an architecture dict against its space; raise ValueError listing every problem."""
    for key in ("space", "choices"):
        if key not in arch:
            raise ValueError(f"{source}: missing key {key!r}")
    unknown = set(arch) - {"space", "space_kwargs", "choices", "meta"}
    if unknown:
        raise ValueError(f"{source}: unknown key(s) {sorted(unknown)}")
    get_space(arch["space"])
    slots = describe_space(arch["space"], arch.get("space_kwargs"))
    choices = arch["choices"]
    problems = [f"slot {label!r} has no choice" for label in slots if label not in choices]
    problems += [f"{label!r} is not a slot of {arch['space']}" for label in choices
                 if label not in slots]
    problems += [f"slot {label!r}: {op!r} is not a candidate {list(slots[label].candidates)}"
                 for label, op in choices.items()
                 if label in slots and op not in slots[label].candidates]
    if problems:
        raise ValueError(f"{source}: invalid architecture:\n  " + "\n  ".join(problems))
    # files written before the canonical form name only the kwargs they were given
    return {**arch, "space_kwargs": full_kwargs(arch["space"], arch.get("space_kwargs"))}


def make_arch(space: str, space_kwargs: dict, choices: dict, **meta) -> dict:
    arch = {"space": space, "space_kwargs": full_kwargs(space, space_kwargs),
            "choices": dict(choices)}
    if meta:
        arch["meta"] = meta
    return arch


def save_arch(arch: dict, path) -> None:
    atomic_write_text(Path(path), json.dumps(arch, indent=2) + "\n")


def load_arch(path) -> dict:
    path = Path(path)
    try:
        arch = json.loads(path.read_text())
    except (OSError, json.JSONDecodeError) as exc:
        raise ValueError(f"{path}: cannot read architecture file: {exc}") from exc
    return validate_arch(arch, str(path))

