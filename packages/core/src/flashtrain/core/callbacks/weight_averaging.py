"""Weight averaging on ``torch.optim.swa_utils``: an exponential moving average (EMA) of the weights, and
stochastic weight averaging (SWA, Izmailov et al. 2018) with its SWALR schedule.

Names and behaviour follow Lightning 2.x (``WeightAveraging``, ``EMAWeightAveraging``,
``StochasticWeightAveraging``):

- the average is updated after optimizer steps (``should_update(step_idx=...)``) or at epoch ends
  (``should_update(epoch_idx=...)``);
- validation runs on the averaged weights (swapped in and out, bit for bit);
- at the end of ``fit`` the model holds the averaged weights;
- checkpoints hold the averaged weights as ``state_dict`` (so ``load_from_checkpoint`` gives the averaged model)
  and the weights being trained as ``current_model_state``; the average itself (with its update count) is the
  callback's ``state_dict``, so a resumed run continues exactly, bit for bit on CPU.

With ``use_buffers=True`` (the default) buffers such as BatchNorm statistics are averaged like the parameters,
instead of being recomputed by an extra pass over the data (``swa_utils.update_bn``).
"""

from __future__ import annotations

import copy
import itertools
import logging
from typing import Any, Literal

import torch
from torch.optim.swa_utils import SWALR, AveragedModel, get_ema_multi_avg_fn

from flashtrain.core.callbacks.base import Callback
from flashtrain.core.exceptions import MisconfigurationException
from flashtrain.core.utilities.rank_zero import rank_zero_warn

log = logging.getLogger(__name__)

_ANNEALING = ("cos", "linear")


