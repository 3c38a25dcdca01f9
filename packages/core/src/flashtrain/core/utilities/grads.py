"""``grad_norm``: the gradient norm of each parameter and of all of them (to log in ``on_before_optimizer_step``)."""

from __future__ import annotations

import torch


def grad_norm(module: torch.nn.Module, norm_type: float | int | str, group_separator: str = "/") -> dict[str, float]:
    """The ``norm_type``-norm of each parameter's gradient (``grad_<p>_norm/<name>``) and of all of them together
    (``grad_<p>_norm_total``), as Lightning names them; parameters without a gradient are left out.

    Raises:
        ValueError: ``norm_type`` is not a positive number or ``"inf"``.
    """
    norm = float(norm_type)
    if norm <= 0:
        raise ValueError(f"`norm_type` must be a positive number or 'inf' (infinity norm). Got {norm_type}")
    # computed in each gradient's own dtype (a float64 gradient of 1e23 stays finite), reported as Python floats
    per_parameter = {
        name: torch.linalg.vector_norm(parameter.grad.detach(), ord=norm)
        for name, parameter in module.named_parameters()
        if parameter.grad is not None
    }
    norms = {f"grad_{norm}_norm{group_separator}{name}": value.item() for name, value in per_parameter.items()}
    if per_parameter:
        stacked = torch.stack([value.to(torch.float64) for value in per_parameter.values()])
        norms[f"grad_{norm}_norm_total"] = torch.linalg.vector_norm(stacked, ord=norm).item()
    return norms
