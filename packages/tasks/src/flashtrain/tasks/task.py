"""Task modules: a core Module composed of backbone + head + loss + metrics + optimizer choice.

``Task`` holds what every task shares (optimizer and schedule, forward, the task name in checkpoints, the
registries behind ``available_*()``); ``ClassificationTask`` and ``RegressionTask`` add the loss, metrics and
prediction formats.
"""

from __future__ import annotations

import inspect
from collections.abc import Iterable, Sequence
from typing import TYPE_CHECKING, Any

import torch

from flashtrain.core import Module
from flashtrain.core.hparams import collect_init_arguments
from flashtrain.tasks import losses, optimization
from flashtrain.tasks import metrics as task_metrics
from flashtrain.tasks.calibration import Calibration
from flashtrain.tasks.confusion import CHECKPOINT_KEY as CONFUSION_KEY
from flashtrain.tasks.confusion import ValidationConfusion
from flashtrain.tasks.flash_registry import FlashRegistries
from flashtrain.tasks.outputs import OutputChoice, resolve_output

# "classes" (class indices) and "preds" (raw outputs) are Flash's names (see flashtrain.tasks.outputs).
OUTPUTS = ("labels", "probabilities", "logits", "top_k", "classes", "preds")


class Task(FlashRegistries, Module):
    """Optimizer and learning-rate schedule chosen by name or Flash's tuple forms (see
    :mod:`flashtrain.tasks.optimization`), ``forward = head(backbone(x))``, and the task's name written into every
    checkpoint (``flash-train predict`` reads it). Subclasses set ``self.backbone`` and ``self.head``.

    Base arguments are keyword-only (``super().__init__(optimizer=..., weight_averaging=...)``). Every task saves
    its hyper-parameters by one rule, :meth:`save_task_hyperparameters`, and meets its data through one named
    handshake: at ``setup`` a :class:`~flashtrain.tasks.data.TaskDataModule` is asked to ``adopt_model(model,
    stage)`` (the image data agrees on preprocessing, the text data tokenizes with the model's tokenizer).
    """

    if TYPE_CHECKING:  # for mypy only: torch.jit.script reads class annotations and cannot parse the string ones
        backbone: torch.nn.Module
        head: torch.nn.Module
    # TorchScript compiles every property not listed here; ``output`` is Python-side prediction formatting.
    __jit_unused_properties__ = [*Module.__jit_unused_properties__, "output", "validation_confusion_matrix"]
    task_name = "task"
    outputs: tuple[str, ...] = ()
    monitor: tuple[str, str] = ("val_loss", "min")
    # The epochs this task's recipe trains for (``flash-train`` and the benchmarks read it; Trainer does not).
    default_max_epochs = 10

    def __init__(
        self,
        *,
        optimizer: Any = "adam",
        lr_scheduler: Any = None,
        learning_rate: float = 1e-3,
        weight_averaging: Any = None,
        compile: bool = False,
    ) -> None:
        super().__init__()
        # Parsed now, so a wrong name or argument fails at construction rather than at the first step.
        self.optimizer_choice = optimization.OptimizerChoice.parse(optimizer)
        self.scheduler_choice = optimization.SchedulerChoice.parse(lr_scheduler)
        self.learning_rate = learning_rate
        self.weight_averaging = check_weight_averaging(weight_averaging)
        if not isinstance(compile, bool):
            raise TypeError(f"compile must be True or False, got {compile!r} of type {type(compile).__name__}.")
        self.compile_backbone = compile
        self._output: str | None = None

    def save_task_hyperparameters(self, ignore: Iterable[str] = (), **settled: Any) -> None:
        """The one rule for what a task's checkpoint keeps to rebuild it: every ``__init__`` argument of the
        calling constructor that is data (names, numbers, lists and dicts of them), not the objects (your own
        modules, functions, metric objects: pass them again to ``load_from_checkpoint``); ``settled`` replaces an
        argument by the value the task settled on (labels from ``num_classes``, a resolved path or config)."""
        frame = inspect.currentframe()
        arguments = collect_init_arguments(self, frame.f_back if frame is not None else None)
        skipped = set(ignore)
        kept = {name: value for name, value in arguments.items() if name not in skipped and not _holds_code(value)}
        self.save_hyperparameters({**kept, **settled})

    def on_fit_start(self) -> None:
        """``compile=True``: ``torch.compile`` the backbone, in place (``nn.Module.compile``), so checkpoints keep
        their parameter names. Compiling is lazy: the first training step pays for it (the CLI reports it apart)."""
        if self.compile_backbone:
            self.backbone.compile()

    def setup(self, stage: str) -> None:
        """The handshake with the data: a task data module adopts this model for ``stage``."""
        from flashtrain.tasks.data import TaskDataModule

        datamodule = self.trainer.datamodule if self._trainer is not None else None
        if isinstance(datamodule, TaskDataModule):
            datamodule.adopt_model(self, stage)

    # -- registries -------------------------------------------------------------------------------------------
    @classmethod
    def available_optimizers(cls) -> list[str]:
        return optimization.available_optimizers()

    @classmethod
    def available_lr_schedulers(cls) -> list[str]:
        return optimization.available_lr_schedulers()

    @classmethod
    def available_outputs(cls) -> list[str]:
        return list(cls.outputs)

    @property
    def output(self) -> Any:
        """How ``trainer.predict(model)``, ``model.serve()`` and the Predictor format predictions when no ``output``
        is passed: a name from ``outputs`` or one of Flash's Output objects (``ProbabilitiesOutput()``, ...; see
        :mod:`flashtrain.tasks.outputs`). None (the default) leaves ``trainer.predict`` returning raw batches."""
        return self._output

    @output.setter
    def output(self, value: Any) -> None:
        if value is not None:
            resolve_output(value, self.outputs, type(self).__name__)  # a wrong name fails here, not at predict
        self._output = value

    def output_choice(self, output: Any = None) -> OutputChoice:
        """``output`` if given, else ``model.output``, else this task's first output, resolved and checked."""
        chosen = output if output is not None else self._output
        return resolve_output(chosen if chosen is not None else self.outputs[0], self.outputs, type(self).__name__)

    def serve(self, host: str = "127.0.0.1", port: int = 8000, output: Any = None, **options: Any) -> None:
        """Serve this model over HTTP until interrupted (Flash's ``model.serve()``): our ``{"inputs": [...]}`` and
        Flash's ``{"payload": {"inputs": {"data": ...}}}`` requests; ``output`` (a name or a Flash Output object,
        e.g. ``LabelsOutput(["no", "yes"])`` to rename the labels) becomes ``model.output``."""
        from flashtrain.tasks.serve import serve_task

        serve_task(self, host, port, output, options)

    # -- steps -------------------------------------------------------------------------------------------------
    def forward(self, inputs: Any) -> torch.Tensor:
        return self.head(self.backbone(inputs))

    def _step(self, batch: Any, stage: str) -> torch.Tensor:
        raise NotImplementedError  # loss and metrics for one batch of ``stage`` ("train", "val", "test")

    def training_step(self, batch: Any, batch_idx: int) -> torch.Tensor:
        return self._step(batch, "train")

    def validation_step(self, batch: Any, batch_idx: int) -> None:
        self._step(batch, "val")

    def test_step(self, batch: Any, batch_idx: int) -> None:
        self._step(batch, "test")

    def configure_callbacks(self) -> Any:
        """The weight-averaging callback chosen with ``weight_averaging`` (none by default), and the check that
        warns when training diverges (:mod:`flashtrain.tasks.divergence`)."""
        from flashtrain.tasks.divergence import DivergenceCheck

        averaging = weight_averaging_callback(self.weight_averaging, self.learning_rate)
        return [callback for callback in (averaging, DivergenceCheck()) if callback is not None]

    constant_prediction = "a constant"  # what ``constant_prediction_loss`` predicts, in words

    def constant_prediction_loss(self, batch: Any) -> torch.Tensor | None:
        """This task's loss on ``batch`` for the trivial constant prediction (divergence checks compare to it)."""
        return None

    def auxiliary_loss(self) -> torch.Tensor | float:
        """A backbone's own loss term for the last forward pass (TabNet's sparsity loss), else 0."""
        term = getattr(self.backbone, "auxiliary_loss", None)
        return term if term is not None else 0.0

    # -- optimization ---------------------------------------------------------------------------------------
    def configure_optimizers(self) -> Any:
        params = [p for p in self.parameters() if p.requires_grad]  # a frozen backbone joins later, as its own group
        return self.build_optimizers(params)

    def build_optimizers(self, params: list) -> Any:
        """The chosen optimizer over ``params`` (tensors, or parameter-group dicts) and the chosen schedule."""
        optimizer = self.optimizer_choice(params, self.learning_rate)
        if self.scheduler_choice is None:
            return optimizer
        # Callable before a trainer exists (Flash's docs inspect model.configure_optimizers()); only schedules
        # that need the run's length then ask for one.
        trainer = self._trainer
        if trainer is None and self.scheduler_choice.follows_run_length:
            import warnings

            warnings.warn(
                f"lr_scheduler {self.scheduler_choice.name!r} is sized by the run's length, known once a Trainer "
                "runs: configure_optimizers() outside trainer.fit returns the optimizer alone (fit builds both).",
                UserWarning,
                stacklevel=2,
            )
            return optimizer
        steps = trainer.estimated_stepping_batches if trainer is not None else None
        epochs = (trainer.max_epochs or 1) if trainer is not None else None
        budget = trainer.time_budget if trainer is not None else None
        scheduler = self.scheduler_choice.build(optimizer, steps, epochs, self.monitor, budget)
        return [optimizer], [scheduler]  # Lightning's and Flash's ([optimizers], [scheduler configs]) form

    def on_save_checkpoint(self, checkpoint: dict[str, Any]) -> None:
        checkpoint["task"] = self.task_name

    def on_load_checkpoint(self, checkpoint: dict[str, Any]) -> None:
        check_checkpoint_task(checkpoint, self.task_name)  # resuming (ckpt_path=...) a checkpoint of another task

    def save_pretrained(self, folder: str, card: dict[str, Any] | None = None) -> str:
        """A Hub-ready folder: safetensors weights, config.json, model card (see :mod:`flashtrain.tasks.pretrained`)."""
        from flashtrain.tasks.pretrained import save_pretrained

        return save_pretrained(self, folder, card)

    @classmethod
    def from_pretrained(cls, name_or_folder: str, **overrides: Any) -> Any:
        """The model in a :meth:`save_pretrained` folder, or on the Hub (``user/name`` or ``hf://user/name``)."""
        from flashtrain.tasks.pretrained import from_pretrained

        model = from_pretrained(name_or_folder, **overrides)
        if not isinstance(model, cls):
            raise TypeError(f"{name_or_folder} holds a {type(model).__name__}, not a {cls.__name__}.")
        return model