class WeightAveraging(Callback):
    """Keep an ``AveragedModel`` of the module; override :meth:`should_update` to choose when it is updated.

    Args:
        device: Where the average lives (None: with the module).
        use_buffers: Average the buffers (e.g. BatchNorm statistics) too.
        **kwargs: Passed to ``torch.optim.swa_utils.AveragedModel`` (``avg_fn``, ``multi_avg_fn``). Without
            either, the average is the plain mean of every update (SWA's).
    """

    def __init__(self, device: torch.device | str | int | None = None, use_buffers: bool = True, **kwargs: Any) -> None:
        # AveragedModel moves its copy with .to(device); its annotation takes a torch.device or an index, not a name
        self._device = torch.device(device) if isinstance(device, str) else device
        self._use_buffers = use_buffers
        self._kwargs = kwargs
        self._average: AveragedModel | None = None
        self._pending: dict[str, Any] | None = None
        self._latest_update_step = 0
        self._latest_update_epoch = -1

    def should_update(self, step_idx: int | None = None, epoch_idx: int | None = None) -> bool:
        """Whether to update the average after optimizer step ``step_idx`` or at the end of epoch ``epoch_idx``.

        The default updates after every optimizer step.
        """
        return step_idx is not None

    @property
    def average_model(self) -> AveragedModel | None:
        """The ``AveragedModel`` (None before ``fit`` starts)."""
        return self._average

    # -- building and updating the average ------------------------------------------------------------------------
    def on_fit_start(self, trainer: Any, pl_module: Any) -> None:
        # Built here, once the module is on its device; the copy leaves out the module's link to the trainer.
        detached = copy.deepcopy(pl_module, {id(trainer): None})
        self._average = AveragedModel(detached, device=self._device, use_buffers=self._use_buffers, **self._kwargs)
        del detached
        if self._pending is not None:
            self._average.load_state_dict(self._pending)
            self._pending = None

    def on_train_batch_end(self, trainer: Any, pl_module: Any, outputs: Any, batch: Any, batch_idx: int) -> None:
        step_idx = trainer.global_step - 1
        if trainer.global_step > self._latest_update_step and self.should_update(step_idx=step_idx):
            self._update(pl_module)
            self._latest_update_step = trainer.global_step

    def on_train_epoch_end(self, trainer: Any, pl_module: Any) -> None:
        epoch = trainer.current_epoch
        if epoch > self._latest_update_epoch and self.should_update(epoch_idx=epoch):
            self._update(pl_module)
            self._latest_update_epoch = epoch

    def on_train_end(self, trainer: Any, pl_module: Any) -> None:
        if self._average is not None:
            for average, current in zip(self._tensors(self._average.module), self._tensors(pl_module)):
                current.data.copy_(average.data)

    def _update(self, pl_module: Any) -> None:
        if self._average is not None:
            self._average.update_parameters(pl_module)

    def _tensors(self, module: torch.nn.Module) -> Any:
        return itertools.chain(module.parameters(), module.buffers()) if self._use_buffers else module.parameters()

    # -- validation on the averaged weights -----------------------------------------------------------------------
    def on_validation_epoch_start(self, trainer: Any, pl_module: Any) -> None:
        self._swap(pl_module)

    def on_validation_epoch_end(self, trainer: Any, pl_module: Any) -> None:
        self._swap(pl_module)

    def _swap(self, pl_module: Any) -> None:
        if self._average is None:
            return
        for average, current in zip(self._tensors(self._average.module), self._tensors(pl_module)):
            held = average.data.clone()
            average.data.copy_(current.data)
            current.data.copy_(held)

    # -- checkpoints ----------------------------------------------------------------------------------------------
    def state_dict(self) -> dict[str, Any]:
        state: dict[str, Any] = {
            "latest_update_step": self._latest_update_step,
            "latest_update_epoch": self._latest_update_epoch,
        }
        if self._average is not None:
            state["average"] = self._average.state_dict()
        return state

    def load_state_dict(self, state_dict: dict[str, Any]) -> None:
        self._latest_update_step = state_dict.get("latest_update_step", 0)
        self._latest_update_epoch = state_dict.get("latest_update_epoch", -1)
        if "average" in state_dict:
            if self._average is not None:
                self._average.load_state_dict(state_dict["average"])
            else:
                self._pending = state_dict["average"]

    def on_save_checkpoint(self, trainer: Any, pl_module: Any, checkpoint: dict[str, Any]) -> None:
        if self._average is None:
            return
        prefix = "module."
        checkpoint["current_model_state"] = checkpoint["state_dict"]
        # The same tensors as the callback's state: torch.save writes them once.
        checkpoint["state_dict"] = {
            key[len(prefix) :]: value for key, value in self._average.state_dict().items() if key.startswith(prefix)
        }

    def on_load_checkpoint(self, trainer: Any, pl_module: Any, checkpoint: dict[str, Any]) -> None:
        if "current_model_state" in checkpoint:  # the trainer loaded the average; training goes on from these
            pl_module.load_state_dict(checkpoint["current_model_state"])


