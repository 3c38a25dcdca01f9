"""``Trainer(sync_batchnorm=True)`` and Lightning's ``LayerSync`` plugins: layers that synchronise across processes.

Under DDP each process normalises a batch with its own batch statistics; with several small per-process batches
that is noisier than one large batch. ``TorchSyncBatchNorm`` swaps every batch-norm layer for torch's
``SyncBatchNorm`` (statistics over all processes) when a distributed fit sets up the model, and ``revert`` swaps
them back. A ``LayerSync`` subclass is a plugin for any other such rewrite.
"""

from __future__ import annotations

from abc import ABC, abstractmethod

import torch


class LayerSync(ABC):
    """Rewrites a model's layers to synchronise across processes (``apply``) and back (``revert``)."""

    @abstractmethod
    def apply(self, model: torch.nn.Module) -> torch.nn.Module:
        """The model with its layers made to synchronise (in place where possible)."""

    @abstractmethod
    def revert(self, model: torch.nn.Module) -> torch.nn.Module:
        """The model with ``apply``'s layers back to their ordinary kind."""


class TorchSyncBatchNorm(LayerSync):
    """Every ``BatchNorm1d/2d/3d`` becomes ``torch.nn.SyncBatchNorm`` (same parameters and running statistics)."""

    def apply(self, model: torch.nn.Module) -> torch.nn.Module:
        return torch.nn.SyncBatchNorm.convert_sync_batchnorm(model)

    def revert(self, model: torch.nn.Module) -> torch.nn.Module:
        # SyncBatchNorm accepts any input rank and does not record which BatchNormXd it replaced: the plain
        # _BatchNorm it goes back to checks no input rank either (our own class: torch has no such converter).
        converted = model
        if isinstance(model, torch.nn.SyncBatchNorm):
            converted = _AnyRankBatchNorm(
                model.num_features, model.eps, model.momentum, model.affine, model.track_running_stats
            )
            if model.affine:
                with torch.no_grad():
                    converted.weight = model.weight
                    converted.bias = model.bias
            converted.running_mean = model.running_mean
            converted.running_var = model.running_var
            converted.num_batches_tracked = model.num_batches_tracked
            converted.training = model.training
        for name, child in model.named_children():
            converted.add_module(name, self.revert(child))
        return converted


class _AnyRankBatchNorm(torch.nn.modules.batchnorm._BatchNorm):
    def _check_input_dim(self, input: torch.Tensor) -> None:
        if input.dim() < 2:
            raise ValueError(f"expected at least 2D input (got {input.dim()}D input)")


def choose_layer_sync(sync_batchnorm: bool, given: LayerSync | None) -> LayerSync | None:
    """The layer-sync plugin for ``Trainer(sync_batchnorm=..., plugins=[...])``: the one given, else
    ``TorchSyncBatchNorm`` when ``sync_batchnorm``; both a flag and another plugin is Lightning's error."""
    if not isinstance(sync_batchnorm, bool):
        raise TypeError(f"Trainer(sync_batchnorm=...) must be True or False, got {sync_batchnorm!r}.")
    if given is not None:
        if sync_batchnorm and not isinstance(given, TorchSyncBatchNorm):
            from flashtrain.core.exceptions import MisconfigurationException

            raise MisconfigurationException(
                f"You set `Trainer(sync_batchnorm=True)` and provided a `{given.__class__.__name__}` plugin, but this "
                "is not allowed. Choose one or the other."
            )
        return given
    return TorchSyncBatchNorm() if sync_batchnorm else None