def check_checkpoint_task(checkpoint: dict[str, Any], task_name: str, path: str | None = None) -> None:
    """A checkpoint of another task is named as such (not a state-dict mismatch of 200 keys)."""
    stored = checkpoint.get("task")
    if isinstance(stored, str) and stored != task_name:
        raise ValueError(
            f"{path + ': ' if path else ''}this is a {stored} checkpoint, not a {task_name} one; load or resume it "
            f"with the {stored} task."
        )


def _holds_code(value: Any) -> bool:
    """A module, function, class or metric object, or a list/dict holding one: not a hyper-parameter to save."""
    if isinstance(value, (list, tuple, set)):
        return any(_holds_code(item) for item in value)
    if isinstance(value, dict):
        return any(_holds_code(item) for item in value.values())
    return callable(value)


WEIGHT_AVERAGING = ("ema", "swa")


def check_weight_averaging(value: Any) -> Any:
    """``None``, ``"ema"`` / ``"ema:DECAY"``, ``"swa"`` / ``"swa:SWA_LR"``, or a ``WeightAveraging`` callback."""
    from flashtrain.core.callbacks import WeightAveraging

    if value is None or isinstance(value, WeightAveraging):
        return value
    if isinstance(value, str):
        name, _, argument = value.partition(":")
        try:
            number = float(argument) if argument else None
        except ValueError:
            number = None
            name = ""
        if name in WEIGHT_AVERAGING and (not argument or number is not None):
            return value
    raise ValueError(
        f"weight_averaging={value!r} is not valid; use None, 'ema' (decay 0.999), 'ema:DECAY' (e.g. 'ema:0.99'), "
        "'swa' (SWA learning rate = learning_rate / 10, from 80% of the epochs), 'swa:SWA_LR', or a "
        "flashtrain.core.callbacks.WeightAveraging instance."
    )