class EMAWeightAveraging(WeightAveraging):
    """An exponential moving average of the weights, updated every ``update_every_n_steps`` optimizer steps.

    Args:
        device: Where the average lives (None: with the module).
        use_buffers: Average the buffers too.
        decay: Weight of the old average at each update (``ema = decay * ema + (1 - decay) * weights``).
        update_every_n_steps: Update after every n-th optimizer step.
        update_starting_at_step: First optimizer step (0-based) that updates the average.
        update_starting_at_epoch: First epoch (0-based) whose steps update the average; from then on the end of
            every epoch updates it too (as Lightning).
    """

    def __init__(
        self,
        device: torch.device | str | int | None = None,
        use_buffers: bool = True,
        decay: float = 0.999,
        update_every_n_steps: int = 1,
        update_starting_at_step: int | None = None,
        update_starting_at_epoch: int | None = None,
    ) -> None:
        if isinstance(decay, bool) or not isinstance(decay, (int, float)) or not 0.0 <= decay <= 1.0:
            raise ValueError(f"EMAWeightAveraging decay must be a number in [0, 1], got {decay!r}.")
        if (
            isinstance(update_every_n_steps, bool)
            or not isinstance(update_every_n_steps, int)
            or update_every_n_steps < 1
        ):
            raise ValueError(
                f"EMAWeightAveraging update_every_n_steps must be an int >= 1, got {update_every_n_steps!r}."
            )
        super().__init__(device=device, use_buffers=use_buffers, multi_avg_fn=get_ema_multi_avg_fn(decay))
        self.decay = decay
        self.update_every_n_steps = update_every_n_steps
        self.update_starting_at_step = update_starting_at_step
        self.update_starting_at_epoch = update_starting_at_epoch
        self._current_epoch = 0

    def on_train_epoch_start(self, trainer: Any, pl_module: Any) -> None:
        self._current_epoch = trainer.current_epoch

    def should_update(self, step_idx: int | None = None, epoch_idx: int | None = None) -> bool:
        if step_idx is None:  # an epoch end: an update from update_starting_at_epoch on (Lightning's rule)
            start = self.update_starting_at_epoch
            return epoch_idx is not None and start is not None and epoch_idx >= start
        if self.update_starting_at_step is not None and step_idx < self.update_starting_at_step:
            return False
        if self.update_starting_at_epoch is not None and self._current_epoch < self.update_starting_at_epoch:
            return False
        return step_idx % self.update_every_n_steps == 0


