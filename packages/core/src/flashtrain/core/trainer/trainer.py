"""``Trainer``: runs a ``Module`` through fit / validate / test / predict with Lightning 2.x flags."""

from __future__ import annotations

import contextlib
import math
import os
import random
import signal
import sys
import threading
import warnings
from collections.abc import Iterable
from typing import Any

import torch

from flashtrain.core.accelerators import resolve_accelerator
from flashtrain.core.callbacks.base import Callback, overrides
from flashtrain.core.checkpoint.io import (
    FORMAT_VERSION,
    load_checkpoint,
    safe_hyperparameters,
    safe_value,
    save_checkpoint_file,
)
from flashtrain.core.checkpoint.rng import capture_rng_states, restore_rng_states
from flashtrain.core.datamodule import DataModule
from flashtrain.core.logging_results import ResultCollection
from flashtrain.core.module import Module
from flashtrain.core.precision import build_precision
from flashtrain.core.seed import current_seed
from flashtrain.core.strategies import DDPSpawnStrategy, DDPStrategy, Strategy, build_strategy
from flashtrain.core.strategies.cluster import detect_environment
from flashtrain.core.trainer import evaluation, flags
from flashtrain.core.trainer.data import ReplayableLoader, has_len, without_shuffle
from flashtrain.core.trainer.loop import fit_loop
from flashtrain.core.trainer.optimizers import LRSchedulerConfig, ManagedOptimizer, parse_optimizers
from flashtrain.core.utilities.apply import apply_to_tensors

_ON_NAN = ("raise", "skip_step", None)


