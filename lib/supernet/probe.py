"""What θ's task gradient could know: each candidate's directional derivative of the loss at
the sampled path, computed with hooks, independently of the dense MixedOp. Used by the
estimator bench and to check the θ step."""
from __future__ import annotations

import torch

from .supernet import Supernet


def candidate_derivatives(model: Supernet, loss_fn) -> tuple[torch.Tensor, dict]:
    """Run ``loss_fn(model)`` on the installed single-path sample; return the loss and, per
    op slot, ``d_i = <dL/d out, out_i>`` for every candidate i run on the slot's input (the
    all-candidates straight-through gradient with respect to the slot's sample weights)."""
    inputs, outputs = {}, {}

    def record(module, args, out):
        inputs[module.label], outputs[module.label] = args[0], out

    # hooks, not MixedOp's dense path: the check must not share the code it checks
    hooks = [op.register_forward_hook(record) for op in model.mixed_ops.values()]
    try:
        loss = loss_fn(model)
    finally:
        for hook in hooks:
            hook.remove()
    labels = list(outputs)
    grads = torch.autograd.grad(loss, [outputs[k] for k in labels], retain_graph=True)
    with torch.no_grad():
        # <dL/dout, out_i> = dL/dw_i for out = Σ_i w_i out_i at the
        # sampled one-hot; each candidate reruns on the recorded input
        derivatives = {label: torch.stack([(g * model.mixed_ops[label]._run(i, inputs[label]))
                                           .sum() for i in range(len(model.candidates[label]))])
                       for label, g in zip(labels, grads)}
    return loss, derivatives


def chain_to_theta(model: Supernet, per_slot: dict) -> dict:
    """Chain per-slot gradients on the sample weights through the installed Gumbel sample to
    θ: ``{label: dL/dθ}`` for the slots in ``per_slot``."""
    labels = list(per_slot)
    # d held constant: the surrogate's gradient is Σ_i
    # d_i dw_i/dθ, the chain rule through the sample
    surrogate = sum((model.sample_weights[k] * per_slot[k]).sum() for k in labels)
    grads = torch.autograd.grad(surrogate, [model.arch[k] for k in labels], retain_graph=True)
    return dict(zip(labels, grads))
