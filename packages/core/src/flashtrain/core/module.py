"""``Module``: a ``torch.nn.Module`` with the Lightning 2.x training interface."""

from __future__ import annotations

import contextlib
import os
import warnings
from collections.abc import Iterator, Mapping
from typing import IO, TYPE_CHECKING, Any, TypeVar

import torch

from flashtrain.core.exceptions import MisconfigurationException
from flashtrain.core.hparams import AttributeDict, HyperparametersMixin

if TYPE_CHECKING:
    from flashtrain.core.trainer.trainer import Trainer


_ModuleT = TypeVar("_ModuleT", bound="Module")  # load_from_checkpoint returns the class it is called on
_CLIP_ALGORITHMS = frozenset(("norm", "value"))  # GradClipAlgorithmType's values (enums.py is imported on use)


class Module(HyperparametersMixin, torch.nn.Module):
    """Subclass this, as you would ``LightningModule``: define ``training_step`` and ``configure_optimizers``.

    Hooks are plain methods with no-op defaults. The trainer calls them in the order documented in
    ``flashtrain.core.trainer.loop``.
    """

    # Properties TorchScript must not compile (they reach the trainer, which is not scriptable).
    __jit_unused_properties__: list[str] = [
        "trainer",
        "device",
        "current_epoch",
        "global_step",
        "global_rank",
        "local_rank",
        "logger",
        "loggers",
        "hparams",
        "hparams_initial",
        "hparams_name",
        "logs_hyperparameters",
        "on_gpu",
        "dtype",
        "example_input_array",
        "strict_loading",
    ]

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self._trainer: Trainer | None = None
        self._hparams: AttributeDict = AttributeDict()
        self._log_hyperparams = False
        self.automatic_optimization: bool = True
        self._strict_loading: bool | None = None  # None: not set by the user (loads strictly)

    # -- properties -------------------------------------------------------------------------------------
    @property
    def trainer(self) -> Trainer:
        """The trainer running this module (an error outside ``fit``/``validate``/``test``/``predict``)."""
        if self._trainer is None:
            if self.__dict__.get("_jit_is_scripting"):  # torch.jit reads every attribute while exporting
                return None  # type: ignore[return-value]
            raise RuntimeError(
                f"{type(self).__name__} is not attached to a Trainer; call trainer.fit(model, ...) first."
            )
        return self._trainer

    @trainer.setter
    def trainer(self, trainer: Trainer | None) -> None:
        self._trainer = trainer

    @property
    def device(self) -> torch.device:
        """The device of the module's first parameter or buffer (CPU if it has none)."""
        for parameter in self.parameters():
            return parameter.device
        for buffer in self.buffers():
            return buffer.device
        return torch.device("cpu")

    @property
    def current_epoch(self) -> int:
        return self._trainer.current_epoch if self._trainer is not None else 0

    @property
    def global_step(self) -> int:
        return self._trainer.global_step if self._trainer is not None else 0

    @property
    def global_rank(self) -> int:
        """This process's rank among all processes (0 outside distributed runs)."""
        return self._trainer.global_rank if self._trainer is not None else 0

    @property
    def local_rank(self) -> int:
        """This process's rank on its machine."""
        return self._trainer.local_rank if self._trainer is not None else 0

    @property
    def logger(self) -> Any:
        """The trainer's first logger, or None."""
        return self._trainer.logger if self._trainer is not None else None

    # -- logging ----------------------------------------------------------------------------------------
    def log(
        self,
        name: str,
        value: Any,
        prog_bar: bool = False,
        logger: bool | None = None,
        on_step: bool | None = None,
        on_epoch: bool | None = None,
        reduce_fx: Any = "mean",
        enable_graph: bool = False,
        sync_dist: bool = False,
        sync_dist_group: Any = None,
        add_dataloader_idx: bool = True,
        batch_size: int | None = None,
        metric_attribute: str | None = None,
        rank_zero_only: bool = False,
    ) -> None:
        """Record a scalar (tensor, number or torchmetrics ``Metric``) for loggers, callbacks and the progress bar.

        Defaults follow Lightning: in ``training_step`` ``on_step=True, on_epoch=False``; in validation and
        test steps and every epoch-level hook ``on_step=False, on_epoch=True``. Epoch values of plain
        tensors are batch-size-weighted means (or ``reduce_fx``); ``Metric`` objects are computed and reset
        at each epoch end.
        """
        trainer = self._trainer
        if trainer is None:  # not an error: a *_step method may be tested without a Trainer (Lightning's words)
            warnings.warn(
                f"You are trying to `self.log({name!r})` but the `self.trainer` reference is not registered on the "
                "model yet. This is most likely because the model hasn't been passed to the `Trainer`; the value is "
                "ignored.",
                stacklevel=2,
            )
            return
        if getattr(trainer, "barebones", False) is True:  # Lightning's words
            from flashtrain.core.utilities.rank_zero import rank_zero_warn

            rank_zero_warn(
                "You are trying to `self.log()` but `Trainer(barebones=True)` is configured."
                " Logging can impact raw speed so it is disabled under this setting."
            )
            return
        if metric_attribute is None and not isinstance(value, (torch.Tensor, int, float)):
            self._check_metric_is_attribute(name, value)
        if logger is None:  # the default: logged values are kept for the loggers whether or not there are any
            logger = True
        elif logger and not trainer.loggers:
            from flashtrain.core.utilities.rank_zero import rank_zero_warn

            rank_zero_warn(  # Lightning's words
                f"You called `self.log({name!r}, ..., logger=True)` but have no logger configured. You can enable one"
                " by doing `Trainer(logger=ALogger(...))`"
            )
        # Positional on purpose: this runs every step and keyword passing is measurably slower.
        trainer.metrics_store.results.log(
            trainer.hooks.current_hook,
            name,
            value,
            prog_bar,
            logger,
            on_step,
            on_epoch,
            reduce_fx,
            sync_dist,
            batch_size,
            trainer.strategy.reduce,
            add_dataloader_idx,
        )

    def _check_metric_is_attribute(self, name: str, value: Any) -> None:
        """A logged torchmetrics ``Metric`` must be one of the module's attributes: then it moves with the module,
        is reset each epoch and its state is the module's. Lightning's messages (its tests match on them)."""
        from flashtrain.core.logging_results import is_torchmetric

        if not is_torchmetric(value) or any(sub is value for sub in self.modules()):
            return
        import torchmetrics

        names = [key for key, sub in self.named_modules() if isinstance(sub, torchmetrics.Metric)]
        if names:
            raise MisconfigurationException(
                "Could not find the `LightningModule` attribute for the `torchmetrics.Metric` logged. You can fix "
                f"this by calling `self.log({name}, ..., metric_attribute=name)` where `name` is one of {names}"
            )
        raise MisconfigurationException(
            "Could not find the `LightningModule` attribute for the `torchmetrics.Metric` logged. You can fix this "
            "by setting an attribute for the metric in your `LightningModule`."
        )

    def log_dict(self, dictionary: Mapping[str, Any], **kwargs: Any) -> None:
        """``self.log`` for each item of a mapping (a torchmetrics ``MetricCollection`` works too)."""
        from flashtrain.core.logging_results import is_metric_collection

        items: Any
        if is_metric_collection(dictionary):
            collection: Any = dictionary
            # Its metrics under their prefixed names; with compute groups the shared states are read, not copied.
            items = collection.items(keep_base=False, copy_state=not collection.compute_groups)
        else:
            items = dictionary.items()
        for name, value in items:
            self.log(name, value, **kwargs)

    def print(self, *args: Any, **kwargs: Any) -> None:
        """``print`` on the global-zero process only; while a progress bar is shown, through the bar (so the text
        does not break it)."""
        if self._trainer is None:
            print(*args, **kwargs)
        elif self._trainer.is_global_zero:
            bar = self._trainer.progress_bar_callback
            if bar is not None and bar.is_enabled:
                bar.print(*args, **kwargs)
            else:
                print(*args, **kwargs)

    # -- steps (override) -------------------------------------------------------------------------------
    def training_step(self, *args: Any, **kwargs: Any) -> Any:
        """One training batch: return the loss tensor, a dict with a ``"loss"`` key, or None to skip."""
        raise NotImplementedError(f"{type(self).__name__} must define training_step(self, batch, batch_idx) to be fit.")

    def validation_step(self, *args: Any, **kwargs: Any) -> Any:
        """One validation batch: log metrics with ``self.log``."""
        raise NotImplementedError(f"{type(self).__name__} must define validation_step(self, batch, batch_idx).")

    def test_step(self, *args: Any, **kwargs: Any) -> Any:
        """One test batch: log metrics with ``self.log``."""
        raise NotImplementedError(f"{type(self).__name__} must define test_step(self, batch, batch_idx) to be tested.")

    def predict_step(self, batch: Any, batch_idx: int, dataloader_idx: int = 0) -> Any:
        """One prediction batch; by default ``self(batch)``."""
        return self(batch)

    def configure_optimizers(self) -> Any:
        """Return an optimizer, a list of optimizers, ``(optimizers, schedulers)``, or a dict with
        ``optimizer`` and ``lr_scheduler`` (a scheduler or a dict with scheduler, interval, frequency, monitor).
        """
        raise NotImplementedError(
            f"{type(self).__name__} must define configure_optimizers(self), e.g. "
            "`return torch.optim.Adam(self.parameters(), lr=1e-3)`."
        )

    def configure_model(self) -> None:
        """Build layers here instead of in ``__init__`` to have them created inside the strategy's context (a
        sharded strategy creates them on the meta device and materialises each rank's shard). Called at the start
        of every fit/validate/test/predict: make it do nothing when the layers already exist."""

    def configure_callbacks(self) -> Any:
        """Callbacks this module brings; they replace trainer callbacks of the same type."""
        return []

    # -- data (optional: a module may serve its own loaders, as in Lightning) ---------------------------
    def train_dataloader(self) -> Any:
        """The training DataLoader, when no datamodule or ``train_dataloaders`` provides one."""
        raise NotImplementedError(f"{type(self).__name__} defines no train_dataloader(); pass data to fit.")

    def val_dataloader(self) -> Any:
        """The validation DataLoader(s), when no datamodule or ``val_dataloaders`` provides them."""
        raise NotImplementedError(f"{type(self).__name__} defines no val_dataloader().")

    def test_dataloader(self) -> Any:
        """The test DataLoader(s), when no datamodule or ``dataloaders`` provides them."""
        raise NotImplementedError(f"{type(self).__name__} defines no test_dataloader(); pass data to test.")

    def predict_dataloader(self) -> Any:
        """The prediction DataLoader(s), when no datamodule or ``dataloaders`` provides them."""
        raise NotImplementedError(f"{type(self).__name__} defines no predict_dataloader(); pass data to predict.")

    # -- batch transfer (Lightning's three hooks; dataloader_idx is 0 for a single loader) ----------------
    def on_before_batch_transfer(self, batch: Any, dataloader_idx: int) -> Any:
        """Change a batch before it moves to the device (e.g. CPU-side augmentation); return the batch."""
        return batch

    def transfer_batch_to_device(self, batch: Any, device: torch.device, dataloader_idx: int) -> Any:
        """Move a batch to ``device``; override for batch types that tensors-in-containers do not cover."""
        from flashtrain.core.utilities.apply import move_to_device

        trainer = self._trainer
        if trainer is not None and device == trainer.strategy.root_device:
            return trainer.strategy.move_batch(batch)  # the strategy's own path (XLA sync, no walk on CPU)
        return move_to_device(batch, device)

    def on_after_batch_transfer(self, batch: Any, dataloader_idx: int) -> Any:
        """Change a batch once it is on the device (e.g. GPU augmentation); return the batch."""
        return batch

    # -- optimization ------------------------------------------------------------------------------------
    def optimizers(self, use_pl_optimizer: bool = True) -> Any:
        """The optimizer (or list of optimizers) from ``configure_optimizers``, as the trainer wraps them."""
        optimizers = self.trainer.optimization.for_module(use_pl_optimizer)
        return optimizers[0] if len(optimizers) == 1 else optimizers

    def lr_schedulers(self) -> Any:
        """The LR scheduler (or list of them), or None."""
        schedulers = [config.scheduler for config in self.trainer.lr_scheduler_configs]
        if not schedulers:
            return None
        return schedulers[0] if len(schedulers) == 1 else schedulers

    def manual_backward(self, loss: torch.Tensor, *args: Any, **kwargs: Any) -> None:
        """Backward in manual optimization: ``on_before_backward``, :meth:`backward` (through the strategy, with
        grad scaling), ``on_after_backward``, as in automatic optimization and in Lightning."""
        hooks = self.trainer.hooks
        running = hooks.current_hook  # self.log after this call keeps training_step's defaults
        try:
            hooks.call("on_before_backward", loss)
            hooks.call_module("backward", loss, *args, **kwargs)
            hooks.call("on_after_backward")
        finally:
            hooks.current_hook = running

    def backward(self, loss: torch.Tensor, *args: Any, **kwargs: Any) -> None:
        """Backward of ``loss``; override to customise (both optimization modes call it)."""
        self.trainer.strategy.backward(loss, None, *args, **kwargs)

    def optimizer_step(self, epoch: int, batch_idx: int, optimizer: Any, optimizer_closure: Any = None) -> None:
        """Step the optimizer; override for e.g. LR warm-up, and call ``optimizer.step(closure=optimizer_closure)``."""
        optimizer.step(closure=optimizer_closure)

    def lr_scheduler_step(self, scheduler: Any, metric: Any) -> None:
        """Step an LR scheduler when due; ``metric`` is the monitored value for ReduceLROnPlateau, else None.
        Override for schedulers with another ``step`` signature (e.g. timm's ``scheduler.step(epoch=...)``)."""
        if metric is None:
            scheduler.step()
        else:
            scheduler.step(metric)

    def optimizer_zero_grad(self, epoch: int, batch_idx: int, optimizer: Any) -> None:
        """Zero the gradients before a new accumulation window."""
        optimizer.zero_grad()

    def configure_gradient_clipping(
        self, optimizer: Any, gradient_clip_val: float | None = None, gradient_clip_algorithm: str | None = None
    ) -> None:
        """Clip gradients before the optimizer step; by default with the trainer's settings."""
        self.clip_gradients(
            optimizer, gradient_clip_val=gradient_clip_val, gradient_clip_algorithm=gradient_clip_algorithm
        )

    def clip_gradients(
        self, optimizer: Any, gradient_clip_val: float | None = None, gradient_clip_algorithm: str | None = None
    ) -> None:
        """Clip the gradients of an optimizer's parameters by norm (default) or by value.

        As Lightning: a value or algorithm left out is the Trainer's (``gradient_clip_val`` /
        ``gradient_clip_algorithm``); one given that differs from a value set on the Trainer is refused, since it
        is unclear which should win."""
        # Runs every optimizer step (the default configure_gradient_clipping): the common case, the trainer's own
        # settings passed back, costs two attribute reads and no function calls.
        trainer = self._trainer
        trainer_value = trainer_algorithm = None
        if trainer is not None:
            limits = trainer.limits  # the Trainer's gradient_clip_* attributes, read without their descriptors
            trainer_value, trainer_algorithm = limits.gradient_clip_val, limits.gradient_clip_algorithm
        if gradient_clip_val is None:
            gradient_clip_val = trainer_value or 0.0
        elif trainer_value is not None and trainer_value != gradient_clip_val:
            raise MisconfigurationException(
                f"You have set `Trainer(gradient_clip_val={trainer_value!r})` and have passed "
                f"`clip_gradients(gradient_clip_val={gradient_clip_val!r})`. Please use only one of them."
            )
        if gradient_clip_algorithm is None:
            gradient_clip_algorithm = trainer_algorithm or "norm"
        else:
            if gradient_clip_algorithm not in _CLIP_ALGORITHMS:  # already lower case: nothing to convert
                # A GradClipAlgorithmType member is a str whose lower() is its value (its str() is its name).
                given = gradient_clip_algorithm
                gradient_clip_algorithm = (given if isinstance(given, str) else str(given)).lower()
            if trainer_algorithm is not None and trainer_algorithm != gradient_clip_algorithm:
                raise MisconfigurationException(
                    f"You have set `Trainer(gradient_clip_algorithm={str(trainer_algorithm)!r})` and have passed "
                    f"`clip_gradients(gradient_clip_algorithm={gradient_clip_algorithm!r})`. Please use only one of "
                    "them."
                )
        if gradient_clip_algorithm not in _CLIP_ALGORITHMS:
            from flashtrain.core.utilities.enums import GradClipAlgorithmType  # on use: the import stays flat

            raise MisconfigurationException(
                f"gradient_clip_algorithm must be one of {GradClipAlgorithmType.supported_types()}, got "
                f"{gradient_clip_algorithm!r}."
            )
        if not gradient_clip_val:
            return
        parameters = [p for group in optimizer.param_groups for p in group["params"]]
        if gradient_clip_algorithm == "norm":
            torch.nn.utils.clip_grad_norm_(parameters, gradient_clip_val)
        else:
            torch.nn.utils.clip_grad_value_(parameters, gradient_clip_val)

    def toggle_optimizer(self, optimizer: Any) -> None:
        """Turn off gradients of the parameters the run's *other* optimizers hold and ``optimizer`` does not (GAN
        training), as Lightning: ``optimizer``'s parameters keep the ``requires_grad`` they had, parameters no
        optimizer holds are left alone. Undo with :meth:`untoggle_optimizer` (or use :meth:`toggled_optimizer`)."""
        saved: dict[torch.nn.Parameter, bool] = {}
        for other in self._all_optimizers(optimizer):
            for group in other.param_groups:
                for parameter in group["params"]:
                    if parameter not in saved:
                        saved[parameter] = parameter.requires_grad
                        parameter.requires_grad = False
        for group in optimizer.param_groups:
            for parameter in group["params"]:
                parameter.requires_grad = saved.get(parameter, parameter.requires_grad)
        self._toggled_requires_grad = saved

    def untoggle_optimizer(self, optimizer: Any) -> None:
        """Restore the ``requires_grad`` that :meth:`toggle_optimizer` turned off."""
        for parameter, requires_grad in getattr(self, "_toggled_requires_grad", {}).items():
            parameter.requires_grad = requires_grad
        self._toggled_requires_grad = {}

    @contextlib.contextmanager
    def toggled_optimizer(self, optimizer: Any) -> Iterator[None]:
        """:meth:`toggle_optimizer` for the block, then :meth:`untoggle_optimizer` (also when the block raises)."""
        self.toggle_optimizer(optimizer)
        try:
            yield
        finally:
            self.untoggle_optimizer(optimizer)

    def _all_optimizers(self, optimizer: Any) -> list[Any]:
        """The run's optimizers (the trainer's); without a trainer, ``optimizer`` and, for the parameters it does not
        hold, the rest of this module's parameters as if one other optimizer held them."""
        if self._trainer is not None and self._trainer.optimizers:
            return list(self._trainer.optimizers)
        own = {id(p) for group in optimizer.param_groups for p in group["params"]}
        return [optimizer, _ParameterHolder([p for p in self.parameters() if id(p) not in own])]

    def freeze(self) -> Module:
        """Turn off gradients for every parameter and switch to eval mode; returns the module (chainable)."""
        for parameter in self.parameters():
            parameter.requires_grad = False
        return self.eval()

    def unfreeze(self) -> Module:
        """Turn gradients back on for every parameter and switch to train mode; returns the module."""
        for parameter in self.parameters():
            parameter.requires_grad = True
        return self.train()

    # -- Lightning conveniences (each self-contained) ----------------------------------------------------
    @property
    def loggers(self) -> list[Any]:
        """All of the trainer's loggers (an empty list outside a run)."""
        return list(self._trainer.loggers) if self._trainer is not None else []

    @property
    def on_gpu(self) -> bool:
        """Whether the module's parameters are on a CUDA device."""
        return self.device.type == "cuda"

    @property
    def dtype(self) -> torch.dtype:
        """The dtype of the module's first floating-point parameter or buffer (torch's default if none)."""
        for tensor in (*self.parameters(), *self.buffers()):
            if tensor.is_floating_point():
                return tensor.dtype
        return torch.get_default_dtype()

    @property
    def example_input_array(self) -> Any:
        """An input for export and summaries (``to_onnx``, ``to_torchscript(method="trace")``); None if unset."""
        return self.__dict__.get("_example_input_array")

    @example_input_array.setter
    def example_input_array(self, example: Any) -> None:
        self.__dict__["_example_input_array"] = example

    def all_gather(self, data: Any, group: Any = None, sync_grads: bool = False) -> Any:
        """Gather every tensor in ``data`` from all processes: each gets a leading world-size dimension.

        On one process ``data`` comes back unchanged. ``sync_grads=True`` keeps the gather differentiable.
        """
        import torch.distributed as dist

        from flashtrain.core.utilities.apply import apply_to_tensors

        if not (dist.is_available() and dist.is_initialized()) or dist.get_world_size(group) == 1:
            return data

        def gather(tensor: torch.Tensor) -> torch.Tensor:
            tensor = tensor.contiguous()
            if sync_grads:
                from torch.distributed.nn.functional import all_gather as differentiable_all_gather

                return torch.stack(differentiable_all_gather(tensor, group=group or dist.group.WORLD))
            parts = [torch.empty_like(tensor) for _ in range(dist.get_world_size(group))]
            dist.all_gather(parts, tensor, group=group)
            return torch.stack(parts)

        return apply_to_tensors(data, gather)

    def to_torchscript(
        self, file_path: Any = None, method: str = "script", example_inputs: Any = None, **kwargs: Any
    ) -> Any:
        """TorchScript of the module (``torch.jit.script``, or ``trace`` with ``example_inputs`` or
        ``example_input_array``), saved to ``file_path`` when given."""
        from flashtrain.core.export import to_torchscript

        return to_torchscript(self, file_path, method, example_inputs, **kwargs)

    def __prepare_scriptable__(self) -> torch.nn.Module:
        """``torch.jit.script`` compiles a copy whose ``trainer`` answers None (see ``export.scriptable_copy``)."""
        from flashtrain.core.export import scriptable_copy

        return scriptable_copy(self)

    def to_onnx(self, file_path: Any = None, input_sample: Any = None, **kwargs: Any) -> Any:
        """Export to ONNX with ``input_sample`` (or ``example_input_array``); ``kwargs`` go to ``torch.onnx.export``."""
        from flashtrain.core.export import to_onnx

        return to_onnx(self, file_path, input_sample, **kwargs)

    def to_tensorrt(self, file_path: Any = None, input_sample: Any = None, **kwargs: Any) -> Any:
        """Compile with TensorRT on a CUDA device (``torch_tensorrt``); see :func:`flashtrain.core.export.to_tensorrt`
        for ``ir``, ``output_format``, ``retrace`` and ``default_device``."""
        from flashtrain.core.export import to_tensorrt

        return to_tensorrt(self, file_path, input_sample, **kwargs)

    # -- checkpoints ------------------------------------------------------------------------------------
    @property
    def strict_loading(self) -> bool:
        """Whether checkpoints load into this module with ``load_state_dict(strict=True)`` (default True); set it to
        False for a module whose checkpoints leave out some weights on purpose (Lightning's attribute)."""
        return getattr(self, "_strict_loading", None) in (None, True)

    @strict_loading.setter
    def strict_loading(self, strict_loading: bool) -> None:
        self._strict_loading = strict_loading

    def loading_strictness(self, strict: bool | None) -> bool:
        """The ``strict`` to load a checkpoint with: the one asked for, else :attr:`strict_loading`. Asking for the
        opposite of a ``strict_loading`` the module set is refused (it is unclear which is meant)."""
        own = getattr(self, "_strict_loading", None)
        if own is not None and strict is not None and strict != self.strict_loading:
            raise ValueError(
                f"You set `.load_from_checkpoint(..., strict={strict!r})` which is in conflict with "
                f"`{type(self).__name__}.strict_loading={self.strict_loading!r}. Please set the same value for both "
                "of them."
            )
        return self.strict_loading if strict is None else strict

    @classmethod
    def load_from_checkpoint(
        cls: type[_ModuleT],
        checkpoint_path: str | os.PathLike | IO[bytes],
        map_location: Any = None,
        hparams_file: str | None = None,
        strict: bool | None = None,
        weights_only: bool | None = None,
        **overrides: Any,
    ) -> _ModuleT:
        """Rebuild the module from a checkpoint's saved hyper-parameters and load its weights. A YAML
        ``hparams_file`` (the ``hparams.yaml`` a logger wrote) replaces saved values, keyword ``overrides`` win.

        ``checkpoint_path``: a path, a URL, or an open binary file object, as in Lightning. A checkpoint dict
        already in memory goes to :func:`flashtrain.core.checkpoint.module_from_checkpoint` (no second read).
        Loading never runs pickled code: the file is read with ``torch.load(weights_only=True)``, so
        ``weights_only`` (Lightning's argument: None, True or False) cannot make it unpickle anything.
        """
        from flashtrain.core.checkpoint.io import check_weights_only, load_checkpoint
        from flashtrain.core.checkpoint.rebuild import module_from_checkpoint
        from flashtrain.core.hparams import read_hparams_file

        check_weights_only(weights_only)
        checkpoint = load_checkpoint(checkpoint_path, map_location=map_location or "cpu")
        if hparams_file is not None:
            saved = checkpoint.get("hyper_parameters", {})
            checkpoint["hyper_parameters"] = {**saved, **read_hparams_file(hparams_file)}
        if isinstance(checkpoint_path, (str, os.PathLike)):
            source = os.fspath(checkpoint_path)
        else:  # a file object: its name, if it has one, in messages
            source = str(getattr(checkpoint_path, "name", None) or "the checkpoint stream")
        return module_from_checkpoint(cls, checkpoint, source, map_location, strict, **overrides)

    @classmethod
    def hyperparameters_from_checkpoint(
        cls, checkpoint: dict[str, Any], checkpoint_path: str, overrides: dict[str, Any]
    ) -> dict[str, Any]:
        """The keyword arguments that rebuild this class in :meth:`load_from_checkpoint`: the saved
        hyper-parameters, ``overrides`` winning. A subclass overrides this (rather than ``load_from_checkpoint``) to
        fill in what an older checkpoint lacks or to refuse what a checkpoint cannot rebuild; the file is read once."""
        from flashtrain.core.hparams import rebuild_arguments, saved_hyperparameters

        saved = saved_hyperparameters(checkpoint)
        return rebuild_arguments(cls, saved, checkpoint.get("hparams_name"), overrides, checkpoint)

    # -- hooks (no-ops to override) --------------------------------------------------------------------
    def prepare_data(self) -> None: ...
    def setup(self, stage: str) -> None: ...
    def teardown(self, stage: str) -> None: ...
    def on_fit_start(self) -> None: ...
    def on_fit_end(self) -> None: ...
    def on_train_start(self) -> None: ...
    def on_train_end(self) -> None: ...
    def on_train_epoch_start(self) -> None: ...
    def on_train_epoch_end(self) -> None: ...
    def on_train_batch_start(self, batch: Any, batch_idx: int) -> Any: ...
    def on_train_batch_end(self, outputs: Any, batch: Any, batch_idx: int) -> None: ...
    def on_validation_start(self) -> None: ...
    def on_validation_end(self) -> None: ...
    def on_validation_epoch_start(self) -> None: ...
    def on_validation_epoch_end(self) -> None: ...
    def on_validation_batch_start(self, batch: Any, batch_idx: int, dataloader_idx: int = 0) -> None: ...
    def on_validation_batch_end(self, outputs: Any, batch: Any, batch_idx: int, dataloader_idx: int = 0) -> None: ...
    def on_validation_model_eval(self) -> None:
        self.eval()

    def on_validation_model_train(self) -> None:
        self.train()

    def on_test_model_eval(self) -> None:
        self.eval()

    def on_test_model_train(self) -> None:
        self.train()

    def on_predict_model_eval(self) -> None:
        self.eval()

    def on_validation_model_zero_grad(self) -> None:
        """Called by the fit loop before a validation that follows an optimizer step: frees the gradients
        (they are not needed again) so validation has that memory, as Lightning does."""
        self.zero_grad()

    def on_test_start(self) -> None: ...
    def on_test_end(self) -> None: ...
    def on_test_epoch_start(self) -> None: ...
    def on_test_epoch_end(self) -> None: ...
    def on_test_batch_start(self, batch: Any, batch_idx: int, dataloader_idx: int = 0) -> None: ...
    def on_test_batch_end(self, outputs: Any, batch: Any, batch_idx: int, dataloader_idx: int = 0) -> None: ...
    def on_predict_start(self) -> None: ...
    def on_predict_end(self) -> None: ...
    def on_predict_epoch_start(self) -> None: ...
    def on_predict_epoch_end(self) -> None: ...
    def on_predict_batch_start(self, batch: Any, batch_idx: int, dataloader_idx: int = 0) -> None: ...
    def on_predict_batch_end(self, outputs: Any, batch: Any, batch_idx: int, dataloader_idx: int = 0) -> None: ...
    def on_before_backward(self, loss: torch.Tensor) -> None: ...
    def on_after_backward(self) -> None: ...
    def on_before_optimizer_step(self, optimizer: Any) -> None: ...
    def on_before_zero_grad(self, optimizer: Any) -> None: ...
    def on_save_checkpoint(self, checkpoint: dict[str, Any]) -> None: ...
    def on_load_checkpoint(self, checkpoint: dict[str, Any]) -> None: ...


class _ParameterHolder:
    """Parameters in an optimizer's ``param_groups`` shape (the module's own, when no trainer lists optimizers)."""

    def __init__(self, parameters: list[torch.nn.Parameter]) -> None:
        self.param_groups = [{"params": parameters}]
