"""Options naming a space instance, shared by the search and the LUT builder (a LUT only
matches a search built with the same kwargs)."""
from __future__ import annotations

from dataclasses import dataclass

from ..spaces import list_spaces, space_defaults
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
        """The kwargs that name this space instance in LUTs, architecture files and
        checkpoints: ``--space_kwargs`` with ``--num_points`` / ``--img_size`` (the space's
        defaults when not given, so every file names them). Not the complete constructor
        kwargs (``spaces.full_kwargs`` adds the other defaults where a model is built): LUT
        fingerprints hash these, and the shipped tables were built from them."""
        defaults = space_defaults(self.space)
        kwargs = dict(self.space_kwargs)
        for name in ("num_points", "img_size"):
            if name in defaults:
                kwargs[name] = getattr(self, name) or kwargs.get(name, defaults[name])
            elif getattr(self, name) is not None:
                raise ValueError(f"space {self.space} has no --{name}")
        return kwargs
