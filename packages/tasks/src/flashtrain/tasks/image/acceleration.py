"""Speed settings of the image model that depend on the device: channels-last memory format and torch.compile;
and the weight-decay parameter groups (biases and normalisation weights are not decayed).

- ``channels_last="auto"``: on CUDA, convolutional backbones run in the NHWC layout that tensor cores want
  (typically 10-30% faster in mixed precision); elsewhere the layout stays as it is (on CPU it rarely helps).
- ``compile=True``: ``nn.Module.compile`` of the backbone (in place, so checkpoints keep their parameter names).
  torch.compile works lazily: the first training step pays for compiling; the CLI reports it separately.
- weight decay through ``timm.optim.param_groups_weight_decay``: the recipe timm trains ImageNet with; decaying
  a BatchNorm's scale or a bias only pulls it toward 0 without regularising the function.
"""

from __future__ import annotations

from typing import Any

import torch

CHANNELS_LAST = (True, False, "auto")


def check_channels_last(value: Any) -> Any:
    if value not in CHANNELS_LAST or not isinstance(value, (bool, str)):
        raise ValueError(f"channels_last must be True, False or 'auto', got {value!r}.")
    return value


def wants_channels_last(setting: Any, module: torch.nn.Module, device: torch.device) -> bool:
    """Whether ``setting`` means channels-last for ``module`` on ``device`` ("auto": a CUDA conv network)."""
    if setting == "auto":
        return device.type == "cuda" and any(isinstance(m, torch.nn.Conv2d) for m in module.modules())
    return bool(setting)


def decay_groups(module: torch.nn.Module, weight_decay: float | None) -> list[Any]:
    """The trainable parameters of ``module``, as two groups: decayed weights, and biases and normalisation
    parameters (1-D) at zero decay; a plain list when there is no decay to split."""
    params = [p for p in module.parameters() if p.requires_grad]
    if not weight_decay:
        return params
    from timm.optim import param_groups_weight_decay

    return [group for group in param_groups_weight_decay(module, weight_decay=weight_decay) if group["params"]]