def weight_averaging_callback(value: Any, learning_rate: float) -> Any:
    """The callback ``value`` (checked by :func:`check_weight_averaging`) stands for, or None."""
    from flashtrain.core.callbacks import EMAWeightAveraging, StochasticWeightAveraging

    if value is None or not isinstance(value, str):
        return value
    name, _, argument = value.partition(":")
    if name == "ema":
        return EMAWeightAveraging(decay=float(argument) if argument else 0.999)
    # SWA's usual recipe: a constant, moderate rate over the last epochs, one epoch of annealing towards it.
    swa_lr = float(argument) if argument else learning_rate / 10
    return StochasticWeightAveraging(swa_lrs=swa_lr, swa_epoch_start=0.8, annealing_epochs=1)


class ClassificationTask(Task):
    """Training, evaluation and prediction for classifiers built from parts.

    Subclasses set ``self.backbone`` (features), ``self.head`` (features -> logits), and pass ``labels`` and
    ``multi_label``; this class supplies the loss (cross-entropy, or binary cross-entropy for multi-label, with
    optional class weights and label smoothing, or the user's ``loss_fn``), accuracy plus the chosen ``metrics``,
    the optimizer and schedule, and ``format_predictions`` for ``trainer.predict(..., output=...)``.

    Args (shared by every classifier):
        loss_fn: None (the default above), "cross_entropy", "binary_cross_entropy", "focal", or a callable
            ``(logits, targets) -> loss`` (a ``torch.nn`` loss module works).
        metrics: Extra metrics logged as ``{stage}_{name}``: names (see ``metrics.CLASSIFICATION_METRICS``), or
            torchmetrics objects (a list, or a dict name -> metric). Accuracy is always logged (``val_acc`` is
            what "best" means); multi-label adds F1 by default, as Flash did.
        class_weights: None, "balanced" (from the training data's class counts, n / (k * count); for multi-label
            the positive weight (negatives / positives) per label), or one weight per class.
        label_smoothing: Cross-entropy label smoothing (single-label).
        calibrate: None, or "temperature": the temperature that calibrates the probabilities on the validation split.
        decision_threshold: None (argmax; 0.5 per label for multi-label), "f1" / "balanced_accuracy" (tuned on the
            validation split), or a number: the probability at which a binary classifier says its second label, and
            a multi-label one each label. See :mod:`flashtrain.tasks.calibration`.
    """

    monitor = ("val_acc", "max")  # what "best" means for checkpoints of this task
    outputs = OUTPUTS

    @classmethod
    def available_metrics(cls) -> list[str]:
        """Metric names accepted by ``metrics=``."""
        return list(task_metrics.CLASSIFICATION_METRICS)

    @classmethod
    def labels_from(cls, labels: Any, num_classes: int | None) -> list[Any]:
        """The class names: ``labels`` as given, or ``0..num_classes-1`` (Flash's ``num_classes=N`` form)."""
        if labels is None and num_classes is None:
            raise ValueError(f"{cls.__name__} needs labels=datamodule.labels or num_classes=N.")
        return list(labels) if labels is not None else list(range(num_classes or 0))

    def __init__(
        self,
        *,
        labels: list[Any],
        multi_label: bool,
        loss_fn: Any = None,
        metrics: Any = None,
        class_weights: str | Sequence[float] | None = None,
        label_smoothing: float = 0.0,
        optimizer: Any = "adam",
        lr_scheduler: Any = None,
        learning_rate: float = 1e-3,
        weight_averaging: Any = None,
        calibrate: str | None = None,
        decision_threshold: str | float | None = None,
        compile: bool = False,
    ) -> None:
        super().__init__(
            optimizer=optimizer,
            lr_scheduler=lr_scheduler,
            learning_rate=learning_rate,
            weight_averaging=weight_averaging,
            compile=compile,
        )
        if not labels:
            raise ValueError("A classifier needs labels: pass labels=datamodule.labels (or num_classes=N).")
        self.labels = list(labels)
        self.multi_label = multi_label
        self.criterion = losses.ClassificationLoss(
            loss_fn, len(self.labels), multi_label, class_weights, label_smoothing
        )
        chosen = metrics if metrics is not None else (["f1"] if multi_label else [])
        self.train_metrics, self.val_metrics, self.test_metrics = (
            task_metrics.classification_metrics(chosen, len(labels), multi_label) for _ in range(3)
        )
        self.calibration = (
            Calibration(calibrate, decision_threshold, len(self.labels), multi_label)
            if calibrate is not None or decision_threshold is not None
            else None
        )
        thresholds = self.calibration is not None and self.calibration.uses_thresholds
        self.validation_confusion = None if multi_label else ValidationConfusion(len(self.labels), thresholds)

    def setup(self, stage: str) -> None:
        """Class weights "balanced" are counted on the training data when fitting starts."""
        from flashtrain.tasks.data import TaskDataModule

        super().setup(stage)
        datamodule = self.trainer.datamodule if self._trainer is not None else None
        if stage == "fit" and self.criterion.needs_counts and datamodule is not None:
            counts = datamodule.class_counts() if isinstance(datamodule, TaskDataModule) else None
            if counts is None:
                raise ValueError(
                    "class_weights='balanced' needs a datamodule whose training data has targets (class_counts())."
                )
            self.criterion.set_counts(*counts)
            self.hparams["class_weights"] = self.criterion.weights_list()  # a checkpoint keeps the numbers

    def compute_loss(self, logits: torch.Tensor, targets: torch.Tensor) -> torch.Tensor:
        return self.criterion(logits, targets) + self.auxiliary_loss()

    constant_prediction = "equal probabilities for every class"

    def constant_prediction_loss(self, batch: Any) -> torch.Tensor:
        targets = batch[1]
        return self.criterion(torch.zeros(len(targets), len(self.labels), device=targets.device), targets)

    def _step(self, batch: Any, stage: str) -> torch.Tensor:
        inputs, targets = batch
        logits = self(inputs)
        loss = self.compute_loss(logits, targets)
        self.log(f"{stage}_loss", loss, prog_bar=stage != "test")
        self.update_metrics(logits.detach(), targets, stage)
        if stage == "val" and self.calibration is not None:
            self.calibration.collect(logits, targets)
        if stage == "val" and self.validation_confusion is not None:
            self.validation_confusion.update(logits, targets)
        return loss

    def on_validation_epoch_end(self) -> None:
        """Fit the temperature / thresholds on this epoch's validation logits, then count the epoch's confusion
        matrix with them, before checkpoints are written."""
        if self.calibration is not None:
            self.calibration.fit_collected()
        if self.validation_confusion is not None:
            self.validation_confusion.finish(self.decide)

    def decide(self, logits: torch.Tensor) -> torch.Tensor:
        """Single-label class indices for ``logits``: the fitted decision threshold where there is one, else argmax."""
        if self.calibration is not None:
            return self.calibration.predicted(self.calibration.probabilities(logits))
        return logits.argmax(dim=1)

    @property
    def validation_confusion_matrix(self) -> list[list[int]] | None:
        """Counts (rows: actual, columns: predicted, in label order) of the last validation epoch, or of the
        checkpoint this model was loaded from; None for multi-label models and before any validation."""
        return self.validation_confusion.matrix if self.validation_confusion is not None else None

    def on_save_checkpoint(self, checkpoint: dict[str, Any]) -> None:
        super().on_save_checkpoint(checkpoint)
        if self.validation_confusion_matrix is not None:
            checkpoint[CONFUSION_KEY] = self.validation_confusion_matrix

    def on_load_checkpoint(self, checkpoint: dict[str, Any]) -> None:
        super().on_load_checkpoint(checkpoint)
        if self.validation_confusion is not None and checkpoint.get(CONFUSION_KEY):
            self.validation_confusion.matrix = [[int(count) for count in row] for row in checkpoint[CONFUSION_KEY]]

    def update_metrics(self, logits: torch.Tensor, targets: torch.Tensor, stage: str) -> None:
        if targets.is_floating_point() and not self.multi_label:  # soft targets (mixup): score the largest
            targets = targets.argmax(dim=1)
        targets = targets.int() if self.multi_label else targets
        for name, metric in getattr(self, f"{stage}_metrics").items():
            metric(logits, targets)
            self.log(f"{stage}_{name}", metric, prog_bar=stage != "train" and name == "acc")

    def predict_step(self, batch: Any, batch_idx: int, dataloader_idx: int = 0) -> torch.Tensor:
        inputs = batch[0] if isinstance(batch, (tuple, list)) else batch
        return self(inputs)

    def format_predictions(self, outputs: list[torch.Tensor], output: Any = None, k: int = 5) -> list[Any]:
        """One entry per input, in order: label names, class indices, class probabilities, raw logits, or the top-k
        pairs. ``output``: a name or a Flash Output object; None means ``model.output``, else "labels"."""
        choice = self.output_choice(output)
        logits = torch.cat(outputs).float() if outputs else torch.empty(0, len(self.labels))
        if choice.name in ("logits", "preds"):
            return logits.tolist()
        if self.calibration is not None:
            probabilities = self.calibration.probabilities(logits)
        else:
            probabilities = torch.sigmoid(logits) if self.multi_label else torch.softmax(logits, dim=1)
        if choice.name == "probabilities":
            return probabilities.tolist()
        names = self._output_labels(choice)
        if choice.name in ("labels", "classes"):
            if self.calibration is not None and choice.threshold == OutputChoice.threshold:
                chosen = self.calibration.predicted(probabilities)  # the fitted temperature and thresholds
            else:  # no calibration, or a threshold the caller chose (Flash's LabelsOutput(threshold=...))
                chosen = probabilities > choice.threshold if self.multi_label else probabilities.argmax(dim=1)
            if self.multi_label:
                return [[names[i] for i in torch.nonzero(row).flatten().tolist()] for row in chosen]
            return [names[i] for i in chosen.tolist()]
        top = probabilities.topk(min(k, len(self.labels)), dim=1)
        return [
            [(names[i], round(p, 6)) for i, p in zip(idx.tolist(), val.tolist())]
            for idx, val in zip(top.indices, top.values)
        ]

    def _output_labels(self, choice: OutputChoice) -> list[Any]:
        """What names each class index: the model's labels, indices for "classes", or LabelsOutput's renaming."""
        if choice.name == "classes":
            return list(range(len(self.labels)))
        if choice.labels is None:
            return self.labels
        if len(choice.labels) != len(self.labels):
            raise ValueError(
                f"LabelsOutput has {len(choice.labels)} labels but the model has {len(self.labels)} classes "
                f"({self.labels}); pass one new name per class, in the model's order."
            )
        return list(choice.labels)


