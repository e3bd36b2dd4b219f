"""Choosers: what a space calls at each searchable place.

``chooser(label, candidates, in_ch, out_ch, stride) -> nn.Module`` for a block;
``chooser.width(label, multipliers, base) -> (channels, module)`` for a searchable width
(see widths.py). Every chooser records the slots it was asked about, in call order, so the
space's slot table comes from construction itself rather than a hand-written list.
"""
from __future__ import annotations

import re
from dataclasses import dataclass

from torch import nn

from ..ops import build_op, parse_op
from .widths import WidthSlot, base_channels, parse_multiplier

_LABEL = re.compile(r"^[A-Za-z][A-Za-z0-9_]*$")


@dataclass(frozen=True)
class Slot:
    label: str
    candidates: tuple[str, ...]
    in_ch: int
    out_ch: int
    stride: int
    in_width: str | None = None  # the width slot that sets in_ch (None: fixed)
    out_width: str | None = None

    @property
    def residual(self) -> bool | None:
        """Blocks between width-searched maps may add a residual only within one width slot
        (never by a coincidence of the chosen channel counts; build_op adds the stride and
        shape conditions); None: the block decides."""
        if self.in_width is None and self.out_width is None:
            return None
        return self.in_width == self.out_width

    def build(self, op: str) -> nn.Module:
        return build_op(op, self.in_ch, self.out_ch, self.stride, residual=self.residual)


class Chooser:
    """Base: validates and records slots; subclasses decide what module to return."""

    def __init__(self):
        self.slots: dict[str, Slot] = {}
        self.modules: dict[str, nn.Module] = {}
        self.width_slots: dict[str, WidthSlot] = {}
        self.width_modules: dict[str, nn.Module] = {}
        self.widths: dict[str, int] = {}  # channels each width slot was built with

    def _check_label(self, label, candidates) -> tuple[str, ...]:
        if not _LABEL.match(label):
            raise ValueError(f"slot label {label!r} must match {_LABEL.pattern}")
        if label in self.slots or label in self.width_slots:
            raise ValueError(f"slot label {label!r} used twice")
        candidates = tuple(candidates)
        if len(set(candidates)) != len(candidates) or not candidates:
            raise ValueError(f"slot {label!r}: candidates must be unique and non-empty")
        return candidates

    def __call__(self, label, candidates, in_ch, out_ch, stride, in_width=None,
                 out_width=None) -> nn.Module:
        candidates = self._check_label(label, candidates)
        for op in candidates:
            parse_op(op)
        for width in (in_width, out_width):
            if width is not None and width not in self.width_slots:
                raise ValueError(f"slot {label!r}: unknown width slot {width!r}")
        slot = Slot(label, candidates, in_ch, out_ch, stride, in_width, out_width)
        self.slots[label] = slot
        module = self.build(slot)
        self.modules[label] = module
        return module

    def width(self, label, candidates, base, cap=None, divisor=8) -> tuple[int, nn.Module]:
        """A searchable width: returns the channels to build the following layers with and
        the module to apply to their outputs."""
        candidates = self._check_label(label, candidates)
        for value in candidates:
            parse_multiplier(label, value)
        slot = WidthSlot(label, candidates, base, cap, divisor)
        base_ch = base_channels(slot, self.widths)
        self.width_slots[label] = slot
        self.widths[label] = self.build_width(slot, base_ch)
        self.width_modules[label] = self.width_module(slot, self.widths[label])
        return self.widths[label], self.width_modules[label]

    def build(self, slot: Slot) -> nn.Module:
        raise NotImplementedError

    def build_width(self, slot: WidthSlot, base_ch: int) -> int:
        """Channels to build with: the chosen width (subnet) or the widest (supernet)."""
        raise NotImplementedError

    def width_module(self, slot: WidthSlot, channels: int) -> nn.Module:
        return nn.Identity()


class FixedChooser(Chooser):
    """Builds the chosen block at every slot: the subnet."""

    def __init__(self, choices: dict[str, str]):
        super().__init__()
        self.choices = dict(choices)

    def build(self, slot: Slot) -> nn.Module:
        return slot.build(self._choice(slot))

    def build_width(self, slot: WidthSlot, base_ch: int) -> int:
        return slot.channels(self._choice(slot), base_ch)

    def _choice(self, slot) -> str:
        if slot.label not in self.choices:
            raise KeyError(f"architecture has no choice for slot {slot.label!r}")
        value = self.choices[slot.label]
        if value not in slot.candidates:
            raise ValueError(f"slot {slot.label!r}: {value!r} is not a candidate "
                             f"(candidates: {list(slot.candidates)})")
        return value


class FirstChooser(FixedChooser):
    """Builds each slot's first candidate; used to describe a space cheaply."""

    def __init__(self):
        super().__init__({})

    def _choice(self, slot) -> str:
        return slot.candidates[0]
