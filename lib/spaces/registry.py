"""The one registry of search spaces, and the rule for what of a space model is deployed:
its first output (further outputs, such as PFLD's pose, come from auxiliary heads that only
training uses; their parameters are named ``aux.*``)."""
from __future__ import annotations

import inspect
from dataclasses import dataclass, field
from typing import Callable

from torch import nn


@dataclass(frozen=True)
class SpaceEntry:
    name: str
    builder: Callable[..., nn.Module]  # builder(chooser, **kwargs)
    tiny_kwargs: dict = field(default_factory=dict)  # a small instance for tests
    input_channels: int = 3


_SPACES: dict[str, SpaceEntry] = {}


def register_space(name: str, tiny_kwargs: dict | None = None):
    """Class decorator: ``@register_space("pfld_fbnet")``."""

    def wrap(cls):
        if name in _SPACES:
            raise ValueError(f"space {name!r} is already registered")
        _SPACES[name] = SpaceEntry(name, cls, dict(tiny_kwargs or {}))
        cls.space_name = name
        return cls

    return wrap


def get_space(name: str) -> SpaceEntry:
    if name not in _SPACES:
        raise KeyError(f"unknown space {name!r}; registered: {list_spaces()}")
    return _SPACES[name]


def create_space(name: str, chooser, **kwargs) -> nn.Module:
    return get_space(name).builder(chooser, **kwargs)


def space_defaults(name: str) -> dict:
    """The constructor defaults of a space."""
    params = inspect.signature(get_space(name).builder).parameters
    return {k: p.default for k, p in params.items() if p.default is not inspect.Parameter.empty}


def full_kwargs(name: str, kwargs: dict | None = None) -> dict:
    """The one canonical form of a space instance's kwargs: every constructor kwarg (its
    defaults overridden by ``kwargs``), JSON-typed. Architecture files, checkpoints, LUT
    metadata and fingerprints all name an instance by it, so a model is the same instance
    whether its kwargs were given in full (NNI's, Archai's files) or only in part (the CLI)."""
    return jsonable({**space_defaults(name), **(kwargs or {})})


def short_kwargs(name: str, kwargs: dict | None = None) -> dict:
    """The kwargs of an instance that differ from the space's defaults: its shortest spelling,
    for messages (two instances' short forms show what differs at a glance)."""
    defaults = full_kwargs(name)
    return {k: v for k, v in full_kwargs(name, kwargs).items()
            if k not in defaults or defaults[k] != v}


def jsonable(value):
    """Tuples -> lists so kwargs survive a JSON round trip unchanged."""
    if isinstance(value, dict):
        return {k: jsonable(v) for k, v in value.items()}
    if isinstance(value, (list, tuple)):
        return [jsonable(v) for v in value]
    return value


def list_spaces() -> list[str]:
    return sorted(_SPACES)


def split_outputs(out) -> tuple:
    """``(deployed, auxiliary outputs)`` of a space model's forward. The rule every space
    keeps: the first output is the deployed one (exported, timed, scored); the others (PFLD's
    pose net) only train and are dropped from the exported graph."""
    if isinstance(out, (tuple, list)):
        return out[0], tuple(out[1:])
    return out, ()


def deployed_output(out):
    return split_outputs(out)[0]


def deployed_params(model: nn.Module) -> int:
    """Parameters of the deployed network: all but the auxiliary heads' (``aux.*``)."""
    return sum(p.numel() for name, p in model.named_parameters() if not name.startswith("aux."))


class DeployView(nn.Module):
    """A space model as deployed: its first output only."""

    def __init__(self, model: nn.Module):
        super().__init__()
        self.model = model

    def forward(self, x):
        return deployed_output(self.model(x))
