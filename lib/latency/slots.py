"""A space's slots as the latency table sees them: traced input shapes, channel grids of
searched widths, the table's entry keys and the space fingerprint that ties a table to them."""
from __future__ import annotations

import hashlib
import json
import random

import torch

from ..spaces import FirstChooser, create_space, full_kwargs, jsonable, short_kwargs
from ..spaces.widths import grids


def input_shape_of(space: str, space_kwargs: dict) -> list[int]:
    size = full_kwargs(space, space_kwargs)["img_size"]
    # batch 1: a LUT prices single-image inference, the deployment case
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
    # spatial shapes do not depend on the choices (stride belongs to the slot, not the op);
    # channels that do, under searched widths, are replaced by each width's grid in slot_entries
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
    # width slots have no entries of their own: their cost is
    # in the blocks around them, priced over the channel grid
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


def fingerprint(space: str, space_kwargs: dict, slots: dict, canonical: bool = True) -> str:
    # the canonical kwargs and sort_keys: one space instance, one hash, in every process and
    # however its kwargs were spelled; the traced slots make a table stale when a block's
    # shapes or candidates change, even under unchanged kwargs. canonical=False: the hash of
    # the kwargs as given, which tables and kits built before 2026-12-02 15:30 UTC carry
    kwargs = full_kwargs(space, space_kwargs) if canonical else jsonable(space_kwargs)
    blob = json.dumps({"space": space, "kwargs": kwargs, "slots": slots}, sort_keys=True)
    return hashlib.sha256(blob.encode()).hexdigest()[:16]


def names_instance(meta: dict, space: str, space_kwargs: dict, slots: dict) -> bool:
    """Whether a table's or kit's metadata (``space``, ``space_kwargs``, ``fingerprint``)
    names this space instance as traced now (``slots``). Older files hashed the kwargs they
    stored, as given: they still match when those kwargs are this instance's, so a table
    timed on a phone need not be timed again."""
    if meta.get("fingerprint") == fingerprint(space, space_kwargs, slots):
        return True
    stored = meta.get("space_kwargs") or {}
    return meta.get("space") == space and \
        full_kwargs(space, stored) == full_kwargs(space, space_kwargs) and \
        meta.get("fingerprint") == fingerprint(space, stored, slots, canonical=False)


def why_not_instance(meta: dict, space: str, space_kwargs: dict) -> str:
    """In words, why metadata that ``names_instance`` refused is not of this instance."""
    if meta.get("space") != space:
        return f"built for space {meta.get('space')!r}, not {space!r}"
    theirs, ours = (short_kwargs(space, kw) for kw in (meta.get("space_kwargs"), space_kwargs))
    if theirs != ours:
        return f"built for {space} {theirs}, not {ours}"
    return "the same kwargs, but the space's blocks changed since it was built: rebuild it"


def entry_key(label: str, op: str, in_shape, out_ch: int | None = None) -> str:
    # e.g. stage0_layer0/ir_k3_e1/1x32x14x14; blocks between
    # searched widths add their output channels: .../1x16x64x64/o8
    key = f"{label}/{op}/{'x'.join(str(d) for d in in_shape)}"
    return key if out_ch is None else f"{key}/o{out_ch}"


def random_choices(slots: dict, rng: random.Random) -> dict:
    # uniform per slot, width slots included (their candidates are multiplier
    # strings); the caller's seeded rng makes calibration models reproducible
    return {label: rng.choice(info["candidates"]) for label, info in slots.items()}
