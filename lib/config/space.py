"""Options naming a space instance, shared by the search and the LUT builder (a LUT only
matches a search built with the same kwargs)."""
from __future__ import annotations

from dataclasses import dataclass

from ..spaces import full_kwargs, list_spaces, space_defaults
from .core import chain_validate, option


@dataclass
class SpaceOptions:
    space: str = option("pfld_fbnet", "search space", choices=tuple(list_spaces()))
    space_kwargs: dict = option({}, "extra space constructor arguments, JSON/YAML mapping")
    num_points: int | None = option(None, "landmarks per face (landmark spaces; default: the "
                                          "space's)")
    img_size: int | None = option(None, "input size, square (default: the space's)")

    def validate(self) -> None:
        for name in ("num_points", "img_size"):
            if getattr(self, name) is not None and getattr(self, name) < 1:
                raise ValueError(f"--{name} must be positive")
        chain_validate(super())

    def instance_kwargs(self) -> dict:
        """The space instance these flags name, in the canonical form (``full_kwargs``):
        ``--space_kwargs`` with ``--num_points`` / ``--img_size`` over the space's defaults."""
        defaults = space_defaults(self.space)
        kwargs = dict(self.space_kwargs)
        for name in ("num_points", "img_size"):
            if getattr(self, name) is None:
                continue
            if name not in defaults:
                raise ValueError(f"space {self.space} has no --{name}")
            kwargs[name] = getattr(self, name)
        return full_kwargs(self.space, kwargs)
