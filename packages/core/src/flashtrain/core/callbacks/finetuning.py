"""Finetuning: freeze ``module.backbone`` before training and unfreeze it (or parts of it) on a schedule.

``Trainer.finetune(model, ..., strategy=...)`` picks one of these by name:

- ``"no_freeze"``: train everything from the start.
- ``"freeze"``: keep the backbone frozen; only the rest (the head) trains.
- ``("freeze_unfreeze", e)``: frozen until epoch ``e``, then all of it trains.
- ``("unfreeze_milestones", ((e1, e2), n))``: the last ``n`` layers of the backbone from epoch ``e1``, the
  rest from epoch ``e2``.

Each unfrozen part joins the optimizer as a new parameter group with a lower learning rate, and what has
been unfrozen is saved in checkpoints so a resumed run rebuilds the same parameter groups.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import torch

from flashtrain.core.callbacks.base import Callback
from flashtrain.core.callbacks.base_finetuning import BaseFinetuning
from flashtrain.core.exceptions import MisconfigurationException

STRATEGY_FORMS = ('"no_freeze"', '"freeze"', '("freeze_unfreeze", epoch)', '("unfreeze_milestones", ((e1, e2), n))')


def set_trainable(module: torch.nn.Module, trainable: bool, train_bn: bool = True) -> None:
    """Turn gradients on or off for ``module``. Freezing with ``train_bn=True`` (Lightning's default) leaves
    BatchNorm layers trainable; with ``train_bn=False`` they are frozen too and stop updating running stats."""
    for parameter in module.parameters():
        parameter.requires_grad = trainable
    if trainable:
        return
    for layer in module.modules():
        if isinstance(layer, torch.nn.modules.batchnorm._BatchNorm):
            if train_bn:
                for parameter in layer.parameters(recurse=False):
                    parameter.requires_grad = True
            else:
                layer.eval()


def add_param_group(optimizer: torch.optim.Optimizer, modules: list[torch.nn.Module], lr: float) -> int:
    """Add the modules' parameters that the optimizer does not hold yet as a new group; returns how many."""
    held = {id(p) for group in optimizer.param_groups for p in group["params"]}
    params = [p for module in modules for p in module.parameters() if id(p) not in held]
    if params:
        optimizer.add_param_group({"params": params, "lr": lr})
    return len(params)


def leaf_layers(module: torch.nn.Module) -> list[torch.nn.Module]:
    """Modules without children that hold parameters, in definition order (the backbone's "layers")."""
    return [m for m in module.modules() if not list(m.children()) and any(True for _ in m.parameters(recurse=False))]


class BackboneUnfreezing(Callback):
    """Freeze ``pl_module.backbone`` in ``setup``; at each ``(epoch, part)`` of ``stages`` make ``part`` trainable
    in a new parameter group at ``lr_ratio`` x the first group's learning rate.

    ``part`` is ``"all"``, ``("last", n)`` (the last n leaf layers) or ``("rest", n)`` (all but the last n).
    Build the optimizer from trainable parameters only (``filter(lambda p: p.requires_grad, ...)``) so each
    part joins it as its own group; parameters the optimizer already holds keep their group.
    """

    def __init__(self, stages: list[tuple[int, Any]], lr_ratio: float = 0.1, train_bn: bool = True) -> None:
        self.stages = list(stages)
        self.lr_ratio = lr_ratio
        self.train_bn = train_bn
        self.unfrozen_lrs: list[float] = []  # the learning rate of each stage unfrozen so far, in order

    @property
    def state_key(self) -> str:
        return f"{type(self).__name__}{{stages={self.stages!r}}}"

    def state_dict(self) -> dict[str, Any]:
        return {"unfrozen_lrs": list(self.unfrozen_lrs)}

    def load_state_dict(self, state_dict: dict[str, Any]) -> None:
        self.unfrozen_lrs = list(state_dict.get("unfrozen_lrs", []))

    def backbone(self, pl_module: Any) -> torch.nn.Module:
        backbone = getattr(pl_module, "backbone", None)
        if not isinstance(backbone, torch.nn.Module):
            raise ValueError(
                f"{type(self).__name__} needs the module to have a `backbone` attribute that is a torch.nn.Module; "
                f"{type(pl_module).__name__} has {type(backbone).__name__}. Set self.backbone in __init__, or use "
                "strategy='no_freeze'."
            )
        return backbone

    def _part(self, pl_module: Any, part: Any) -> list[torch.nn.Module]:
        backbone = self.backbone(pl_module)
        if part == "all":
            return [backbone]
        which, count = part
        layers = leaf_layers(backbone)
        return layers[-count:] if which == "last" else layers[:-count]

    def setup(self, trainer: Any, pl_module: Any, stage: str) -> None:
        if stage == "fit":
            set_trainable(self.backbone(pl_module), False, self.train_bn)

    def on_fit_start(self, trainer: Any, pl_module: Any) -> None:
        # Resumed after some stages: rebuild their parameter groups so the saved optimizer state fits.
        for (_, part), lr in zip(self.stages, self.unfrozen_lrs):
            self._unfreeze(trainer, pl_module, part, lr)

    def on_train_epoch_start(self, trainer: Any, pl_module: Any) -> None:
        while len(self.unfrozen_lrs) < len(self.stages):
            epoch, part = self.stages[len(self.unfrozen_lrs)]
            if trainer.current_epoch < epoch:
                break
            lr = self.initial_lr(trainer)
            self._unfreeze(trainer, pl_module, part, lr)
            self.unfrozen_lrs.append(lr)

    def initial_lr(self, trainer: Any) -> float:
        """Learning rate of a newly unfrozen part."""
        return trainer.optimizers[0].param_groups[0]["lr"] * self.lr_ratio

    def _unfreeze(self, trainer: Any, pl_module: Any, part: Any, lr: float) -> None:
        modules = self._part(pl_module, part)
        for module in modules:
            set_trainable(module, True)
            module.train()
        add_param_group(trainer.optimizers[0], modules, lr)


def multiplicative(epoch: int) -> float:
    """``BackboneFinetuning``'s default ``lambda_func`` (Lightning's): the backbone's LR doubles every epoch."""
    return 2.0


class BackboneFinetuning(BaseFinetuning):
    """Lightning's ``BackboneFinetuning``: ``pl_module.backbone`` is frozen until ``unfreeze_backbone_at_epoch``,
    then joins each optimizer as a new parameter group with LR ``backbone_initial_lr`` (default
    ``backbone_initial_ratio_lr`` x the optimizer's first group's LR); each later epoch its LR is multiplied by
    ``lambda_func(epoch + 1)`` (default :func:`multiplicative`: 2.0, Lightning's), capped at the first group's LR
    with ``should_align``.

    Built on :class:`BaseFinetuning`: override ``freeze_before_training`` / ``finetune_function`` to change what
    is frozen and when, as in Lightning.
    """

    def __init__(
        self,
        unfreeze_backbone_at_epoch: int = 10,
        lambda_func: Callable[[int], float] = multiplicative,
        backbone_initial_ratio_lr: float = 0.1,
        backbone_initial_lr: float | None = None,
        should_align: bool = True,
        initial_denom_lr: float = 10.0,
        train_bn: bool = True,
        verbose: bool = False,
        rounding: int = 12,
    ) -> None:
        if not isinstance(unfreeze_backbone_at_epoch, int) or unfreeze_backbone_at_epoch < 0:
            raise ValueError(f"unfreeze_backbone_at_epoch must be an int >= 0, got {unfreeze_backbone_at_epoch!r}.")
        super().__init__()
        self.unfreeze_backbone_at_epoch = unfreeze_backbone_at_epoch
        self.lambda_func = lambda_func
        self.backbone_initial_ratio_lr = backbone_initial_ratio_lr
        self.backbone_initial_lr = backbone_initial_lr
        self.should_align = should_align
        self.initial_denom_lr = initial_denom_lr
        self.train_bn = train_bn
        self.verbose = verbose
        self.rounding = rounding
        self.previous_backbone_lr: float | None = None

    def state_dict(self) -> dict[str, Any]:
        return {**super().state_dict(), "previous_backbone_lr": self.previous_backbone_lr}

    def load_state_dict(self, state_dict: dict[str, Any]) -> None:
        super().load_state_dict(state_dict)
        self.previous_backbone_lr = state_dict.get("previous_backbone_lr")

    def setup(self, trainer: Any, pl_module: Any, stage: str) -> None:
        backbone = getattr(pl_module, "backbone", None)
        if stage == "fit" and not isinstance(backbone, torch.nn.Module):
            raise MisconfigurationException(
                f"{type(self).__name__} needs the module to have a `backbone` attribute that is a torch.nn.Module; "
                f"{type(pl_module).__name__} has {type(backbone).__name__}. Set self.backbone in __init__."
            )
        super().setup(trainer, pl_module, stage)

    def freeze_before_training(self, pl_module: Any) -> None:
        self.freeze(pl_module.backbone)

    def finetune_function(self, pl_module: Any, epoch: int, optimizer: torch.optim.Optimizer) -> None:
        current_lr = optimizer.param_groups[0]["lr"]
        if epoch == self.unfreeze_backbone_at_epoch:
            initial = self.backbone_initial_lr
            initial = initial if initial is not None else current_lr * self.backbone_initial_ratio_lr
            self.previous_backbone_lr = initial
            self.unfreeze_and_add_param_group(
                pl_module.backbone, optimizer, initial, train_bn=self.train_bn, initial_denom_lr=self.initial_denom_lr
            )
            if self.verbose and pl_module.trainer.is_global_zero:
                print(f"Epoch {epoch}: backbone unfrozen with lr {round(initial, self.rounding)}.")
        elif epoch > self.unfreeze_backbone_at_epoch and self.previous_backbone_lr is not None:
            lr = self.lambda_func(epoch + 1) * self.previous_backbone_lr
            if self.should_align and lr > current_lr:
                lr = current_lr
            optimizer.param_groups[-1]["lr"] = lr
            self.previous_backbone_lr = lr


def finetuning_callback(strategy: Any, train_bn: bool = True) -> BackboneUnfreezing | None:
    """The callback for a ``Trainer.finetune`` strategy (None for ``"no_freeze"``), or a ValueError naming the forms."""
    if strategy == "no_freeze":
        return None
    if strategy == "freeze":
        return BackboneUnfreezing([], train_bn=train_bn)
    if isinstance(strategy, (tuple, list)) and len(strategy) == 2:
        name, argument = strategy
        if name == "freeze_unfreeze" and isinstance(argument, int) and argument >= 0:
            return BackboneUnfreezing([(argument, "all")], train_bn=train_bn)
        if name == "unfreeze_milestones" and _is_milestones(argument):
            (first, second), count = argument
            return BackboneUnfreezing([(first, ("last", count)), (second, ("rest", count))], train_bn=train_bn)
    raise ValueError(f"Unknown finetuning strategy {strategy!r}. Allowed: {', '.join(STRATEGY_FORMS)}.")


def _is_milestones(argument: Any) -> bool:
    try:
        (first, second), count = argument
    except (TypeError, ValueError):
        return False
    ints = all(isinstance(v, int) and v >= 0 for v in (first, second, count))
    return ints and first <= second and count > 0
