"""Strict, round-trippable op-string grammar: ``type[_token]*``.

Examples: ``ir_k3_e6``, ``ir_k5_e1_g2``, ``ir_k3_e4_se``, ``dw_k3``, ``gh_k3_e2``,
``conv_k5``, ``skip``. Every token maps to one constructor argument; a string is only
accepted in its canonical spelling, so ``format_op(parse_op(s)) == s`` for every valid ``s``.
Channels and stride belong to the slot, never to the string.
"""
from __future__ import annotations

import re
from dataclasses import dataclass

ACTIVATIONS = ("relu", "relu6", "hswish")  # "relu" is the default and never spelled

# type -> (required numeric tokens, optional numeric tokens, allowed flags)
_GRAMMAR = {
    "ir": (("k", "e"), ("g", "d"), ("se", "relu6", "hswish")),
    "dw": (("k",), ("d",), ("se", "relu6", "hswish")),
    "gh": (("k",), ("e",), ("se", "relu6", "hswish")),
    "conv": (("k",), ("g", "d"), ("relu6", "hswish")),
    "skip": ((), (), ()),
}
_NUMERIC_ORDER = ("k", "e", "g", "d")
_NUM_TOKEN = re.compile(r"^([kegd])([1-9][0-9]*)$")


@dataclass(frozen=True)
class OpSpec:
    type: str
    k: int = 0  # kernel size
    e: int = 0  # expansion (0 = absent)
    g: int = 1  # groups of the pointwise convolutions
    d: int = 1  # dilation of the spatial convolution
    se: bool = False  # eSE on the hidden channels
    act: str = "relu"

    def __str__(self) -> str:
        return format_op(self)


def format_op(spec: OpSpec) -> str:
    parts = [spec.type]
    for name in _NUMERIC_ORDER:
        value = getattr(spec, name)
        default = 1 if name in ("g", "d") else 0
        if value != default:
            parts.append(f"{name}{value}")
    if spec.se:
        parts.append("se")
    if spec.act != "relu":
        parts.append(spec.act)
    return "_".join(parts)


def parse_op(text: str) -> OpSpec:
    """Parse an op string; raise ``ValueError`` naming the offending token."""
    if not isinstance(text, str) or not text:
        raise ValueError(f"op string must be a non-empty str, got {text!r}")
    op_type, *tokens = text.split("_")
    if op_type not in _GRAMMAR:
        raise ValueError(f"{text!r}: unknown op type {op_type!r} (known: {sorted(_GRAMMAR)})")
    required, optional, flags = _GRAMMAR[op_type]
    fields: dict = {"type": op_type}
    for token in tokens:
        match = _NUM_TOKEN.match(token)
        if match and match.group(1) in required + optional:
            name = match.group(1)
            if name in fields:
                raise ValueError(f"{text!r}: token {token!r} repeats {name!r}")
            fields[name] = int(match.group(2))
        elif token in flags:
            key = "se" if token == "se" else "act"
            if key in fields:
                raise ValueError(f"{text!r}: token {token!r} conflicts with an earlier one")
            fields[key] = True if token == "se" else token
        else:
            raise ValueError(f"{text!r}: unknown token {token!r} for op type {op_type!r}")
    missing = [name for name in required if name not in fields]
    if missing:
        raise ValueError(f"{text!r}: missing required token(s) {missing} for {op_type!r}")
    spec = OpSpec(**fields)
    if spec.k and spec.k % 2 == 0:
        raise ValueError(f"{text!r}: kernel must be odd, got k{spec.k}")
    canonical = format_op(spec)
    if canonical != text:
        raise ValueError(f"{text!r}: not canonical, write it as {canonical!r}")
    return spec
