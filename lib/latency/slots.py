"""A space's slots as the latency table sees them: traced input shapes, channel grids of
searched widths, the table's entry keys and the space fingerprint that ties a table to them."""
from __future__ import annotations

import hashlib
import json
import random

import torch

from ..spaces import FirstChooser, create_space, full_kwargs
from ..spaces.arch import jsonable
from ..spaces.widths import grids


def input_shape_of(space: str, space_kwargs: dict) -> list[int]:
    size = full_kwargs(space, space_kwargs)["img_size"]
    return [1, 3, size, size]


def trace_slots(space: str, space_kwargs: dict) -> dict:
    """Slot table with each slot's real input shape, from one forward of the first-candidate
    model (hooks on the slot modules). Width slots carry the channel grid their LUT entries
    are measured on; a block between searched widths names its width slots."""
    chooser = FirstChooser()
    model = create_space(space, chooser, **space_kwargs).eval()
    shapes = {}
    handles = [module.register_forward_pre_hook(
        lambda _m, args, label=label: shapes.__setitem__(label, list(args[0].shape)))
        for label, module in chooser.modules.items()]
    with torch.no_grad():
        model(torch.zeros(input_shape_of(space, space_kwargs)))
    for handle in handles:
        handle.remove()
    table = {}
    for label, slot in chooser.slots.items():
        table[label] = {"candidates": list(slot.candidates), "in_shape": shapes[label],
                        "out_ch": slot.out_ch, "stride": slot.stride}
        table[label].update({key: value for key, value in (("in_width", slot.in_width),
                             ("out_width", slot.out_width)) if value is not None})
    for label, grid in grids(chooser.width_slots).items():
        table[label] = {**chooser.width_slots[label].info(), "grid": grid}
    return table


def op_slots(slots: dict) -> dict:
    return {label: info for label, info in slots.items() if info.get("kind") != "width"}


def searched(info: dict) -> bool:
    """Whether an op slot sits between searched widths (its entries span channel grids)."""
    return "in_width" in info or "out_width" in info


def channel_grid(info: dict, side: str, slots: dict) -> list[int]:
    width = info.get(f"{side}_width")
    if width:
        return slots[width]["grid"]
    return [info["in_shape"][1] if side == "in" else info["out_ch"]]


def slot_entries(label: str, info: dict, slots: dict):
    """``(op, in_shape, out_ch, key)`` for every entry of an op slot: each candidate, over the
    channel grids of its width slots when it has them."""
    for op in info["candidates"]:
        for cin in channel_grid(info, "in", slots):
            for cout in channel_grid(info, "out", slots):
                shape = [info["in_shape"][0], cin, *info["in_shape"][2:]]
                yield op, shape, cout, entry_key(label, op, shape,
                                                 cout if searched(info) else None)


def fingerprint(space: str, space_kwargs: dict, slots: dict) -> str:
    blob = json.dumps({"space": space, "kwargs": jsonable(space_kwargs), "slots": slots},
                      sort_keys=True)
    return hashlib.sha256(blob.encode()).hexdigest()[:16]


def entry_key(label: str, op: str, in_shape, out_ch: int | None = None) -> str:
    key = f"{label}/{op}/{'x'.join(str(d) for d in in_shape)}"
    return key if out_ch is None else f"{key}/o{out_ch}"


def random_choices(slots: dict, rng: random.Random) -> dict:
    return {label: rng.choice(info["candidates"]) for label, info in slots.items()}