class RegressionTask(Task):
    """Regression on one or more targets: mean squared error on standardised targets (so targets of any scale
    train alike); predictions and the logged RMSE (``val_rmse``, over all targets) are in the original units.

    Subclasses set ``self.backbone`` and ``self.head`` (features -> one output per target).

    Args (shared by every regressor):
        loss_fn: None (MSE), "mse", "l1", "huber", "smooth_l1", or a callable ``(predictions, targets) -> loss``
            (computed on standardised targets).
        metrics: Extra metrics in the original units, logged as ``{stage}_{name}``: names ("mae", "mse", "r2",
            "mape") or torchmetrics objects. RMSE is always logged.
    """

    if TYPE_CHECKING:  # for mypy only: torch.jit.script reads class annotations and cannot parse the string ones
        target_mean: torch.Tensor
        target_std: torch.Tensor
    monitor = ("val_rmse", "min")
    outputs = ("values", "preds")

    @classmethod
    def available_metrics(cls) -> list[str]:
        """Metric names accepted by ``metrics=``."""
        return list(task_metrics.REGRESSION_METRICS)

    def __init__(
        self,
        *,
        target_names: list[str],
        target_means: list[float],
        target_stds: list[float],
        loss_fn: Any = None,
        metrics: Any = None,
        optimizer: Any = "adam",
        lr_scheduler: Any = None,
        learning_rate: float = 1e-3,
        weight_averaging: Any = None,
        compile: bool = False,
    ) -> None:
        super().__init__(
            optimizer=optimizer,
            lr_scheduler=lr_scheduler,
            learning_rate=learning_rate,
            weight_averaging=weight_averaging,
            compile=compile,
        )
        self.target_names = list(target_names)
        self.register_buffer("target_mean", torch.tensor(target_means, dtype=torch.float32), persistent=False)
        self.register_buffer("target_std", torch.tensor(target_stds, dtype=torch.float32), persistent=False)
        self.criterion = losses.regression_loss(loss_fn)
        self.train_metrics, self.val_metrics, self.test_metrics = (
            task_metrics.regression_metrics(metrics) for _ in range(3)
        )

    def to_original_units(self, scaled: torch.Tensor) -> torch.Tensor:
        return scaled * self.target_std + self.target_mean

    constant_prediction = "the training mean"

    def constant_prediction_loss(self, batch: Any) -> torch.Tensor:
        targets = batch[1]
        return self.criterion(torch.zeros_like(targets), targets)  # standardised targets: the mean is 0

    def _step(self, batch: Any, stage: str) -> torch.Tensor:
        inputs, targets = batch
        outputs = self(inputs)
        loss = self.criterion(outputs, targets) + self.auxiliary_loss()
        self.log(f"{stage}_loss", loss, prog_bar=stage != "test")
        predicted = self.to_original_units(outputs.detach()).flatten()
        actual = self.to_original_units(targets).flatten()
        for name, metric in getattr(self, f"{stage}_metrics").items():
            metric(predicted, actual)
            self.log(f"{stage}_{name}", metric, prog_bar=stage != "train" and name == "rmse")
        return loss

    def predict_step(self, batch: Any, batch_idx: int, dataloader_idx: int = 0) -> torch.Tensor:
        inputs = batch[0] if isinstance(batch, (tuple, list)) else batch
        return self.to_original_units(self(inputs))

    def format_predictions(self, outputs: list[torch.Tensor], output: Any = None) -> list[Any]:
        """One entry per input, in order: a number (one target) or a list with one number per target."""
        self.output_choice(output)  # "values" and Flash's "preds" are the same numbers
        values = torch.cat(outputs).float() if outputs else torch.empty(0, len(self.target_names))
        return values[:, 0].tolist() if len(self.target_names) == 1 else values.tolist()
