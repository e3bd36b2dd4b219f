"""Mixed precision and memory format of the training steps (``--amp``, ``--channels_last``).
Weights, optimiser states, θ and every export stay float32; only the forward's matmuls and
convolutions run in bf16 or fp16 under autocast."""
from __future__ import annotations

import contextlib

import torch


class Precision:
    def __init__(self, amp: str, channels_last: bool, device: torch.device):
        self.amp, self.device = amp, device
        self.dtype = {"bf16": torch.bfloat16, "fp16": torch.float16}.get(amp)
        # fp16 keeps 5 exponent bits: small gradients underflow to zero unless the loss is
        # scaled up before backward (and the gradients back down before the step); the scaler
        # also skips a step whose gradients overflowed and lowers the scale. bf16 has
        # float32's range and needs none.
        self.scaler = torch.amp.GradScaler(device.type, enabled=amp == "fp16")
        self.memory_format = torch.channels_last if channels_last else torch.contiguous_format

    def autocast(self):
        if self.dtype is None:
            return contextlib.nullcontext()
        return torch.autocast(self.device.type, dtype=self.dtype)

    def prepare(self, model: torch.nn.Module) -> torch.nn.Module:
        return model.to(memory_format=self.memory_format)

    def inputs(self, batch: list) -> list:
        """A batch with its images (the first tensor) in the model's memory format."""
        return [batch[0].contiguous(memory_format=self.memory_format), *batch[1:]]

    def step(self, loss: torch.Tensor, optimizer) -> None:
        """backward and the optimiser step, through the loss scaler under fp16."""
        optimizer.zero_grad(set_to_none=True)
        self.scaler.scale(loss).backward()
        self.scaler.step(optimizer)
        self.scaler.update()

    def grad(self, loss: torch.Tensor, params) -> tuple | None:
        """``d loss / d params`` (None where unused), scaled like the weight step's under fp16
        so that the half-precision backward does not underflow; None when the scaled
        gradients overflowed (the caller skips the step on every rank and calls
        ``back_off``)."""
        scale = self.scaler.get_scale() if self.scaler.is_enabled() else 1.0
        grads = torch.autograd.grad(loss * scale, params, allow_unused=True)
        grads = tuple(None if g is None else g.float() / scale for g in grads)
        if any(g is not None and not torch.isfinite(g).all() for g in grads):
            return None
        return grads

    def back_off(self) -> None:
        """Halve the loss scale after an overflow outside the scaler's own step (θ's)."""
        if self.scaler.is_enabled():
            lower = self.scaler.get_scale() * self.scaler.get_backoff_factor()
            # update() needs the scale tensor, which the scaler makes on its first scale(): θ
            # can overflow before any weight step was scaled (the first skipped as non-finite)
            self.scaler.scale(torch.zeros((), device=self.device))
            self.scaler.update(lower)

    def state_dict(self) -> dict:
        return self.scaler.state_dict()

    def load_state_dict(self, state: dict | None) -> None:
        if state and self.scaler.is_enabled():
            self.scaler.load_state_dict(state)
