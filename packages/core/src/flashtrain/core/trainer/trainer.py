"""``Trainer``: runs a ``Module`` through fit / validate / test / predict with Lightning 2.x flags.

The Trainer wires its parts together and keeps Lightning's public surface; each concern has one owner:

- ``connector`` / ``limits``: the flags, checked once (``trainer.limits``), and the hardware (``trainer.strategy``);
- ``progress``: where a fit stands and its stop rules (``trainer.progress``);
- ``hooks``: every hook call, callbacks then module (``trainer.hooks``);
- ``metrics``: what ``self.log`` records and the loggers (``trainer.metrics_store``);
- ``optimizers``: optimizers and schedulers (``trainer.optimization``);
- ``data_connector``: each stage's dataloaders (``trainer.data_connector``);
- ``checkpoint.connector``: dumping and restoring (``trainer.checkpoint_connector``);
- ``signals``: SIGTERM/SIGINT during fit;
- ``loop`` and ``evaluation``: the loops, which receive these owners.
"""

from __future__ import annotations

import contextlib
import dataclasses
import datetime
import signal
from typing import TYPE_CHECKING, Any

import torch

from flashtrain.core.callbacks.base import Callback
from flashtrain.core.checkpoint.connector import CheckpointConnector
from flashtrain.core.datamodule import DataModule
from flashtrain.core.hparams import drop_unpicklable_hyperparameters
from flashtrain.core.loggers.base import log_run_start
from flashtrain.core.module import Module
from flashtrain.core.precision import Precision
from flashtrain.core.profilers import build_profiler
from flashtrain.core.strategies import Strategy
from flashtrain.core.trainer import connector
from flashtrain.core.trainer.barebones import barebones_flags
from flashtrain.core.trainer.config_validator import check_logging_interval, verify_loop_configuration
from flashtrain.core.trainer.data_connector import DataConnector
from flashtrain.core.trainer.env_defaults import defaults_from_environment
from flashtrain.core.trainer.evaluation import EvaluationLoop
from flashtrain.core.trainer.hooks import HookDispatcher
from flashtrain.core.trainer.legacy_arguments import Lightning1xFit, accept_lightning_1x_arguments
from flashtrain.core.trainer.limits import LoopLimits, check_loop_flags
from flashtrain.core.trainer.loop import FitLoop
from flashtrain.core.trainer.metrics import MetricsStore
from flashtrain.core.trainer.optimizers import LRSchedulerConfig, Optimization
from flashtrain.core.trainer.progress import FitProgress
from flashtrain.core.trainer.signals import SignalHandler
from flashtrain.core.trainer.state import RunningStage, TrainerFn, TrainerState, TrainerStatus
from flashtrain.core.utilities.compiled import unwrap_compiled

# What loggers' ``finalize`` is told (Lightning's words; MLflow and W&B map them to their run states).
_LOGGER_STATUS = {TrainerStatus.FINISHED: "success", TrainerStatus.INTERRUPTED: "interrupted"}
_ENTRY_STAGE = {
    TrainerFn.FITTING: RunningStage.TRAINING,
    TrainerFn.VALIDATING: RunningStage.VALIDATING,
    TrainerFn.TESTING: RunningStage.TESTING,
    TrainerFn.PREDICTING: RunningStage.PREDICTING,
}


class _Limit:
    """A Trainer attribute that is the validated loop flag of the same name in ``trainer.limits``.

    One per ``LoopLimits`` field, added below the class: a flag added to ``LoopLimits`` is a Trainer attribute too.
    """

    def __init__(self, name: str | None = None) -> None:
        if name is not None:
            self.name = name

    def __set_name__(self, owner: type, name: str) -> None:
        self.name = name

    def __get__(self, trainer: Any, owner: type | None = None) -> Any:
        return self if trainer is None else getattr(trainer.limits, self.name)

    def __set__(self, trainer: Any, value: Any) -> None:
        setattr(trainer.limits, self.name, value)


class _Progress(_Limit):
    """A Trainer attribute that is the number of the same name in ``trainer.progress``."""

    def __get__(self, trainer: Any, owner: type | None = None) -> Any:
        return self if trainer is None else getattr(trainer.progress, self.name)

    def __set__(self, trainer: Any, value: Any) -> None:
        setattr(trainer.progress, self.name, value)


