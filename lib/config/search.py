"""Configuration of ``tools/train.py`` (the search)."""
from __future__ import annotations

import math
from dataclasses import dataclass

from ..latency import COST_MODES
from ..supernet import GUMBEL_MODES
from .core import option
from .run import RunOptions
from .space import SpaceOptions

WARMUP_MODES = ("metric", "epochs")
# what θ's cost term prices: a sampled path is one draw of a quantity the LUT knows in
# expectation; its noise made the target band's penalty fire on most steps (see README)
LATENCY_ESTIMATES = ("expected", "sample")


@dataclass
class SearchConfig(RunOptions, SpaceOptions):
    snapshot: str = option("./ckpt_save", "checkpoint root; the search writes <snapshot>/supernet/")
    lut: str = option("auto", "latency table: a JSON path, 'auto' (the shipped "
                              "lut/<space>_<img>_ort_t1.json) or 'flops' (MACs, built now)")
    mode: str = option("mul", "cost term: mul (FBNet), add, target", choices=COST_MODES)
    alpha: float | None = option(None, "cost weight α; default 0.2 (mul, add), 50 (target: "
                                        "a 2% overrun weighs as much as the task)")
    beta: float = option(0.6, "cost exponent β (mul, add)")
    target_ms: float | None = option(None, "latency budget in the LUT's unit (mode target)")
    latency: str = option("expected", "θ's latency term: 'expected' (under softmax(θ), as "
                                      "ProxylessNAS: deterministic, silent inside a target band) "
                                      "or 'sample' (the Gumbel sample's, as FBNet)",
                          choices=LATENCY_ESTIMATES)
    gumbel: str = option("hard", "hard: straight-through, one path runs; soft: all paths",
                         choices=GUMBEL_MODES)
    tau0: float = option(5.0, "initial Gumbel temperature")
    tau_decay: float = option(math.exp(-0.045), "temperature factor per epoch")
    epochs: int = option(20, "total epochs")
    warmup: str = option("metric", "when θ starts: 'metric' (after the first epoch whose "
                                   "validation metric clearly beats the trivial predictor - "
                                   "mean shape, majority class - or after --warmup_epochs, "
                                   "whichever comes first) or 'epochs' (after --warmup_epochs)",
                         choices=WARMUP_MODES)
    warmup_epochs: int = option(8, "epochs that train weights only ('epochs'), or at most "
                                   "('metric')")
    warmup_margin: float = option(0.1, "'clearly beats': the validation error is at most "
                                       "(1 - margin) x the trivial predictor's (error: NME, or "
                                       "1 - mIoU)")
    lr: float = option(1e-2, "weight learning rate (Adam, cosine schedule; 2e-3 never left the "
                               "mean shape in 6 epochs on synthetic faces)")
    wd: float = option(1e-6, "weight decay of the weights")
    tlr: float = option(0.01, "architecture learning rate (AdamW)")
    twd: float = option(5e-4, "weight decay of the architecture logits")
    bn_batches: int = option(8, "training batches that re-estimate BatchNorm statistics of "
                                "the argmax path before each validation (0: keep the "
                                "supernet's)")
    theta_split: float = option(0.2, "fraction of the training set held out for θ steps")

    def validate(self) -> None:
        super().validate()
        if self.mode == "target" and not (self.target_ms and self.target_ms > 0):
            raise ValueError("--mode target needs a positive --target_ms")
        if not 0 < self.theta_split < 1:
            raise ValueError(f"--theta_split must be in (0, 1), got {self.theta_split}")
        if not 0 <= self.warmup_epochs < self.epochs:
            raise ValueError("need 0 <= warmup_epochs < epochs (θ must train in at least one "
                             "epoch)")
        if not 0 <= self.warmup_margin < 1:
            raise ValueError(f"--warmup_margin must be in [0, 1), got {self.warmup_margin}")
        if self.bn_batches < 0:
            raise ValueError("--bn_batches must be >= 0")
