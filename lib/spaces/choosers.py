"""Choosers: what a space calls at each searchable place.

``chooser(label, candidates, in_ch, out_ch, stride) -> nn.Module``. Every chooser records the
slots it was asked about, in call order, so the space's slot table comes from construction
itself rather than a hand-written list.
"""
from __future__ import annotations

import re
from dataclasses import dataclass

from torch import nn

from ..ops import build_op, parse_op

_LABEL = re.compile(r"^[A-Za-z][A-Za-z0-9_]*$")


@dataclass(frozen=True)
class Slot:
    label: str
    candidates: tuple[str, ...]
    in_ch: int
    out_ch: int
    stride: int


class Chooser:
    """Base: validates and records slots; subclasses decide what module to return."""

    def __init__(self):
        self.slots: dict[str, Slot] = {}
        self.modules: dict[str, nn.Module] = {}

    def __call__(self, label, candidates, in_ch, out_ch, stride) -> nn.Module:
        if not _LABEL.match(label):
            raise ValueError(f"slot label {label!r} must match {_LABEL.pattern}")
        if label in self.slots:
            raise ValueError(f"slot label {label!r} used twice")
        candidates = tuple(candidates)
        if len(set(candidates)) != len(candidates) or not candidates:
            raise ValueError(f"slot {label!r}: candidates must be unique and non-empty")
        for op in candidates:
            parse_op(op)
        slot = Slot(label, candidates, in_ch, out_ch, stride)
        self.slots[label] = slot
        module = self.build(slot)
        self.modules[label] = module
        return module

    def build(self, slot: Slot) -> nn.Module:
        raise NotImplementedError


class FixedChooser(Chooser):
    """Builds the chosen block at every slot: the subnet."""

    def __init__(self, choices: dict[str, str]):
        super().__init__()
        self.choices = dict(choices)

    def build(self, slot: Slot) -> nn.Module:
        if slot.label not in self.choices:
            raise KeyError(f"architecture has no choice for slot {slot.label!r}")
        op = self.choices[slot.label]
        if op not in slot.candidates:
            raise ValueError(f"slot {slot.label!r}: {op!r} is not a candidate "
                             f"(candidates: {list(slot.candidates)})")
        return build_op(op, slot.in_ch, slot.out_ch, slot.stride)


class FirstChooser(FixedChooser):
    """Builds each slot's first candidate; used to describe a space cheaply."""

    def __init__(self):
        super().__init__({})

    def build(self, slot: Slot) -> nn.Module:
        return build_op(slot.candidates[0], slot.in_ch, slot.out_ch, slot.stride)
