"""``BackboneFinetuning``: train the head first, then unfreeze ``module.backbone`` with a lower learning rate."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import torch

from flashtrain.core.callbacks.base import Callback


def set_trainable(module: torch.nn.Module, trainable: bool, train_bn: bool = True) -> None:
    """Turn gradients on or off for ``module``; frozen BatchNorm layers also stop updating running stats."""
    for parameter in module.parameters():
        parameter.requires_grad = trainable
    if not trainable and not train_bn:
        for layer in module.modules():
            if isinstance(layer, torch.nn.modules.batchnorm._BatchNorm):
                layer.eval()


def add_param_group(optimizer: torch.optim.Optimizer, module: torch.nn.Module, lr: float) -> int:
    """Add ``module``'s parameters that the optimizer does not hold yet as a new group; returns how many."""
    held = {id(p) for group in optimizer.param_groups for p in group["params"]}
    params = [p for p in module.parameters() if id(p) not in held]
    if params:
        optimizer.add_param_group({"params": params, "lr": lr})
    return len(params)


class BackboneFinetuning(Callback):
    """Freeze ``pl_module.backbone`` before training; at ``unfreeze_backbone_at_epoch`` make it trainable in a new
    optimizer parameter group whose LR is ``backbone_initial_ratio_lr`` x the current LR (or
    ``backbone_initial_lr``), then multiply it by ``lambda_func(epoch)`` each later epoch.

    Build the optimizer from trainable parameters only (``filter(lambda p: p.requires_grad, ...)``) so the
    backbone joins it as its own group.
    """

    def __init__(
        self,
        unfreeze_backbone_at_epoch: int = 10,
        lambda_func: Callable[[int], float] | None = None,
        backbone_initial_ratio_lr: float = 0.1,
        backbone_initial_lr: float | None = None,
        should_align: bool = True,
        train_bn: bool = True,
        verbose: bool = False,
    ) -> None:
        if not isinstance(unfreeze_backbone_at_epoch, int) or unfreeze_backbone_at_epoch < 0:
            raise ValueError(f"unfreeze_backbone_at_epoch must be an int >= 0, got {unfreeze_backbone_at_epoch!r}.")
        self.unfreeze_backbone_at_epoch = unfreeze_backbone_at_epoch
        self.lambda_func = lambda_func
        self.backbone_initial_ratio_lr = backbone_initial_ratio_lr
        self.backbone_initial_lr = backbone_initial_lr
        self.should_align = should_align
        self.train_bn = train_bn
        self.verbose = verbose
        self.backbone_lr: float | None = None
        self.unfrozen = False

    def state_dict(self) -> dict[str, Any]:
        return {"backbone_lr": self.backbone_lr, "unfrozen": self.unfrozen}

    def load_state_dict(self, state_dict: dict[str, Any]) -> None:
        self.backbone_lr = state_dict.get("backbone_lr")
        self.unfrozen = bool(state_dict.get("unfrozen", False))

    @staticmethod
    def _backbone(pl_module: Any) -> torch.nn.Module:
        backbone = getattr(pl_module, "backbone", None)
        if not isinstance(backbone, torch.nn.Module):
            raise ValueError(
                f"BackboneFinetuning needs the module to have a `backbone` attribute that is a torch.nn.Module; "
                f"{type(pl_module).__name__} has {type(backbone).__name__}."
            )
        return backbone

    def setup(self, trainer: Any, pl_module: Any, stage: str) -> None:
        if stage == "fit":
            set_trainable(self._backbone(pl_module), False, self.train_bn)

    def on_fit_start(self, trainer: Any, pl_module: Any) -> None:
        if self.unfrozen:  # resumed after the unfreeze: rebuild the group so the optimizer state fits
            self._unfreeze(trainer, pl_module, self.backbone_lr)

    def on_train_epoch_start(self, trainer: Any, pl_module: Any) -> None:
        epoch = trainer.current_epoch
        if not self.unfrozen and epoch >= self.unfreeze_backbone_at_epoch:
            head_lr = trainer.optimizers[0].param_groups[0]["lr"]
            lr = (
                self.backbone_initial_lr
                if self.backbone_initial_lr is not None
                else head_lr * self.backbone_initial_ratio_lr
            )
            self._unfreeze(trainer, pl_module, lr)
            if self.verbose and trainer.is_global_zero:
                print(f"Epoch {epoch}: backbone unfrozen with lr {lr:.3g}.")
        elif self.unfrozen and self.lambda_func is not None and epoch > self.unfreeze_backbone_at_epoch:
            group = trainer.optimizers[0].param_groups[-1]
            lr = group["lr"] * self.lambda_func(epoch)
            if self.should_align:
                lr = min(lr, trainer.optimizers[0].param_groups[0]["lr"])
            group["lr"] = self.backbone_lr = lr

    def _unfreeze(self, trainer: Any, pl_module: Any, lr: float | None) -> None:
        backbone = self._backbone(pl_module)
        set_trainable(backbone, True)
        backbone.train()
        add_param_group(trainer.optimizers[0], backbone, lr if lr is not None else 0.0)
        self.backbone_lr = lr
        self.unfrozen = True
