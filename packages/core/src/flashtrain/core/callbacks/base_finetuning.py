"""``BaseFinetuning``: Lightning's base for finetuning callbacks — freeze before training, then unfreeze parts
of the model into new optimizer parameter groups from ``finetune_function`` at the start of each epoch.

Subclass it and override :meth:`BaseFinetuning.freeze_before_training` and
:meth:`BaseFinetuning.finetune_function`; the static helpers (``freeze``, ``make_trainable``,
``unfreeze_and_add_param_group``, ...) do the bookkeeping. Which parameters each optimizer's groups hold
(by name) travels in checkpoints, so a resumed run rebuilds the same groups before its optimizer state loads.
"""

from __future__ import annotations

import warnings
from collections.abc import Generator, Iterable
from typing import Any

import torch
from torch.nn.modules.batchnorm import _BatchNorm

from flashtrain.core.callbacks.base import Callback


def _as_modules(modules: torch.nn.Module | Iterable[Any]) -> list[torch.nn.Module]:
    if isinstance(modules, torch.nn.Module):
        return [modules]
    flat: list[torch.nn.Module] = []
    for item in modules:
        flat.extend(_as_modules(item))
    return flat


class BaseFinetuning(Callback):
    """Freeze in ``freeze_before_training`` (at ``setup("fit")``), unfreeze in ``finetune_function`` (every epoch)."""

    def __init__(self) -> None:
        # optimizer index -> one list of parameter names per parameter group, recorded after each finetune step
        self._internal_optimizer_metadata: dict[int, list[dict[str, Any]]] = {}
        self._restarting = False

    # -- the two methods to override ----------------------------------------------------------------------
    def freeze_before_training(self, pl_module: Any) -> None:
        """Freeze what should not train at first (e.g. ``self.freeze(pl_module.backbone)``)."""
        raise NotImplementedError(f"{type(self).__name__} must define freeze_before_training(self, pl_module).")

    def finetune_function(self, pl_module: Any, epoch: int, optimizer: torch.optim.Optimizer) -> None:
        """Unfreeze at the epochs you choose, e.g. with ``self.unfreeze_and_add_param_group(module, optimizer)``."""
        raise NotImplementedError(
            f"{type(self).__name__} must define finetune_function(self, pl_module, epoch, optimizer)."
        )

    # -- checkpoint state -----------------------------------------------------------------------------------
    def state_dict(self) -> dict[str, Any]:
        return {"internal_optimizer_metadata": self._internal_optimizer_metadata}

    def load_state_dict(self, state_dict: dict[str, Any]) -> None:
        self._restarting = True
        metadata = state_dict.get("internal_optimizer_metadata", {})
        self._internal_optimizer_metadata = {int(index): groups for index, groups in metadata.items()}

    # -- hooks --------------------------------------------------------------------------------------------
    def setup(self, trainer: Any, pl_module: Any, stage: str) -> None:
        if stage == "fit":
            self.freeze_before_training(pl_module)

    def on_fit_start(self, trainer: Any, pl_module: Any) -> None:
        if not self._restarting:
            return
        # Resumed: give each optimizer the parameter groups it had when the checkpoint was written, so its
        # saved state (one entry per group) fits.
        named = dict(pl_module.named_parameters())
        for index, optimizer in enumerate(trainer.optimizers):
            groups = self._internal_optimizer_metadata.get(index)
            if groups is None:
                continue
            optimizer.param_groups = [
                {
                    **{k: v for k, v in group.items() if k != "params"},
                    "params": [named[name] for name in group["params"]],
                }
                for group in groups
            ]
            for name in (name for group in groups for name in group["params"]):
                named[name].requires_grad = True
        self._restarting = False

    def on_train_epoch_start(self, trainer: Any, pl_module: Any) -> None:
        names = {id(p): name for name, p in pl_module.named_parameters()}
        for index, optimizer in enumerate(trainer.optimizers):
            self.finetune_function(pl_module, trainer.current_epoch, optimizer)
            self._internal_optimizer_metadata[index] = [
                {**{k: v for k, v in group.items() if k != "params"}, "params": [names[id(p)] for p in group["params"]]}
                for group in optimizer.param_groups
            ]

    # -- helpers (static, as in Lightning) ------------------------------------------------------------------
    @staticmethod
    def flatten_modules(modules: torch.nn.Module | Iterable[Any]) -> list[torch.nn.Module]:
        """The leaf modules (and modules holding parameters of their own) under ``modules``."""
        found: list[torch.nn.Module] = []
        for module in _as_modules(modules):
            found.extend(m for m in module.modules() if not list(m.children()) or m._parameters)
        return found

    @staticmethod
    def filter_params(
        modules: torch.nn.Module | Iterable[Any], train_bn: bool = True, requires_grad: bool = True
    ) -> Generator[torch.nn.Parameter, None, None]:
        """Parameters of ``modules`` with the given ``requires_grad`` (BatchNorm layers left out when ``train_bn``)."""
        for module in BaseFinetuning.flatten_modules(modules):
            if isinstance(module, _BatchNorm) and not train_bn:
                continue
            for parameter in module.parameters(recurse=False):
                if parameter.requires_grad == requires_grad:
                    yield parameter

    @staticmethod
    def make_trainable(modules: torch.nn.Module | Iterable[Any]) -> None:
        """Turn gradients on for every parameter of ``modules``; BatchNorm layers track running stats again."""
        for module in BaseFinetuning.flatten_modules(modules):
            if isinstance(module, _BatchNorm):
                module.track_running_stats = True
            for parameter in module.parameters(recurse=False):
                parameter.requires_grad = True

    @staticmethod
    def freeze_module(module: torch.nn.Module) -> None:
        """Turn gradients off for ``module``'s own parameters; a BatchNorm also stops tracking running stats."""
        if isinstance(module, _BatchNorm):
            module.track_running_stats = False
        for parameter in module.parameters(recurse=False):
            parameter.requires_grad = False

    @staticmethod
    def freeze(modules: torch.nn.Module | Iterable[Any], train_bn: bool = True) -> None:
        """Freeze every leaf of ``modules``; BatchNorm layers stay trainable when ``train_bn``."""
        for module in BaseFinetuning.flatten_modules(modules):
            if isinstance(module, _BatchNorm) and train_bn:
                BaseFinetuning.make_trainable(module)
            else:
                BaseFinetuning.freeze_module(module)

    @staticmethod
    def filter_on_optimizer(optimizer: torch.optim.Optimizer, params: Iterable[torch.nn.Parameter]) -> list:
        """The parameters ``optimizer`` does not hold yet (a warning names how many it already held)."""
        held = {id(p) for group in optimizer.param_groups for p in group["params"]}
        params = list(params)
        new = [p for p in params if id(p) not in held]
        if len(new) != len(params):
            warnings.warn(  # Lightning's wording (users and their tests match it), with the count
                f"The provided params to be frozen already exist within another group of this optimizer "
                f"({len(params) - len(new)} of {len(params)}). Those parameters will be skipped.\n"
                "HINT: Did you init your optimizer in `configure_optimizer` as such:\n"
                f" {type(optimizer)}(filter(lambda p: p.requires_grad, self.parameters()), ...) ",
                stacklevel=3,
            )
        return new

    @staticmethod
    def unfreeze_and_add_param_group(
        modules: torch.nn.Module | Iterable[Any],
        optimizer: torch.optim.Optimizer,
        lr: float | None = None,
        initial_denom_lr: float = 10.0,
        train_bn: bool = True,
    ) -> None:
        """Make ``modules`` trainable and add their parameters as a new group of ``optimizer``.

        The group's LR is ``lr``, or the first group's LR divided by ``initial_denom_lr`` when ``lr`` is None.
        """
        BaseFinetuning.make_trainable(modules)
        base_lr = optimizer.param_groups[0]["lr"] if lr is None else float(lr)
        denominator = initial_denom_lr if lr is None else 1.0
        params = BaseFinetuning.filter_on_optimizer(optimizer, BaseFinetuning.filter_params(modules, train_bn, True))
        if params:
            optimizer.add_param_group({"params": params, "lr": base_lr / denominator})