class _Checkpoint(_Limit):
    """A Trainer attribute that is the attribute of the same name of ``trainer.checkpoint_connector``."""

    def __get__(self, trainer: Any, owner: type | None = None) -> Any:
        return self if trainer is None else getattr(trainer.checkpoint_connector, self.name)

    def __set__(self, trainer: Any, value: Any) -> None:
        setattr(trainer.checkpoint_connector, self.name, value)


if TYPE_CHECKING:
    _LoopFlags = LoopLimits  # type checkers see the flag attributes the loop below adds, with their types
else:
    _LoopFlags = object


class Trainer(_LoopFlags):
    """Train, evaluate and predict with a :class:`~flashtrain.core.Module`; arguments follow Lightning 2.x.

    Every ``LoopLimits`` flag (``max_epochs``, ``limit_val_batches``, ``default_root_dir``, ...) is also an attribute
    reading and writing ``trainer.limits``."""

    current_epoch = _Progress()
    global_step = _Progress()
    should_stop = _Progress()
    num_training_batches = _Progress()
    is_last_batch = _Progress()
    ckpt_path = _Checkpoint()  # the checkpoint the latest run loaded; set it to load that file in every run
    lightning_1x: Lightning1xFit | None = None  # what Lightning 1.x arguments ask of fit (legacy_arguments.py)

    @defaults_from_environment
    @accept_lightning_1x_arguments
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
        time_budget: Any = None,
        limit_train_batches: int | float | None = None,
        limit_val_batches: int | float | None = None,
        limit_test_batches: int | float | None = None,
        limit_predict_batches: int | float | None = None,
        overfit_batches: int | float = 0.0,
        val_check_interval: int | float | str | dict | datetime.timedelta | None = None,
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
        reload_dataloaders_every_n_epochs: int = 0,
        profiler: Any = None,
        barebones: bool = False,
        plugins: Any = None,
        sync_batchnorm: bool = False,
    ) -> None:
        self.barebones = barebones
        if barebones:  # every speed-costing feature off; asking for one of them is refused (barebones.py)
            logger, enable_checkpointing, enable_progress_bar, log_every_n_steps, enable_model_summary, sanity = (
                barebones_flags(
                    enable_checkpointing=enable_checkpointing,
                    logger=logger,
                    enable_progress_bar=enable_progress_bar,
                    log_every_n_steps=log_every_n_steps,
                    enable_model_summary=enable_model_summary,
                    num_sanity_val_steps=num_sanity_val_steps,
                    fast_dev_run=fast_dev_run,
                    detect_anomaly=detect_anomaly,
                    profiler=profiler,
                )
            )
            num_sanity_val_steps = sanity
        hardware = connector.resolve_hardware(
            accelerator, strategy, devices, num_nodes, precision, gpus, plugins, sync_batchnorm
        )
        self.accelerator = hardware.accelerator
        self.strategy: Strategy = hardware.strategy
        self.num_devices, self.num_nodes = hardware.num_devices, hardware.num_nodes
        self.limits: LoopLimits = check_loop_flags(
            fast_dev_run=fast_dev_run,
            max_epochs=-1 if max_epochs is None and time_budget is not None else max_epochs,
            min_epochs=min_epochs,
            max_steps=max_steps,
            min_steps=min_steps,
            max_time=max_time,
            limit_train_batches=limit_train_batches,
            limit_val_batches=limit_val_batches,
            limit_test_batches=limit_test_batches,
            limit_predict_batches=limit_predict_batches,
            overfit_batches=overfit_batches,
            val_check_interval=val_check_interval,
            check_val_every_n_epoch=check_val_every_n_epoch,
            num_sanity_val_steps=num_sanity_val_steps,
            log_every_n_steps=log_every_n_steps,
            accumulate_grad_batches=accumulate_grad_batches,
            gradient_clip_val=gradient_clip_val,
            gradient_clip_algorithm=gradient_clip_algorithm,
            on_nan=on_nan,
            inference_mode=inference_mode,
            use_distributed_sampler=use_distributed_sampler,
            detect_anomaly=detect_anomaly,
            default_root_dir=default_root_dir,
            reload_dataloaders_every_n_epochs=reload_dataloaders_every_n_epochs,
        )
        connector.set_determinism(deterministic, benchmark)
        loggers = connector.build_loggers(logger, self.limits.default_root_dir, self.limits.fast_dev_run)
        self.callbacks: list[Callback] = connector.build_callbacks(
            callbacks, enable_checkpointing, enable_progress_bar, enable_model_summary, self.limits.fast_dev_run
        ) + connector.time_budget_callbacks(time_budget)
        self.state = TrainerState()
        self.progress = FitProgress(self.limits)
        self.hooks = HookDispatcher(self, build_profiler(profiler))
        self.metrics_store = MetricsStore(loggers, self.strategy)
        self.optimization = Optimization(self.strategy, self.progress)
        self.data_connector = DataConnector(self.strategy, self.limits, self.progress)
        self.evaluation = EvaluationLoop(
            strategy=self.strategy,
            hooks=self.hooks,
            metrics_store=self.metrics_store,
            state=self.state,
            progress=self.progress,
            limits=self.limits,
            data_connector=self.data_connector,
        )
        self.checkpoint_connector = CheckpointConnector(self)
        self.signals = SignalHandler()
        self.module: Module | None = None

    # ==================================================================================================
    # properties (Lightning's public surface; each reads the owner of that state)
    # ==================================================================================================
    @property
    def precision(self) -> str:
        return self.strategy.precision.precision

    @property
    def received_sigterm(self) -> bool:
        """Whether the last ``fit`` was sent SIGTERM (it then saved and raised ``SIGTERMException``)."""
        return self.signals.received == signal.SIGTERM

    @property
    def precision_plugin(self) -> Precision:
        """The precision plugin the strategy runs with (``precision_plugin.precision`` is the flag)."""
        return self.strategy.precision

    @property
    def loggers(self) -> list[Any]:
        return self.metrics_store.loggers

    @loggers.setter
    def loggers(self, value: list[Any]) -> None:
        self.metrics_store.loggers = list(value or [])  # None: no loggers, as Lightning

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
    def datamodule(self) -> Any:
        return self.data_connector.datamodule

    @datamodule.setter
    def datamodule(self, datamodule: Any) -> None:  # an attribute in Lightning: ported code assigns it
        self.data_connector.datamodule = datamodule

    @property
    def optimizers(self) -> list[torch.optim.Optimizer]:
        return self.optimization.optimizers

    @optimizers.setter
    def optimizers(self, value: list[torch.optim.Optimizer]) -> None:
        self.optimization.optimizers = list(value)

    @property
    def lr_scheduler_configs(self) -> list[LRSchedulerConfig]:
        return self.optimization.lr_scheduler_configs

    @property
    def profiler(self) -> Any:
        return self.hooks.profiler

    @property
    def train_dataloader(self) -> Any:
        """This rank's training DataLoader of the running (or last) fit; None before one is requested."""
        return self.data_connector.train_dataloader

    @property
    def val_dataloaders(self) -> Any:
        """The validation DataLoader (a list when there are several); None before one is requested."""
        return _one_or_list(self.data_connector.val_dataloaders)

    @property
    def test_dataloaders(self) -> Any:
        return _one_or_list(self.data_connector.test_dataloaders)

    @property
    def predict_dataloaders(self) -> Any:
        return _one_or_list(self.data_connector.predict_dataloaders)

    @property
    def enable_validation(self) -> bool:
        return self.data_connector.validation_enabled()

    @property
    def num_val_batches(self) -> list[int | float]:
        """``trainer.validate``'s batches per loader while it runs or after it, else the fit's validation's."""
        if self.state.fn == TrainerFn.VALIDATING:
            return self.evaluation.max_batches["validate"]
        return self.data_connector.num_val_batches

    @property
    def num_sanity_val_batches(self) -> list[int | float]:
        return self.evaluation.sanity_batches()

    @property
    def num_test_batches(self) -> list[int | float]:
        return self.evaluation.max_batches["test"]

    @property
    def num_predict_batches(self) -> list[int | float]:
        return self.evaluation.max_batches["predict"]

    @property
    def num_eval_batches(self) -> int | float:
        """Batches of the evaluation or prediction running now (for progress bars)."""
        return self.evaluation.num_batches

    @property
    def log_dir(self) -> str:
        """The logger's run folder, or ``default_root_dir`` when there is no logger."""
        if self.logger is not None and getattr(self.logger, "log_dir", None):
            return self.logger.log_dir
        return self.limits.default_root_dir

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
        return self.state.stage == RunningStage.TRAINING

    @property
    def sanity_checking(self) -> bool:
        return self.state.stage == RunningStage.SANITY_CHECKING

    @property
    def validating(self) -> bool:
        return self.state.stage == RunningStage.VALIDATING

    @property
    def testing(self) -> bool:
        return self.state.stage == RunningStage.TESTING

    @property
    def predicting(self) -> bool:
        return self.state.stage == RunningStage.PREDICTING

    @property
    def interrupted(self) -> bool:
        """The last run ended by an exception (Lightning 2: any, Ctrl-C or error; ``state.status`` tells which)."""
        return self.state.status in (TrainerStatus.INTERRUPTED, TrainerStatus.FAILED)

    @property
    def callback_metrics(self) -> dict[str, torch.Tensor]:
        """Every logged value: epoch reductions so far, and the latest step values of this epoch."""
        return self.metrics_store.callback_metrics

    @property
    def logged_metrics(self) -> dict[str, torch.Tensor]:
        """The values last sent to the loggers."""
        return self.metrics_store.logged_metrics

    @property
    def progress_bar_metrics(self) -> dict[str, float]:
        """Values logged with ``prog_bar=True``, as floats."""
        return self.metrics_store.progress_bar_metrics

    @property
    def checkpoint_callbacks(self) -> list[Any]:
        from flashtrain.core.callbacks import ModelCheckpoint

        return [cb for cb in self.callbacks if isinstance(cb, ModelCheckpoint)]

    @property
    def checkpoint_callback(self) -> Any:
        found = self.checkpoint_callbacks
        return found[0] if found else None

    @property
    def time_budget(self) -> Any:
        """The :class:`~flashtrain.core.callbacks.TimeBudget` planning this run (``time_budget=``), or None."""
        from flashtrain.core.callbacks import TimeBudget

        return next((cb for cb in self.callbacks if isinstance(cb, TimeBudget)), None)

    @property
    def early_stopping_callbacks(self) -> list[Any]:
        from flashtrain.core.callbacks import EarlyStopping

        return [cb for cb in self.callbacks if isinstance(cb, EarlyStopping)]

    @property
    def early_stopping_callback(self) -> Any:
        found = self.early_stopping_callbacks
        return found[0] if found else None

    @property
    def progress_bar_callback(self) -> Any:
        from flashtrain.core.callbacks import ProgressBar

        return next((cb for cb in self.callbacks if isinstance(cb, ProgressBar)), None)

    @property
    def estimated_stepping_batches(self) -> int | float:
        """Optimizer steps the fit will take (for schedulers like OneCycleLR): requests the training loader
        now if configure_optimizers asks before the fit did (as Lightning)."""
        if self.state.fn == TrainerFn.FITTING and self.data_connector.train_dataloader is None:
            self.data_connector.load_fit_train()
        return self.progress.estimated_stepping_batches()

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
        weights_only: bool | None = None,
    ) -> None:
        """Train ``model``; data from loaders or a datamodule; ``ckpt_path`` (path, "last" or "best") resumes."""
        self.checkpoint_connector.check_weights_only(weights_only)
        train_dataloaders, datamodule = _loaders_or_datamodule(train_dataloaders, datamodule)
        if self.lightning_1x is not None:
            ckpt_path = self.lightning_1x.before_fit(
                self, model, train_dataloaders, val_dataloaders, datamodule, ckpt_path
            )
        self._run(TrainerFn.FITTING, model, datamodule, ckpt_path, train=train_dataloaders, val=val_dataloaders)

    def tune(self, model: Module, *args: Any, **kwargs: Any) -> dict[str, Any]:
        """Lightning 1.x: run what ``auto_scale_batch_size`` / ``auto_lr_find`` ask (2.x: ``Tuner(trainer)``)."""
        import warnings

        warnings.warn(
            "trainer.tune(model) is Lightning 1.x; in 2.x write Tuner(trainer).lr_find(model) / "
            ".scale_batch_size(model). flashtrain runs it that way.",
            FutureWarning,
            stacklevel=2,
        )
        return (self.lightning_1x or Lightning1xFit()).tune(self, model, *args, **kwargs)

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
        ``flashtrain.core.callbacks.finetuning``). The trainer's callbacks and strategy are as before afterwards."""
        from flashtrain.core.callbacks.finetuning import finetuning_callback
        from flashtrain.core.strategies.ddp import DDPStrategy

        callback = finetuning_callback(strategy, train_bn)
        if callback is None:
            self.fit(model, train_dataloaders, val_dataloaders, datamodule=datamodule, ckpt_path=ckpt_path)
            return
        callbacks = list(self.callbacks)
        ddp = self.strategy if isinstance(self.strategy, DDPStrategy) else None
        find_unused = ddp is not None and ddp.find_unused_parameters
        self.callbacks = callbacks + [callback]
        if ddp is not None:
            ddp.find_unused_parameters = True  # frozen parameters get no gradients; DDP must not wait
        try:
            self.fit(model, train_dataloaders, val_dataloaders, datamodule=datamodule, ckpt_path=ckpt_path)
        finally:
            self.callbacks = [cb for cb in self.callbacks if cb is not callback]
            if ddp is not None:
                ddp.find_unused_parameters = find_unused

    def validate(
        self,
        model: Module | None = None,
        dataloaders: Any = None,
        ckpt_path: str | None = None,
        verbose: bool = True,
        datamodule: Any = None,
        weights_only: bool | None = None,
    ) -> list[dict[str, float]]:
        """Run the validation loop once; returns one dict of metrics per dataloader."""
        self.checkpoint_connector.check_weights_only(weights_only)
        dataloaders, datamodule = _loaders_or_datamodule(dataloaders, datamodule)
        return self._run(TrainerFn.VALIDATING, model, datamodule, ckpt_path, val=dataloaders, verbose=verbose)

    def test(
        self,
        model: Module | None = None,
        dataloaders: Any = None,
        ckpt_path: str | None = None,
        verbose: bool = True,
        datamodule: Any = None,
        weights_only: bool | None = None,
    ) -> list[dict[str, float]]:
        """Run the test loop once; returns one dict of metrics per dataloader."""
        self.checkpoint_connector.check_weights_only(weights_only)
        dataloaders, datamodule = _loaders_or_datamodule(dataloaders, datamodule)
        return self._run(TrainerFn.TESTING, model, datamodule, ckpt_path, test=dataloaders, verbose=verbose)

    def predict(
        self,
        model: Module | None = None,
        dataloaders: Any = None,
        datamodule: Any = None,
        return_predictions: bool | None = None,
        ckpt_path: str | None = None,
        output: str | None = None,
        weights_only: bool | None = None,
    ) -> Any:
        """Run ``predict_step`` over the data; returns the outputs per batch (a list per dataloader if several).

        With ``output`` (tasks: "labels", "probabilities", "logits", "top_k", ...; or Flash's Output objects), or
        without it when the task's ``model.output`` is set, the module's ``format_predictions`` turns them into one
        entry per input sample, in input order."""
        self.checkpoint_connector.check_weights_only(weights_only)
        dataloaders, datamodule = _loaders_or_datamodule(dataloaders, datamodule)
        if output is None and hasattr(model or self.module, "format_predictions"):
            output = getattr(model or self.module, "output", None)  # a task's ``model.output`` chosen beforehand
        keep = return_predictions is not False or output is not None  # None: Lightning's default, keep them
        predictions = self._run(
            TrainerFn.PREDICTING, model, datamodule, ckpt_path, predict=dataloaders, return_predictions=keep
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

    def init_module(self, empty_init: bool | None = None) -> contextlib.AbstractContextManager:
        """Build a model inside: its tensors are created on the run's device, in the precision's dtype, and with
        ``empty_init=True`` left uninitialised (for weights a checkpoint replaces)."""
        from flashtrain.core.trainer.module_init import module_init_context

        return module_init_context(self.strategy, empty_init)

    def save_checkpoint(self, filepath: str, weights_only: bool = False) -> None:
        """Write a checkpoint of the current state (only the weights and hyper-parameters with ``weights_only``)."""
        if self.module is None:
            raise AttributeError(  # Lightning's type and words
                "Saving a checkpoint is only possible if a model is attached to the Trainer. Did you call "
                "`Trainer.save_checkpoint()` before calling `Trainer.{fit,validate,test,predict}`?"
            )
        self.checkpoint_connector.save(filepath, weights_only)

    # ==================================================================================================
    # the run: setup, stage, teardown
    # ==================================================================================================
    def _run(self, fn: TrainerFn, model: Module | None, datamodule: Any, ckpt_path: str | None, **data: Any) -> Any:
        ckpt_path = self.checkpoint_connector.select(fn.value, ckpt_path, model_provided=model is not None)
        model = self._attach(model, datamodule, fn, data.get("val"))
        drop_unpicklable_hyperparameters(model)
        if self.strategy.must_spawn():
            return self._run_spawned(fn, model, datamodule, ckpt_path, data)
        self.state.fn, self.state.status = fn, TrainerStatus.RUNNING
        self.state.stage = _ENTRY_STAGE[fn]  # already during setup, as Lightning
        self.progress.should_stop = False
        self.metrics_store.reset(fn.value)  # each entry point starts with empty metrics, as in Lightning
        status = TrainerStatus.FAILED
        fitting = fn == TrainerFn.FITTING
        signals = self.signals.installed() if fitting else contextlib.nullcontext()
        anomaly = torch.autograd.detect_anomaly() if self.limits.detect_anomaly else contextlib.nullcontext()
        try:
            with signals, anomaly:
                self.strategy.setup_environment()
                # The checkpoint first: a resumed run takes its log version before any rank claims a new folder.
                checkpoint = self.checkpoint_connector.read(ckpt_path, fn)
                self._agree_on_logger_version()
                if self.hooks.profiling:  # after the log version is settled: the report may go to its folder
                    self.profiler.setup(fn.value, self.local_rank if self.world_size > 1 else None, self.log_dir)
                self._prepare_and_setup(fn, model)
                self.strategy.setup_module(model, training=fitting)
                if fitting:
                    self._fit(model, data.get("train"), data.get("val"), checkpoint)
                    result = None
                elif fn == TrainerFn.PREDICTING:
                    self.checkpoint_connector.restore_weights(checkpoint)
                    model.zero_grad()  # as Lightning, every stage starts without gradients
                    result = self.evaluation.predict(model, data.get("predict"), data["return_predictions"])
                else:
                    self.checkpoint_connector.restore_weights(checkpoint)
                    model.zero_grad()
                    given = data.get("val" if fn == TrainerFn.VALIDATING else "test")
                    result = self.evaluation.run_stage(model, fn.value, given, data["verbose"])
            status = TrainerStatus.FINISHED
            return result
        except BaseException as exception:
            interrupted = isinstance(exception, (KeyboardInterrupt, SystemExit))
            status = TrainerStatus.INTERRUPTED if interrupted else TrainerStatus.FAILED
            self.hooks.call_on_exception(exception, self.datamodule)
            error = self.signals.exit_for(self.strategy.on_exception(exception))
            if error is not exception:
                raise error from exception
            raise
        finally:
            self._teardown(fn, status)

    def _run_spawned(self, fn: TrainerFn, model: Module, datamodule: Any, ckpt_path: str | None, data: dict) -> Any:
        """ddp_spawn: the run happens in fresh processes; rank 0's weights, metrics and callback state come back."""
        spawn: Any = self.strategy.spawn  # type: ignore[attr-defined]
        # The ranks start with this process's torch random state, as Lightning's spawn launcher gives them (as
        # bytes: a tensor would travel through shared memory).
        rng = torch.get_rng_state().numpy().tobytes()
        try:
            outcome = spawn(_run_in_spawned_rank, self, fn, model, datamodule, ckpt_path, data, rng)
        except BaseException as exception:  # the ranks ran their callbacks' on_exception; this process's too
            self.state.status = TrainerStatus.FAILED
            self.hooks.call_on_exception(exception, datamodule, self.callbacks)
            raise
        model.load_state_dict(outcome["state_dict"])
        self.progress.global_step, self.progress.current_epoch = outcome["global_step"], outcome["current_epoch"]
        self.metrics_store.replace_results(outcome["callback_metrics"], outcome["logged_metrics"])
        for callback in self.callbacks:
            if callback.state_key in outcome["callbacks"]:
                callback.load_state_dict(outcome["callbacks"][callback.state_key])
        self.state.status = TrainerStatus.FINISHED
        return outcome["result"]

    def _attach(self, model: Module | None, datamodule: Any, fn: TrainerFn, val: Any = None) -> Module:
        stage = fn.value
        if model is None:
            if self.module is None:
                raise TypeError(
                    f"`Trainer.{stage}()` requires a `LightningModule` when it hasn't been passed in a previous run: "
                    f"pass trainer.{stage}(model, ...)."
                )
            model = self.module
        model = unwrap_compiled(model, Module)  # trainer.fit(torch.compile(model)) trains model, compiled
        if not isinstance(model, Module):
            raise TypeError(
                f"`model` must be a `LightningModule` (flashtrain.core.Module) or a torch.compile'd one, got "
                f"`{type(model).__qualname__}` in trainer.{stage}(). Subclass Module "
                "(like LightningModule) and define training_step and configure_optimizers."
            )
        model.trainer = self
        self.module = model
        self.hooks.module = model
        self.data_connector.module = model
        if datamodule is not None:
            self.data_connector.datamodule = datamodule
            datamodule.trainer = self
        elif fn == TrainerFn.FITTING:
            self.data_connector.datamodule = None
        has_val_data = fn == TrainerFn.FITTING and self.data_connector.has_source("val_dataloader", val)
        verify_loop_configuration(fn.value, model, limits=self.limits, has_val_data=has_val_data)
        return model

    def _prepare_and_setup(self, fn: TrainerFn, module: Module) -> None:
        datamodule = self.datamodule
        # The module's callbacks first (Lightning's order: before prepare_data), so setup reaches them too.
        extra = self.hooks.call_module("configure_callbacks")
        if extra:
            extra = [extra] if isinstance(extra, Callback) else list(extra)
            replaced = {type(cb) for cb in extra}
            self.callbacks = [cb for cb in self.callbacks if type(cb) not in replaced] + extra
        self.callbacks = connector.run_order(self.callbacks)
        if self.is_global_zero:
            if datamodule is not None:
                self.hooks.call_datamodule(datamodule, "prepare_data")
            module.prepare_data()
        self.strategy.barrier()
        if datamodule is not None:
            self.hooks.call_datamodule(datamodule, "setup", stage=fn)
        self.hooks.bind(module, self.callbacks, datamodule)
        self.hooks.call("setup", stage=fn)
        with self.strategy.model_init_context():
            self.hooks.call_module("configure_model")

    def _teardown(self, fn: TrainerFn, status: TrainerStatus) -> None:
        try:
            if self.module is not None:
                self.hooks.call("teardown", stage=fn)
            if self.datamodule is not None:
                self.hooks.call_datamodule(self.datamodule, "teardown", stage=fn)
        finally:
            if self.is_global_zero:  # after every entry point, as Lightning (buffering loggers flush)
                for logger in self.loggers:
                    logger.finalize(_LOGGER_STATUS.get(status, "failed"))
            if self.hooks.profiling:
                self.profiler.describe()  # the report: printed, or written to dirpath/filename
                self.profiler.teardown(fn.value)
            self.strategy.teardown()
            self.data_connector.shutdown_workers()  # persistent DataLoader workers end with the call (Lightning)
            self.state.status, self.state.stage = status, None
            self.metrics_store.results = self.metrics_store.train_results

    def _agree_on_logger_version(self) -> None:
        """Rank 0 picks the log folder version; the others use it too (checkpoint folders follow it).

        Only rank 0 reads ``version``: for MLflow and W&B that creates the run, which must exist once."""
        if self.strategy.world_size > 1:
            for logger in self.loggers:
                if hasattr(logger, "use_version"):
                    version = logger.version if self.is_global_zero else None
                    logger.use_version(self.strategy.broadcast(version))

    # ==================================================================================================
    # fit
    # ==================================================================================================
    def _fit(self, module: Module, train: Any, val: Any, checkpoint: dict[str, Any] | None) -> None:
        data, hooks = self.data_connector, self.hooks
        self.limits.resolve_max_epochs(self.callbacks)
        data.choose_base_seed()
        # Loaders are requested when first needed, in Lightning's order: validation's in the sanity check,
        # training's after it (earlier only if configure_optimizers reads estimated_stepping_batches).
        data.start_fit(train, val, validates=hooks.module_overrides("validation_step"))
        if checkpoint is not None:  # before configure_optimizers, as Lightning
            self.checkpoint_connector.restore_weights_and_callbacks(checkpoint)
        self.optimization.configure(module, hooks, self.limits.accumulate_grad_batches, self.limits.gradient_clip_val)
        self._log_hyperparams(module)
        hooks.call("on_fit_start")
        if checkpoint is not None:  # after on_fit_start, where finetuning callbacks rebuild parameter groups
            self.checkpoint_connector.restore_training_state(checkpoint)
        module.zero_grad()
        if not module.training:
            module.train()  # e.g. loaded with load_from_checkpoint; submodules' own eval modes are respected
        at_start = self.current_epoch == 0 and self.progress.batches_done == 0
        if self.limits.num_sanity_val_steps and data.validating and at_start:
            self.evaluation.sanity_check(module)
        data.load_fit_train()
        check_logging_interval(self.num_training_batches, self.limits, bool(self.loggers))
        if self.progress.validates_this_epoch():  # else first requested when validation is due (as Lightning)
            data.load_fit_validation()
        validation_enabled = data.validation_enabled()
        self.state.stage = RunningStage.TRAINING
        loop = FitLoop(
            module=module,
            strategy=self.strategy,
            limits=self.limits,
            progress=self.progress,
            hooks=hooks,
            metrics_store=self.metrics_store,
            optimization=self.optimization,
            evaluation=self.evaluation,
            checkpoint_connector=self.checkpoint_connector,
            signals=self.signals,
            data_connector=data,
        )
        loop.run(validation_enabled)
        hooks.call("on_fit_end")

    def _log_hyperparams(self, module: Module) -> None:
        if self.loggers and self.is_global_zero:
            log_run_start(self.loggers, module, self.datamodule)

    def _spawn_result(self, module: Module, result: Any) -> dict[str, Any]:
        """What a ddp_spawn rank 0 sends back to the process that started it."""
        from flashtrain.core.utilities.apply import apply_to_tensors

        return apply_to_tensors(
            {
                "state_dict": module.state_dict(),
                "global_step": self.global_step,
                "current_epoch": self.current_epoch,
                "callback_metrics": self.metrics_store.callback_metrics,
                "logged_metrics": self.metrics_store.logged_metrics,
                # an empty (or None) state is not sent, as a checkpoint leaves it out
                "callbacks": {cb.state_key: state for cb in self.callbacks if (state := cb.state_dict())},
                "result": result,
            },
            lambda tensor: tensor.detach().cpu(),
        )


for _flag in dataclasses.fields(LoopLimits):
    setattr(Trainer, _flag.name, _Limit(_flag.name))


def _run_in_spawned_rank(environment: Any, trainer: Trainer, fn: TrainerFn, *arguments: Any) -> tuple[dict, Strategy]:
    """One ddp_spawn rank: join the environment, run the stage, and return what rank 0 sends back."""
    model, datamodule, ckpt_path, data, rng = arguments
    torch.set_rng_state(torch.frombuffer(bytearray(rng), dtype=torch.uint8))
    trainer.strategy.environment = environment  # type: ignore[attr-defined]
    result = trainer._run(fn, model, datamodule, ckpt_path, **data)
    return trainer._spawn_result(model, result), trainer.strategy  # model: unwrapped by the parent's _attach


def _one_or_list(loaders: list[Any]) -> Any:
    """Lightning's form of a stage's loaders: None, the loader, or the list when there are several."""
    if not loaders:
        return None
    return loaders[0] if len(loaders) == 1 else loaders


def _loaders_or_datamodule(loaders: Any, datamodule: Any) -> tuple[Any, Any]:
    """Lightning lets a DataModule be passed where the dataloaders go; move it to ``datamodule``."""
    return (None, loaders) if isinstance(loaders, DataModule) else (loaders, datamodule)