class StochasticWeightAveraging(WeightAveraging):
    """SWA: from epoch ``swa_epoch_start`` on, the learning rate follows ``SWALR`` towards ``swa_lrs`` and the
    average takes in the weights at the end of every epoch.

    Args:
        swa_lrs: The SWA learning rate, one for all parameter groups or a list with one per group.
        swa_epoch_start: Epoch to start from: an int (1-based, as in Lightning) or a fraction of ``max_epochs``.
        annealing_epochs: Epochs over which SWALR anneals from the current rate to ``swa_lrs``.
        annealing_strategy: ``"cos"`` or ``"linear"``.
        avg_fn: ``AveragedModel``'s ``avg_fn`` (default: the equal-weight mean).
        device: Where the average lives (default the CPU, as in Lightning; None: with the module).
        use_buffers: Average the buffers too.
    """

    def __init__(
        self,
        swa_lrs: float | list[float],
        swa_epoch_start: int | float = 0.8,
        annealing_epochs: int = 10,
        annealing_strategy: Literal["cos", "linear"] = "cos",
        avg_fn: Any = None,
        device: torch.device | str | int | None = "cpu",
        use_buffers: bool = True,
    ) -> None:
        lrs = swa_lrs if isinstance(swa_lrs, (list, tuple)) else [swa_lrs]
        # Rates are floats, as Lightning requires (an int in a list of rates is usually a typo for a float).
        if not lrs or any(not isinstance(lr, float) or lr <= 0 for lr in lrs):
            raise MisconfigurationException(
                f"The `swa_lrs` should be a positive float, or a list of positive floats; got {swa_lrs!r}."
            )
        wrong_int = isinstance(swa_epoch_start, int) and swa_epoch_start < 1
        wrong_float = isinstance(swa_epoch_start, float) and not 0.0 < swa_epoch_start <= 1.0
        if (
            isinstance(swa_epoch_start, bool)
            or not isinstance(swa_epoch_start, (int, float))
            or wrong_int
            or wrong_float
        ):
            raise MisconfigurationException(
                "SWA: `swa_epoch_start` should be a >0 integer or a float between 0 and 1 (an epoch, or a fraction "
                f"of max_epochs); got {swa_epoch_start!r}."
            )
        if isinstance(annealing_epochs, bool) or not isinstance(annealing_epochs, int) or annealing_epochs < 1:
            raise ValueError(
                f"StochasticWeightAveraging annealing_epochs must be an int >= 1, got {annealing_epochs!r}."
            )
        if annealing_strategy not in _ANNEALING:
            raise ValueError(
                f"StochasticWeightAveraging annealing_strategy must be one of {list(_ANNEALING)}, got "
                f"{annealing_strategy!r}."
            )
        kwargs = {"avg_fn": avg_fn} if avg_fn is not None else {}
        super().__init__(device=device, use_buffers=use_buffers, **kwargs)
        self._swa_lrs = list(lrs) if isinstance(swa_lrs, (list, tuple)) else float(swa_lrs)
        self._swa_epoch_start = swa_epoch_start
        self._annealing_epochs = annealing_epochs
        self._annealing_strategy = annealing_strategy
        self._swa_start = 0
        self._scheduler_installed = False

    @property
    def swa_start(self) -> int:
        """The first SWA epoch, 0-based."""
        return self._swa_start

    def on_fit_start(self, trainer: Any, pl_module: Any) -> None:
        start = self._swa_epoch_start
        if isinstance(start, float):
            if trainer.max_epochs == -1:
                raise ValueError(
                    f"StochasticWeightAveraging(swa_epoch_start={start}) is a fraction of max_epochs, but the "
                    "Trainer has no max_epochs; give swa_epoch_start as an epoch number."
                )
            start = int(trainer.max_epochs * start)
        self._swa_start = max(start - 1, 0)
        if len(trainer.optimizers) != 1:
            raise ValueError(f"StochasticWeightAveraging needs exactly one optimizer, got {len(trainer.optimizers)}.")
        groups = len(trainer.optimizers[0].param_groups)
        if isinstance(self._swa_lrs, list) and len(self._swa_lrs) != groups:
            raise ValueError(
                f"StochasticWeightAveraging got {len(self._swa_lrs)} swa_lrs for an optimizer with {groups} parameter "
                "group(s); give one rate per group, or a single float for all."
            )
        super().on_fit_start(trainer, pl_module)
        if self._scheduler_installed:
            # Resuming inside the SWA phase: put SWALR back before the trainer restores the schedulers' state.
            self._install_scheduler(trainer)

    def on_train_epoch_start(self, trainer: Any, pl_module: Any) -> None:
        if trainer.current_epoch >= self._swa_start and not self._scheduler_installed:
            self._install_scheduler(trainer)
            self._scheduler_installed = True

    def _install_scheduler(self, trainer: Any) -> None:
        for config in trainer.lr_scheduler_configs:
            if config.interval == "step":
                rank_zero_warn(f"SWA is currently only supported every epoch. Found {config}")
            log.info(f"Swapping scheduler `{type(config.scheduler).__name__}` for `SWALR`")
        optimizer = trainer.optimizers[0]
        rates = self._swa_lrs if isinstance(self._swa_lrs, list) else [self._swa_lrs] * len(optimizer.param_groups)
        for group, rate in zip(optimizer.param_groups, rates):
            group["initial_lr"] = rate  # SWALR anneals from the current rate; the schedule's base is the SWA rate
        scheduler = SWALR(
            trainer.optimizers[0],
            swa_lr=self._swa_lrs,  # type: ignore[arg-type]  # SWALR takes one rate per group too; its annotation says float
            anneal_epochs=self._annealing_epochs,
            anneal_strategy=self._annealing_strategy,
        )
        # SWALR replaces the module's schedulers for the rest of the run, as in Lightning.
        trainer.optimization.replace_schedulers([scheduler], interval="epoch")

    def should_update(self, step_idx: int | None = None, epoch_idx: int | None = None) -> bool:
        return epoch_idx is not None and epoch_idx >= self._swa_start

    def state_dict(self) -> dict[str, Any]:
        return {**super().state_dict(), "scheduler_installed": self._scheduler_installed}

    def load_state_dict(self, state_dict: dict[str, Any]) -> None:
        super().load_state_dict(state_dict)
        self._scheduler_installed = bool(state_dict.get("scheduler_installed", False))