class Trainer:
    """Train, evaluate and predict with a :class:`~flashtrain.core.Module`; arguments follow Lightning 2.x."""

    def __init__(
        self,
        *,
        accelerator: str = "auto",
        strategy: str | Strategy = "auto",
        devices: int | str | list[int] = "auto",
        num_nodes: int = 1,
        precision: str | int = "32-true",
        logger: Any = None,
        callbacks: Callback | list[Callback] | None = None,
        fast_dev_run: int | bool = False,
        max_epochs: int | None = None,
        min_epochs: int | None = None,
        max_steps: int = -1,
        min_steps: int | None = None,
        max_time: Any = None,
        limit_train_batches: int | float | None = None,
        limit_val_batches: int | float | None = None,
        limit_test_batches: int | float | None = None,
        limit_predict_batches: int | float | None = None,
        overfit_batches: int | float = 0.0,
        val_check_interval: int | float | None = None,
        check_val_every_n_epoch: int | None = 1,
        num_sanity_val_steps: int | None = None,
        log_every_n_steps: int | None = None,
        enable_checkpointing: bool | None = None,
        enable_progress_bar: bool | None = None,
        enable_model_summary: bool | None = None,
        accumulate_grad_batches: int = 1,
        gradient_clip_val: float | None = None,
        gradient_clip_algorithm: str | None = None,
        deterministic: bool | str | None = None,
        benchmark: bool | None = None,
        inference_mode: bool = True,
        use_distributed_sampler: bool = True,
        detect_anomaly: bool = False,
        default_root_dir: str | None = None,
        gpus: int | None = None,
        on_nan: str | None = "raise",
    ) -> None:
        # -- hardware -------------------------------------------------------------------------------
        if gpus is not None:
            if accelerator not in ("auto", "gpu", "cuda") or devices != "auto":
                raise ValueError(
                    f"gpus={gpus!r} is shorthand for accelerator='gpu', devices={gpus!r}; do not combine it with "
                    f"accelerator={accelerator!r} or devices={devices!r}."
                )
            accelerator, devices = ("gpu", gpus) if gpus else ("cpu", "auto")
        self.accelerator = resolve_accelerator(accelerator)
        self.num_nodes = flags.check_positive_int("num_nodes", num_nodes)
        self.num_devices = self._parse_devices(devices)
        self.strategy = self._build_strategy(strategy)
        self.strategy.precision = build_precision(
            precision, self.accelerator.name, self.accelerator.autocast_device_type
        )
        self.precision = self.strategy.precision.name

        # -- loop limits ----------------------------------------------------------------------------
        self.fast_dev_run = self._check_fast_dev_run(
            fast_dev_run, max_epochs, max_steps, max_time, limit_train_batches, limit_val_batches
        )
        if max_epochs is not None and (
            isinstance(max_epochs, bool) or not isinstance(max_epochs, int) or max_epochs < -1
        ):
            raise ValueError(f"max_epochs must be an int >= -1 (-1 for no limit) or None, got {max_epochs!r}.")
        if isinstance(max_steps, bool) or not isinstance(max_steps, int) or max_steps < -1:
            raise ValueError(f"max_steps must be an int >= -1 (-1 for no limit), got {max_steps!r}.")
        if max_epochs is None:
            max_epochs = 1000 if max_steps == -1 and max_time is None else -1
        self.max_epochs = max_epochs
        self.min_epochs = flags.check_positive_int("min_epochs", min_epochs, allow_none=True, minimum=0)
        self.max_steps = max_steps
        self.min_steps = flags.check_positive_int("min_steps", min_steps, allow_none=True, minimum=0)
        self.max_time = flags.parse_max_time(max_time)
        self.limit_train_batches = flags.check_limit("limit_train_batches", limit_train_batches)
        self.limit_val_batches = flags.check_limit("limit_val_batches", limit_val_batches)
        self.limit_test_batches = flags.check_limit("limit_test_batches", limit_test_batches)
        self.limit_predict_batches = flags.check_limit("limit_predict_batches", limit_predict_batches)
        self.overfit_batches = flags.check_limit("overfit_batches", overfit_batches)
        if self.fast_dev_run:
            n = self.fast_dev_run
            self.max_epochs, self.max_steps = 1, n
            self.limit_train_batches = self.limit_val_batches = self.limit_test_batches = n
            self.limit_predict_batches = n
        if self.overfit_batches:
            self.limit_train_batches = self.limit_val_batches = self.overfit_batches
        if val_check_interval is None:
            val_check_interval = 1.0
        if (
            isinstance(val_check_interval, bool)
            or not isinstance(val_check_interval, (int, float))
            or (isinstance(val_check_interval, float) and not 0.0 < val_check_interval <= 1.0)
            or (isinstance(val_check_interval, int) and val_check_interval < 1)
        ):
            raise ValueError(
                "val_check_interval must be a float in (0.0, 1.0] (fraction of an epoch) or an int >= 1 "
                f"(every N training batches), got {val_check_interval!r}."
            )
        self.val_check_interval = val_check_interval
        self.check_val_every_n_epoch = flags.check_positive_int(
            "check_val_every_n_epoch", check_val_every_n_epoch, allow_none=True
        )
        if check_val_every_n_epoch is None and not isinstance(val_check_interval, int):
            raise ValueError("check_val_every_n_epoch=None needs an int val_check_interval (validate every N batches).")
        default_sanity = 0 if self.fast_dev_run else 2
        self.num_sanity_val_steps = default_sanity if num_sanity_val_steps is None else num_sanity_val_steps
        if not isinstance(self.num_sanity_val_steps, int) or self.num_sanity_val_steps < -1:
            raise ValueError(
                f"num_sanity_val_steps must be an int >= -1 (-1: all batches), got {num_sanity_val_steps!r}."
            )
        self.log_every_n_steps = flags.check_positive_int(
            "log_every_n_steps", 50 if log_every_n_steps is None else log_every_n_steps
        )
        self.accumulate_grad_batches = flags.check_positive_int("accumulate_grad_batches", accumulate_grad_batches)
        if gradient_clip_val is not None and (not isinstance(gradient_clip_val, (int, float)) or gradient_clip_val < 0):
            raise ValueError(f"gradient_clip_val must be a number >= 0 or None, got {gradient_clip_val!r}.")
        self.gradient_clip_val = gradient_clip_val
        flags.check_choice("gradient_clip_algorithm", gradient_clip_algorithm, (None, "norm", "value"))
        self.gradient_clip_algorithm = gradient_clip_algorithm
        self.on_nan = flags.check_choice("on_nan", on_nan, _ON_NAN)
        self.inference_mode = inference_mode
        self.use_distributed_sampler = use_distributed_sampler
        self.detect_anomaly = detect_anomaly
        self.default_root_dir = os.fspath(default_root_dir) if default_root_dir is not None else os.getcwd()
        self._set_determinism(deterministic, benchmark)

        # -- logging and callbacks --------------------------------------------------------------------
        self.loggers = self._build_loggers(logger)
        self.callbacks = self._build_callbacks(
            callbacks, enable_checkpointing, enable_progress_bar, enable_model_summary
        )

        # -- run state ----------------------------------------------------------------------------------
        self.module: Module | None = None
        self.datamodule: Any = None
        self.current_epoch = 0
        self.global_step = 0
        self.should_stop = False
        self.state = "initializing"
        self.sanity_checking = False
        self.num_training_batches: float = 0
        self.num_val_batches: list[int | float] = []
        self.num_eval_batches: int | float = 0  # batches of the evaluation or prediction now running
        self.optimizers: list[torch.optim.Optimizer] = []
        self.lr_scheduler_configs: list[LRSchedulerConfig] = []
        self._managed_optimizers: list[ManagedOptimizer] = []
        self._callback_metrics: dict[str, torch.Tensor] = {}
        self._logged_metrics: dict[str, torch.Tensor] = {}
        self._progress_bar_metrics: dict[str, torch.Tensor] = {}
        self._train_results = ResultCollection("train")
        self._results = self._train_results
        self._current_hook: str | None = None
        self._hooks: dict[str, tuple[list[Callback], Any]] = {}
        self._batches_done = 0
        self._epoch_finished = False
        self._val_done_at = -1
        self._total_train_batches = 0
        self._batches_that_stepped = 0
        self._val_loaders: list[Any] = []
        self._base_seed = 0
        self._pending_rng: dict[str, Any] | None = None
        self._signal_received: int | None = None
        self._last_checkpoint_path: str | None = None
        self._clip_gradients = False
        self._last_eval_metric_names: set[str] = set()

    # ==================================================================================================
    # construction helpers
    # ==================================================================================================
    def _parse_devices(self, devices: Any) -> int:
        available = self.accelerator.device_count()
        if devices == "auto":
            launched = detect_environment()  # under torchrun / srun: one device per started process
            return launched.world_size // self.num_nodes if launched is not None else 1
        if devices == -1:
            return max(available, 1)
        if isinstance(devices, str):
            try:
                devices = [int(d) for d in devices.split(",") if d.strip()] if "," in devices else int(devices)
            except ValueError:
                raise ValueError(f"devices={devices!r}: expected an int, a list of indices, -1 or 'auto'.") from None
        if isinstance(devices, (list, tuple)):
            bad = [d for d in devices if not isinstance(d, int) or d < 0 or d >= max(available, 1)]
            if bad or not devices:
                raise ValueError(
                    f"devices={list(devices)!r}: indices must be in 0..{available - 1} on "
                    f"{self.accelerator.name} ({available} visible)."
                )
            self._device_indices = list(devices)
            return len(devices)
        if isinstance(devices, bool) or not isinstance(devices, int) or devices < 1:
            raise ValueError(f"devices must be a positive int, a list of indices, -1 or 'auto', got {devices!r}.")
        if self.accelerator.name != "cpu" and devices > available:
            raise ValueError(f"devices={devices} but only {available} {self.accelerator.name} device(s) are visible.")
        return devices

    def _build_strategy(self, strategy: Any) -> Strategy:
        chosen = (
            strategy
            if isinstance(strategy, Strategy)
            else build_strategy(
                strategy, self.accelerator, self.num_devices, self.num_nodes, getattr(self, "_device_indices", None)
            )
        )
        chosen.accelerator = self.accelerator
        if isinstance(chosen, DDPStrategy) and isinstance(strategy, Strategy):  # DDPStrategy(...) from the user
            chosen.processes_per_node, chosen.num_nodes = self.num_devices, self.num_nodes
        return chosen

    @staticmethod
    def _check_fast_dev_run(
        value: Any, max_epochs: Any, max_steps: Any, max_time: Any, limit_train: Any, limit_val: Any
    ) -> int:
        if isinstance(value, bool):
            value = 1 if value else 0
        if not isinstance(value, int) or value < 0:
            raise ValueError(f"fast_dev_run must be a bool or an int >= 0 (batches to run), got {value!r}.")
        if value:
            conflicts = {
                "max_epochs": max_epochs,
                "max_time": max_time,
                "limit_train_batches": limit_train,
                "limit_val_batches": limit_val,
            }
            set_flags = [name for name, v in conflicts.items() if v is not None]
            if max_steps != -1:
                set_flags.insert(0, "max_steps")
            if set_flags:
                raise ValueError(
                    f"fast_dev_run={value} sets its own limits (one epoch of {value} batch(es)) and conflicts with "
                    f"{', '.join(set_flags)}. Remove {' and '.join(set_flags)}, or set fast_dev_run=False."
                )
        return value

    @staticmethod
    def _set_determinism(deterministic: Any, benchmark: Any) -> None:
        if deterministic is not None:
            flags.check_choice("deterministic", deterministic, (True, False, "warn"))
            torch.use_deterministic_algorithms(bool(deterministic), warn_only=deterministic == "warn")
            if deterministic:
                # cuBLAS needs this to be deterministic; it is read when the first CUDA handle is created.
                os.environ.setdefault("CUBLAS_WORKSPACE_CONFIG", ":4096:8")
        if benchmark is not None or deterministic:
            torch.backends.cudnn.benchmark = bool(benchmark) and not deterministic
        if deterministic:
            torch.backends.cudnn.deterministic = True

    def _build_loggers(self, logger: Any) -> list[Any]:
        if self.fast_dev_run or logger is False:
            return []
        if logger is None or logger is True:
            from flashtrain.core.loggers import default_logger

            return [default_logger(self.default_root_dir)]  # TensorBoard if installed, else CSV
        return list(logger) if isinstance(logger, Iterable) else [logger]

    def _build_callbacks(self, callbacks: Any, checkpointing: Any, progress_bar: Any, summary: Any) -> list[Callback]:
        from flashtrain.core.callbacks import ModelCheckpoint, ModelSummary, ProgressBar

        chosen = [callbacks] if isinstance(callbacks, Callback) else list(callbacks or [])
        for item in chosen:
            if not isinstance(item, Callback):
                raise TypeError(f"callbacks must be Callback instances, got {type(item).__name__}.")
        has = {type(cb) for cb in chosen}
        if checkpointing is False and any(isinstance(cb, ModelCheckpoint) for cb in chosen):
            raise ValueError("enable_checkpointing=False conflicts with a ModelCheckpoint in callbacks; remove one.")
        has_checkpoint = any(isinstance(c, ModelCheckpoint) for c in chosen)
        if checkpointing is not False and not self.fast_dev_run and not has_checkpoint:
            chosen.append(ModelCheckpoint())
        if progress_bar is not False and not any(isinstance(c, ProgressBar) for c in chosen):
            chosen.append(ProgressBar())
        if progress_bar is False:
            chosen = [c for c in chosen if not isinstance(c, ProgressBar)]
        if summary is not False and ModelSummary not in has and not self.fast_dev_run:
            chosen.append(ModelSummary())
        return chosen

    # ==================================================================================================
    # properties
    # ==================================================================================================
    @property
    def logger(self) -> Any:
        return self.loggers[0] if self.loggers else None

    @logger.setter
    def logger(self, value: Any) -> None:
        self.loggers = [] if value is None else [value]

    @property
    def lightning_module(self) -> Module | None:
        return self.module

    @property
    def model(self) -> Module | None:
        return self.module

    @property
    def log_dir(self) -> str:
        """The logger's run folder, or ``default_root_dir`` when there is no logger."""
        if self.logger is not None and getattr(self.logger, "log_dir", None):
            return self.logger.log_dir
        return self.default_root_dir

    @property
    def is_global_zero(self) -> bool:
        return self.strategy.is_global_zero

    @property
    def world_size(self) -> int:
        return self.strategy.world_size

    @property
    def global_rank(self) -> int:
        return self.strategy.global_rank

    @property
    def local_rank(self) -> int:
        return self.strategy.local_rank

    @property
    def training(self) -> bool:
        return self.state == "fit" and not self.sanity_checking and self._results is self._train_results

    @property
    def validating(self) -> bool:
        return self.state in ("fit", "validate") and self._results is not self._train_results

    @property
    def testing(self) -> bool:
        return self.state == "test"

    @property
    def predicting(self) -> bool:
        return self.state == "predict"

    @property
    def callback_metrics(self) -> dict[str, torch.Tensor]:
        """Every logged value: epoch reductions so far, and the latest step values of this epoch."""
        step_metrics = self._train_results.step_metrics()[0]
        return {**self._callback_metrics, **step_metrics} if step_metrics else dict(self._callback_metrics)

    @property
    def logged_metrics(self) -> dict[str, torch.Tensor]:
        """The values last sent to the loggers."""
        return dict(self._logged_metrics)

    @property
    def progress_bar_metrics(self) -> dict[str, float]:
        """Values logged with ``prog_bar=True``, as floats."""
        step_metrics = self._train_results.step_metrics()[2]
        merged = {**self._progress_bar_metrics, **step_metrics}
        return {key: float(value) for key, value in merged.items()}

    @property
    def checkpoint_callbacks(self) -> list[Any]:
        from flashtrain.core.callbacks import ModelCheckpoint

        return [cb for cb in self.callbacks if isinstance(cb, ModelCheckpoint)]

    @property
    def checkpoint_callback(self) -> Any:
        found = self.checkpoint_callbacks
        return found[0] if found else None

    @property
    def early_stopping_callback(self) -> Any:
        from flashtrain.core.callbacks import EarlyStopping

        return next((cb for cb in self.callbacks if isinstance(cb, EarlyStopping)), None)

    @property
    def progress_bar_callback(self) -> Any:
        from flashtrain.core.callbacks import ProgressBar

        return next((cb for cb in self.callbacks if isinstance(cb, ProgressBar)), None)

    @property
    def estimated_stepping_batches(self) -> float:
        """Optimizer steps the fit will take (for schedulers like OneCycleLR)."""
        per_epoch = math.ceil(self.num_training_batches / self.accumulate_grad_batches)
        by_epochs = per_epoch * self.max_epochs if self.max_epochs != -1 else float("inf")
        return min(by_epochs, self.max_steps) if self.max_steps != -1 else by_epochs

    # ==================================================================================================
    # public entry points
    # ==================================================================================================
    def fit(
        self,
        model: Module,
        train_dataloaders: Any = None,
        val_dataloaders: Any = None,
        datamodule: Any = None,
        ckpt_path: str | None = None,
    ) -> None:
        """Train ``model``; data from loaders or a datamodule; ``ckpt_path`` (path, "last" or "best") resumes."""
        train_dataloaders, datamodule = _loaders_or_datamodule(train_dataloaders, datamodule)
        self._run("fit", model, datamodule, ckpt_path, train=train_dataloaders, val=val_dataloaders)

    def finetune(
        self,
        model: Module,
        train_dataloaders: Any = None,
        val_dataloaders: Any = None,
        datamodule: Any = None,
        strategy: Any = "no_freeze",
        ckpt_path: str | None = None,
        train_bn: bool = True,
    ) -> None:
        """``fit`` with a finetuning strategy for ``model.backbone``: ``"no_freeze"``, ``"freeze"``,
        ``("freeze_unfreeze", epoch)`` or ``("unfreeze_milestones", ((e1, e2), n))`` (see
        ``flashtrain.core.callbacks.finetuning``)."""
        from flashtrain.core.callbacks.finetuning import BackboneUnfreezing, finetuning_callback

        callback = finetuning_callback(strategy, train_bn)
        self.callbacks = [cb for cb in self.callbacks if type(cb) is not BackboneUnfreezing]
        if callback is not None:
            self.callbacks.append(callback)
            if isinstance(self.strategy, DDPStrategy):
                # Frozen parameters get no gradients; DDP must not wait for them.
                self.strategy.find_unused_parameters = True
        self.fit(model, train_dataloaders, val_dataloaders, datamodule=datamodule, ckpt_path=ckpt_path)

    def validate(
        self,
        model: Module | None = None,
        dataloaders: Any = None,
        ckpt_path: str | None = None,
        verbose: bool = True,
        datamodule: Any = None,
    ) -> list[dict[str, float]]:
        """Run the validation loop once; returns one dict of metrics per dataloader."""
        dataloaders, datamodule = _loaders_or_datamodule(dataloaders, datamodule)
        return self._run("validate", model, datamodule, ckpt_path, val=dataloaders, verbose=verbose)

    def test(
        self,
        model: Module | None = None,
        dataloaders: Any = None,
        ckpt_path: str | None = None,
        verbose: bool = True,
        datamodule: Any = None,
    ) -> list[dict[str, float]]:
        """Run the test loop once; returns one dict of metrics per dataloader."""
        dataloaders, datamodule = _loaders_or_datamodule(dataloaders, datamodule)
        return self._run("test", model, datamodule, ckpt_path, test=dataloaders, verbose=verbose)

    def predict(
        self,
        model: Module | None = None,
        dataloaders: Any = None,
        datamodule: Any = None,
        return_predictions: bool = True,
        ckpt_path: str | None = None,
        output: str | None = None,
    ) -> Any:
        """Run ``predict_step`` over the data; returns the outputs per batch (a list per dataloader if several).

        With ``output`` (tasks: "labels", "probabilities", "logits", "top_k") the module's ``format_predictions``
        turns them into one entry per input sample, in input order."""
        dataloaders, datamodule = _loaders_or_datamodule(dataloaders, datamodule)
        predictions = self._run(
            "predict",
            model,
            datamodule,
            ckpt_path,
            predict=dataloaders,
            return_predictions=return_predictions or bool(output),
        )
        if output is None:
            return predictions
        formatter = getattr(self.module, "format_predictions", None)
        if formatter is None:
            raise ValueError(
                f"output={output!r} needs a task module with format_predictions (e.g. ImageClassifier); "
                f"{type(self.module).__name__} has none. Call predict without output."
            )
        return formatter(predictions, output)

    def save_checkpoint(self, filepath: str, weights_only: bool = False) -> None:
        """Write a checkpoint of the current state (only the weights and hyper-parameters with ``weights_only``)."""
        if self.module is None:
            raise RuntimeError("save_checkpoint needs a model: call it during or after trainer.fit(model, ...).")
        checkpoint = self._dump_checkpoint(weights_only)
        if self.is_global_zero:
            if self.strategy.root_device.type != "cpu":  # loadable anywhere, torch_xla or not
                checkpoint = apply_to_tensors(checkpoint, lambda tensor: tensor.cpu())
            save_checkpoint_file(checkpoint, filepath)
        self.strategy.barrier()

    # ==================================================================================================
    # the run: setup, stage, teardown
    # ==================================================================================================
    def _run(self, stage: str, model: Module | None, datamodule: Any, ckpt_path: str | None, **data: Any) -> Any:
        model = self._attach(model, datamodule, stage)
        if isinstance(self.strategy, DDPSpawnStrategy) and self.strategy.environment is None:
            return self._run_spawned(stage, model, datamodule, ckpt_path, data)
        self.state = stage
        self.should_stop = False
        status = "failed"
        handlers = self._install_signal_handlers() if stage == "fit" else {}
        anomaly = torch.autograd.detect_anomaly() if self.detect_anomaly else contextlib.nullcontext()
        try:
            with anomaly:
                self.strategy.setup_environment()
                self._agree_on_logger_version()
                checkpoint = self._read_checkpoint(ckpt_path, stage)
                self._prepare_and_setup(stage)
                self.strategy.setup_module(model, training=stage == "fit")
                self.module = model
                if stage == "fit":
                    result = self._fit(data.get("train"), data.get("val"), checkpoint)
                elif stage == "predict":
                    self._restore_weights(checkpoint)
                    result = evaluation.run_predict(self, data.get("predict"), data["return_predictions"])
                else:
                    self._restore_weights(checkpoint)
                    result = evaluation.run_evaluation_stage(
                        self, stage, data.get("val" if stage == "validate" else "test"), data["verbose"]
                    )
            status = "success"
            return result
        except BaseException as exception:
            status = "interrupted" if isinstance(exception, (KeyboardInterrupt, SystemExit)) else "failed"
            for callback in self.callbacks:
                callback.on_exception(self, model, exception)
            error = self.strategy.on_exception(exception)
            if error is not exception:
                raise error from exception
            raise
        finally:
            self._restore_signal_handlers(handlers)
            self._teardown(stage, status)

    def _run_spawned(self, stage: str, model: Module, datamodule: Any, ckpt_path: str | None, data: dict) -> Any:
        """ddp_spawn: the run happens in fresh processes; rank 0's weights, metrics and callback state come back."""
        outcome = self.strategy.spawn(self, stage, (model, datamodule, ckpt_path, data))  # type: ignore[attr-defined]
        model.load_state_dict(outcome["state_dict"])
        self.global_step, self.current_epoch = outcome["global_step"], outcome["current_epoch"]
        self._callback_metrics, self._logged_metrics = outcome["callback_metrics"], outcome["logged_metrics"]
        for callback in self.callbacks:
            if callback.state_key in outcome["callbacks"]:
                callback.load_state_dict(outcome["callbacks"][callback.state_key])
        self.state = "finished"
        return outcome["result"]

    def _spawn_result(self, result: Any) -> dict[str, Any]:
        """What a ddp_spawn rank 0 sends back to the process that started it."""
        return apply_to_tensors(
            {
                "state_dict": self.module.state_dict(),
                "global_step": self.global_step,
                "current_epoch": self.current_epoch,
                "callback_metrics": dict(self._callback_metrics),
                "logged_metrics": dict(self._logged_metrics),
                "callbacks": {cb.state_key: cb.state_dict() for cb in self.callbacks},
                "result": result,
            },
            lambda tensor: tensor.detach().cpu(),
        )

    def _attach(self, model: Module | None, datamodule: Any, stage: str) -> Module:
        if model is None:
            if self.module is None:
                raise ValueError(f"trainer.{stage}() needs a model: pass trainer.{stage}(model, ...).")
            model = self.module
        if not isinstance(model, Module) and isinstance(getattr(model, "_orig_mod", None), Module):
            raise TypeError(
                f"trainer.{stage}() got a torch.compile()d module. Pass the Module itself and compile inside it "
                "instead, e.g. `self.net = torch.compile(net)` in __init__."
            )
        if not isinstance(model, Module):
            raise TypeError(
                f"trainer.{stage}() expects a flashtrain.core.Module, got {type(model).__name__}. Subclass Module "
                "(like LightningModule) and define training_step and configure_optimizers."
            )
        if stage == "fit":
            if not overrides(model, Module, "training_step"):
                raise ValueError(f"{type(model).__name__} has no training_step(self, batch, batch_idx); fit needs one.")
            if not overrides(model, Module, "configure_optimizers"):
                raise ValueError(
                    f"{type(model).__name__} has no configure_optimizers(self); fit needs one, e.g. "
                    "`return torch.optim.Adam(self.parameters(), lr=1e-3)`."
                )
        model._trainer = self
        self.module = model
        if datamodule is not None:
            self.datamodule = datamodule
            datamodule.trainer = self
        elif stage == "fit":
            self.datamodule = None
        return model

    def _prepare_and_setup(self, stage: str) -> None:
        setup_stage = "fit" if stage == "fit" else stage
        if self.is_global_zero:
            if self.datamodule is not None:
                self.datamodule.prepare_data()
            self.module.prepare_data()
        self.strategy.barrier()
        if self.datamodule is not None:
            self.datamodule.setup(setup_stage)
        extra = self.module.configure_callbacks()
        if extra:
            extra = [extra] if isinstance(extra, Callback) else list(extra)
            replaced = {type(cb) for cb in extra}
            self.callbacks = [cb for cb in self.callbacks if type(cb) not in replaced] + extra
        # Checkpoint-writing callbacks go last so they see everything the others did.
        self.callbacks.sort(key=lambda cb: cb.runs_last)
        self._build_hook_table()
        self._call_hook("setup", setup_stage)

    def _teardown(self, stage: str, status: str) -> None:
        try:
            if self.module is not None:
                self._call_hook("teardown", "fit" if stage == "fit" else stage)
            if self.datamodule is not None:
                self.datamodule.teardown(stage)
        finally:
            if stage == "fit" and self.is_global_zero:
                for logger in self.loggers:
                    logger.finalize(status)
            self.strategy.teardown()
            self.state = "finished" if status == "success" else status
            self._results = self._train_results

    # ==================================================================================================
    # fit
    # ==================================================================================================
    def _fit(self, train: Any, val: Any, checkpoint: dict[str, Any] | None) -> None:
        module = self.module
        train_loader = train if train is not None else self._datamodule_loader("train_dataloader", "fit")
        if train_loader is None:
            raise ValueError(
                "trainer.fit needs training data: pass train_dataloaders=... or a datamodule with train_dataloader()."
            )
        if self.overfit_batches:
            train_loader = without_shuffle(train_loader)
        self._base_seed = self._choose_base_seed()
        train_loader = self._shard(train_loader, training=True)
        self.num_training_batches = self._limited_length(train_loader, self.limit_train_batches, "train")
        if val is None and self.datamodule is not None and DataModule.defines(self.datamodule, "val_dataloader"):
            val = self.datamodule.val_dataloader()
        if val is None and overrides(module, Module, "validation_step") and self.overfit_batches:
            val = train_loader
        self._val_loaders = evaluation.as_loader_list(val) if overrides(module, Module, "validation_step") else []
        self._val_loaders = [self._shard(loader, training=False) for loader in self._val_loaders]
        self.num_val_batches = [self._limited_length(dl, self.limit_val_batches, "val") for dl in self._val_loaders]
        self._val_check_batch = self._resolve_val_check_batch()
        self._configure_optimizers()
        if checkpoint is not None:
            self._restore_weights_and_callbacks(checkpoint)
        self._log_hyperparams()
        self._call_hook("on_fit_start")
        if checkpoint is not None:  # after on_fit_start, where finetuning callbacks rebuild parameter groups
            self._restore_optimizers_and_loop(checkpoint)
        train_data = ReplayableLoader(train_loader, self._base_seed)
        if self.num_sanity_val_steps and self._val_loaders and self.current_epoch == 0 and self._batches_done == 0:
            evaluation.run_sanity_check(self)
        fit_loop(self, train_data)
        self._call_hook("on_fit_end")

    def _fit_done(self) -> bool:
        if self._max_steps_reached():
            return True
        if self.max_epochs != -1 and self.current_epoch >= self.max_epochs:
            return True
        if self.num_training_batches == 0:
            return True
        return self.should_stop and self._min_reached()

    def _max_steps_reached(self) -> bool:
        return self.max_steps != -1 and self.global_step >= self.max_steps

    def _min_reached(self) -> bool:
        epochs_ok = self.min_epochs is None or self.current_epoch + 1 >= self.min_epochs
        steps_ok = self.min_steps is None or self.global_step >= self.min_steps
        if not (epochs_ok and steps_ok):
            self.should_stop = False  # Lightning: a stop request before the minimum is ignored
        return epochs_ok and steps_ok

    def _datamodule_loader(self, method: str, stage: str) -> Any:
        if self.datamodule is None or not DataModule.defines(self.datamodule, method):
            return None
        return getattr(self.datamodule, method)()

    def _limited_length(self, loader: Any, limit: int | float, name: str) -> int | float:
        length = len(loader) if has_len(loader) else float("inf")
        if isinstance(limit, int) and not isinstance(limit, bool):
            return min(length, limit)
        if math.isinf(length):
            if limit not in (0.0, 1.0):
                raise ValueError(
                    f"limit_{name}_batches={limit} is a fraction, but the {name} dataloader has no length "
                    f"(an IterableDataset); pass an int number of batches instead."
                )
            return 0 if limit == 0.0 else length
        return int(length * limit) if limit < 1.0 else length

    def _resolve_val_check_batch(self) -> float:
        if isinstance(self.val_check_interval, float):
            if math.isinf(self.num_training_batches):
                if self.val_check_interval != 1.0:
                    raise ValueError(
                        "val_check_interval as a fraction needs a training dataloader with a length; "
                        "pass an int (every N batches)."
                    )
                return float("inf")
            return max(1, int(self.num_training_batches * self.val_check_interval))
        if self.check_val_every_n_epoch is not None and self.val_check_interval > self.num_training_batches:
            raise ValueError(
                f"val_check_interval={self.val_check_interval} is larger than the {self.num_training_batches} training "
                "batches of an epoch; lower it, or set check_val_every_n_epoch=None to count batches across epochs."
            )
        return self.val_check_interval

    def _val_due(self, batch_idx: int, is_last: bool) -> bool:
        if not self._val_loaders or not any(self.num_val_batches):
            return False
        if self.check_val_every_n_epoch is None:  # an int interval counted over all epochs
            return self._total_train_batches % self._val_check_batch == 0
        if (self.current_epoch + 1) % self.check_val_every_n_epoch != 0:
            return False
        if self._val_done_at == batch_idx + 1:
            return False  # already ran here before a resume
        if is_last and (self.val_check_interval == 1.0 or isinstance(self.val_check_interval, float)):
            return True
        return (batch_idx + 1) % self._val_check_batch == 0

    def _run_validation_in_fit(self) -> None:
        # Marked done first: a checkpoint written by this validation (on_validation_end) must not rerun it.
        self._val_done_at = self._batches_done
        evaluation.run_validation_in_fit(self)

    def _configure_optimizers(self) -> None:
        module = self.module
        self._current_hook = "configure_optimizers"
        optimizers, schedulers = parse_optimizers(module.configure_optimizers())
        if module.automatic_optimization:
            if not optimizers:
                raise ValueError(
                    f"{type(module).__name__}.configure_optimizers() returned no optimizer; automatic "
                    "optimization needs one."
                )
            if len(optimizers) > 1:
                raise ValueError(
                    f"configure_optimizers returned {len(optimizers)} optimizers. Automatic optimization uses one; "
                    "for several (e.g. GANs) set self.automatic_optimization = False and step them in training_step."
                )
        elif self.accumulate_grad_batches > 1 or self.gradient_clip_val:
            raise ValueError(
                "accumulate_grad_batches and gradient_clip_val apply to automatic optimization only; with "
                "automatic_optimization=False, accumulate and clip in training_step (self.clip_gradients)."
            )
        self.optimizers = optimizers
        self.lr_scheduler_configs = schedulers
        self._managed_optimizers = [ManagedOptimizer(opt, self) for opt in optimizers]
        self._clip_gradients = bool(self.gradient_clip_val) or overrides(module, Module, "configure_gradient_clipping")

    def _optimizers_for_module(self, wrapped: bool) -> list[Any]:
        return self._managed_optimizers if wrapped else self.optimizers

    def _step_schedulers(self, interval: str) -> None:
        for config in self.lr_scheduler_configs:
            if config.interval != interval:
                continue
            count = self._batches_that_stepped + 1 if interval == "step" else self.current_epoch + 1
            if count % config.frequency != 0:
                continue
            if config.reduce_on_plateau:
                value = self.callback_metrics.get(config.monitor)
                if value is None:
                    if config.strict:
                        raise ValueError(
                            f"ReduceLROnPlateau monitors {config.monitor!r}, which was not logged. Logged metrics: "
                            f"{sorted(self.callback_metrics)}. Log it with self.log({config.monitor!r}, ...) or set "
                            "strict=False in the lr_scheduler dict."
                        )
                    warnings.warn(f"ReduceLROnPlateau skipped: {config.monitor!r} was not logged.", stacklevel=2)
                    continue
                config.scheduler.step(float(value))
            else:
                config.scheduler.step()

    def _after_optimizer_step(self) -> None:
        """Count the stepped batch and send step metrics to the loggers when due."""
        logging_step = self._batches_that_stepped
        self._batches_that_stepped += 1
        if self.loggers and (logging_step + 1) % self.log_every_n_steps == 0:
            _, logged, _ = self._train_results.step_metrics()
            if logged:
                self._send_to_loggers(logged, logging_step)

    def _send_to_loggers(self, metrics: dict[str, torch.Tensor], step: int) -> None:
        metrics = {**metrics, "epoch": torch.tensor(float(self.current_epoch))}
        self._logged_metrics.update(metrics)
        if self.is_global_zero:
            for logger in self.loggers:
                logger.log_metrics(metrics, step)

    def _publish_epoch_metrics(self, results: ResultCollection, suffix: str = "", log: bool = True) -> dict[str, Any]:
        step_cb, _, step_bar = results.step_metrics()
        callback, logged, bar = results.epoch_metrics(suffix)
        self._callback_metrics.update(step_cb)
        self._callback_metrics.update(callback)
        self._progress_bar_metrics.update(step_bar)
        self._progress_bar_metrics.update(bar)
        if log and logged and self.loggers:
            self._send_to_loggers(logged, max(self._batches_that_stepped - 1, 0))
        return callback

    def _log_hyperparams(self) -> None:
        module = self.module
        if not self.loggers or not getattr(module, "_log_hyperparams", False) or not self.is_global_zero:
            return
        for logger in self.loggers:
            logger.log_hyperparams(dict(module.hparams))

    def _handle_nonfinite_loss(self, loss: torch.Tensor, batch_idx: int) -> bool:
        loss = loss.detach()
        """on_nan policy: True means skip this step; "raise" raises FloatingPointError naming the step."""
        if self.on_nan == "skip_step":
            warnings.warn(
                f"Non-finite loss ({float(loss)}) at step {self.global_step} (epoch {self.current_epoch}, "
                f"batch {batch_idx}); skipping the optimizer step (on_nan='skip_step').",
                stacklevel=2,
            )
            return True
        last = self._last_checkpoint_path
        raise FloatingPointError(
            f"Loss is {float(loss)} at step {self.global_step} (epoch {self.current_epoch}, batch {batch_idx}); "
            f"training stopped. Last good checkpoint: {last if last else 'none written yet'}. Lower the learning "
            "rate, enable gradient_clip_val, or pass Trainer(on_nan='skip_step') to skip such steps."
        )

    def _eval_grad_mode(self) -> Any:
        """inference_mode for evaluation where the strategy supports it (XLA does not), else no_grad."""
        if self.inference_mode and self.strategy.supports_inference_mode:
            return torch.inference_mode()
        return torch.no_grad()

    def _choose_base_seed(self) -> int:
        seed = current_seed()
        seed = seed if seed is not None else random.SystemRandom().randrange(2**31)
        return int(self.strategy.broadcast(seed))  # every rank orders data by rank 0's seed

    def _shard(self, loader: Any, training: bool) -> Any:
        """This rank's share of a loader (unchanged on one process or with use_distributed_sampler=False)."""
        return self.strategy.setup_dataloader(
            loader, training=training, seed=self._base_seed, shard=self.use_distributed_sampler
        )

    def _agree_on_logger_version(self) -> None:
        """Rank 0 picks the log folder version; the others use it too (checkpoint folders follow it)."""
        if self.strategy.world_size > 1:
            for logger in self.loggers:
                if hasattr(logger, "use_version"):
                    logger.use_version(self.strategy.broadcast(logger.version))

    # ==================================================================================================
    # hooks and logging
    # ==================================================================================================
    def _overrides(self, method: str) -> bool:
        return (
            self.module is not None
            and callable(getattr(type(self.module), method, None))
            and overrides(self.module, Module, method)
        )

    def _build_hook_table(self) -> None:
        """Only hooks that a callback or the module overrides are listed; the others cost one dict lookup."""
        self._hooks = {}
        names = [name for name in dir(Callback) if name.startswith("on_") or name in ("setup", "teardown")]
        for name in names:
            callbacks = [cb for cb in self.callbacks if overrides(cb, Callback, name)]
            defined_on_module = hasattr(Module, name) and overrides(self.module, Module, name)
            if callbacks or defined_on_module:
                self._hooks[name] = (callbacks, getattr(self.module, name) if defined_on_module else None)

    def _call_hook(self, name: str, *args: Any, runs_last: bool | None = None, module: bool = True) -> Any:
        """Call a hook on the callbacks (those with ``runs_last`` as given, or all), then on the module."""
        entry = self._hooks.get(name)
        if entry is None:
            return None
        callbacks, module_hook = entry
        self._current_hook = name
        for callback in callbacks:
            if runs_last is None or callback.runs_last == runs_last:
                getattr(callback, name)(self, self.module, *args)
        if module and module_hook is not None:
            self._current_hook = name
            return module_hook(*args)
        return None

    # ==================================================================================================
    # checkpoints
    # ==================================================================================================
    def _dump_checkpoint(self, weights_only: bool = False) -> dict[str, Any]:
        from flashtrain import core

        module = self.module
        checkpoint: dict[str, Any] = {
            "format_version": FORMAT_VERSION,
            "flashtrain_version": core.__version__,
            "epoch": self.current_epoch,
            "global_step": self.global_step,
            "state_dict": module.state_dict(),
            "hyper_parameters": safe_hyperparameters(dict(module.hparams)),
            "hparams_name": type(module).__qualname__,
        }
        if not weights_only:
            checkpoint.update(
                {
                    "optimizer_states": [opt.state_dict() for opt in self.optimizers],
                    "lr_schedulers": [config.scheduler.state_dict() for config in self.lr_scheduler_configs],
                    "precision": self.strategy.precision.state_dict(),
                    "loop": {
                        "batches_done": self._batches_done,
                        "epoch_finished": self._epoch_finished,
                        "val_done_at": self._val_done_at,
                        "total_train_batches": self._total_train_batches,
                        "batches_that_stepped": self._batches_that_stepped,
                        "base_seed": self._base_seed,
                        "results": self._train_results.state_dict(self.strategy.reduce),
                    },
                    "rng": capture_rng_states(),
                    "callbacks": {
                        cb.state_key: safe_value(cb.state_dict(), f"{cb.state_key}.state_dict()")
                        for cb in self.callbacks
                        if cb.state_dict()
                    },
                    "logger": {"version": self.logger.version} if self.logger is not None else {},
                }
            )
            if self.datamodule is not None:
                checkpoint["datamodule"] = safe_value(self.datamodule.state_dict(), "datamodule.state_dict()")
                self.datamodule.on_save_checkpoint(checkpoint)
            for callback in self.callbacks:
                callback.on_save_checkpoint(self, module, checkpoint)
        module.on_save_checkpoint(checkpoint)
        return checkpoint

    def _resolve_ckpt_path(self, ckpt_path: str) -> str | None:
        if ckpt_path == "best":
            callback = self.checkpoint_callback
            if callback is None or not callback.best_model_path:
                raise ValueError(
                    'ckpt_path="best" needs a ModelCheckpoint that has saved a checkpoint in this '
                    "trainer (run fit first), or pass a file path."
                )
            return callback.best_model_path
        if ckpt_path == "last":
            from flashtrain.core.callbacks.model_checkpoint import find_last_checkpoint

            found = find_last_checkpoint(self)
            if found is None:
                warnings.warn('ckpt_path="last": no checkpoint found; starting from scratch.', stacklevel=3)
            return found
        return os.fspath(ckpt_path)

    def _read_checkpoint(self, ckpt_path: str | None, stage: str) -> dict[str, Any] | None:
        if ckpt_path is None:
            return None
        path = self._resolve_ckpt_path(ckpt_path)
        if path is None:
            return None
        checkpoint = load_checkpoint(path, map_location="cpu")
        version = checkpoint.get("logger", {}).get("version")
        if stage == "fit" and version is not None and hasattr(self.logger, "use_version"):
            self.logger.use_version(version)  # the resumed run appends to the same log folder
        self._resumed_from = path
        return checkpoint

    def _restore_weights(self, checkpoint: dict[str, Any] | None) -> None:
        if checkpoint is None:
            return
        self.module.on_load_checkpoint(checkpoint)
        self.module.load_state_dict(checkpoint["state_dict"])

    def _restore_weights_and_callbacks(self, checkpoint: dict[str, Any]) -> None:
        """Weights, callback and datamodule state: what ``on_fit_start`` may rely on."""
        if "optimizer_states" not in checkpoint:
            raise ValueError(
                f"{self._resumed_from} holds weights only (saved with weights_only=True) and cannot resume "
                "training; load it with Module.load_from_checkpoint and call fit without ckpt_path."
            )
        self._restore_weights(checkpoint)
        states = checkpoint.get("callbacks", {})
        for callback in self.callbacks:
            if callback.state_key in states:
                callback.load_state_dict(states[callback.state_key])
            callback.on_load_checkpoint(self, self.module, checkpoint)
        if self.datamodule is not None and "datamodule" in checkpoint:
            self.datamodule.load_state_dict(checkpoint["datamodule"])
            self.datamodule.on_load_checkpoint(checkpoint)

    def _restore_optimizers_and_loop(self, checkpoint: dict[str, Any]) -> None:
        """Optimizers, schedulers, grad scaler, loop position and RNG: fit continues exactly where it was saved."""
        device = self.strategy.root_device
        for optimizer, state in zip(self.optimizers, checkpoint["optimizer_states"]):
            optimizer.load_state_dict(state)
            for param_state in optimizer.state.values():  # optimizer state must live with the parameters
                for key, value in param_state.items():
                    if isinstance(value, torch.Tensor) and key != "step":
                        param_state[key] = value.to(device)
        for config, state in zip(self.lr_scheduler_configs, checkpoint.get("lr_schedulers", [])):
            config.scheduler.load_state_dict(state)
        self.strategy.precision.load_state_dict(checkpoint.get("precision", {}))
        loop = checkpoint.get("loop", {})
        finished = loop.get("epoch_finished", True)
        self.current_epoch = checkpoint["epoch"] + (1 if finished else 0)
        self.global_step = checkpoint["global_step"]
        self._batches_done = 0 if finished else loop.get("batches_done", 0)
        self._val_done_at = -1 if finished else loop.get("val_done_at", -1)
        self._total_train_batches = loop.get("total_train_batches", 0)
        self._batches_that_stepped = loop.get("batches_that_stepped", self.global_step)
        self._base_seed = loop.get("base_seed", self._base_seed)
        if not finished:
            self._train_results.load_state_dict(loop.get("results", {}), self.global_rank)
        self._pending_rng = checkpoint.get("rng")

    def _restore_rng_if_resuming(self) -> None:
        """RNG states go back right before the first resumed batch, after anything that may draw from them."""
        if self._pending_rng is not None:
            restore_rng_states(self._pending_rng)
            self._pending_rng = None

    # ==================================================================================================
    # signals: SIGTERM / SIGINT finish the step, save, and exit
    # ==================================================================================================
    def _install_signal_handlers(self) -> dict[int, Any]:
        if threading.current_thread() is not threading.main_thread():
            return {}
        previous = {}
        for signum in (signal.SIGTERM, signal.SIGINT):
            previous[signum] = signal.getsignal(signum)
            signal.signal(signum, self._on_signal)
        return previous

    @staticmethod
    def _restore_signal_handlers(previous: dict[int, Any]) -> None:
        for signum, handler in previous.items():
            signal.signal(signum, handler)

    def _on_signal(self, signum: int, frame: Any) -> None:
        if self._signal_received is not None and signum == signal.SIGINT:
            raise KeyboardInterrupt  # a second Ctrl-C stops at once
        self._signal_received = signum

    def _stop_on_signal(self) -> None:
        signum = self._signal_received
        from flashtrain.core.callbacks.model_checkpoint import interrupt_checkpoint_path

        path = interrupt_checkpoint_path(self)
        self.save_checkpoint(path)
        self._last_checkpoint_path = path
        name = signal.Signals(signum).name
        print(
            f"{name} received: saved {path} at step {self.global_step}; resume with ckpt_path='last'.", file=sys.stderr
        )
        if signum == signal.SIGINT:
            raise KeyboardInterrupt
        raise SystemExit(128 + signum)


def _loaders_or_datamodule(loaders: Any, datamodule: Any) -> tuple[Any, Any]:
    """Lightning lets a DataModule be passed where the dataloaders go; move it to ``datamodule``."""
    return (None, loaders) if isinstance(loaders, DataModule) else (loaders, datamodule)
