"""Configuration of ``tools/retrain.py``."""
from __future__ import annotations

from dataclasses import dataclass

from .core import option
from .run import RunOptions


@dataclass
class RetrainConfig(RunOptions):
    snapshot: str = option("./ckpt_save", "checkpoint root; writes <snapshot>/<name>/")
    name: str = option("subnet", "run folder under --snapshot")
    supernet: str | None = option(None, "search checkpoint to inherit weights (and the derived "
                                        "architecture) from")
    arch: str | None = option(None, "architecture JSON (default: the one derived in --supernet)")
    space_kwargs: dict = option({}, "override the --arch file's space kwargs (e.g. num_points "
                                    "for another dataset); needs --from_scratch")
    from_scratch: bool = option(False, "random init instead of the supernet's weights (control)")
    epochs: int = option(10, "epochs")
    lr: float = option(2e-3, "learning rate (Adam, cosine schedule)")
    wd: float = option(1e-6, "weight decay")

    def validate(self) -> None:
        super().validate()
        if not self.supernet and not self.arch and not self.resume:
            raise ValueError("give --supernet CKPT, --arch FILE --from_scratch, or --resume")
        if not self.supernet and not self.from_scratch and not self.resume:
            raise ValueError("inheriting weights needs --supernet; pass --from_scratch to "
                             "train --arch from random init")
        if self.space_kwargs and not (self.arch and self.from_scratch):
            raise ValueError("--space_kwargs changes the model: only with --arch and "
                             "--from_scratch")
        if self.epochs < 1:
            raise ValueError("--epochs must be positive")
