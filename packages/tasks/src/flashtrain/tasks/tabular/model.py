"""``TabularClassifier`` and ``TabularRegressor``: a tabular backbone plus a linear head, with the fitted
preprocessing kept in the hyper-parameters so that a checkpoint alone can prepare and predict new tables."""

from __future__ import annotations

from typing import Any

import torch

from flashtrain.tasks import registry
from flashtrain.tasks.heads import available_heads, build_head, check_head_output
from flashtrain.tasks.tabular.backbones import available_tabular_backbones, build_tabular_backbone
from flashtrain.tasks.tabular.preprocessing import TabularPreprocessing
from flashtrain.tasks.task import ClassificationTask, RegressionTask, check_checkpoint_task


def _fitted(parameters: dict[str, Any], task: str, model: str, other: str) -> TabularPreprocessing:
    preprocessing = TabularPreprocessing.from_state_dict(parameters)
    if preprocessing.task != task:
        raise ValueError(
            f"{model} needs {task} data, but parameters were fitted for {preprocessing.task}; use {other}."
        )
    return preprocessing


class _TabularParts:
    """What both tabular models share: the fitted preprocessing, backbone + linear head built from it, and
    ``from_data``. (``save_hyperparameters`` stays in each ``__init__``: it reads the arguments of its caller.)"""

    preprocessing: TabularPreprocessing
    task_name: str  # set by each task class
    backbone: torch.nn.Module
    head: torch.nn.Module
    training: bool  # torch.nn.Module's, through the task class

    def _build_parts(
        self,
        preprocessing: TabularPreprocessing,
        backbone: str,
        options: dict[str, Any] | None,
        embedding_sizes: Any,
        head: Any,
    ) -> None:
        self.preprocessing = preprocessing
        built = build_tabular_backbone(backbone, preprocessing, options, embedding_sizes)
        self.backbone = built
        self.head = build_head(head, built.num_features, preprocessing.num_outputs)
        check_head_output(self.head, built.num_features, preprocessing.num_outputs)

    # Whether an ensemble backbone's members are trained each on its own loss (TabM's objective); else the loss is
    # of their mean. The classifier does; the regressor's step scores one output per row, so it trains the mean.
    trains_members = False

    def forward(self, inputs: Any) -> torch.Tensor:
        """Outputs per row; an ensemble backbone (TabM) gives one per member, ``(batch, k, outputs)``, which stays
        so in training where the members are trained each (``trains_members``) and is their mean otherwise."""
        outputs = self.head(self.backbone(inputs))
        if outputs.ndim == 3 and not (self.training and self.trains_members):
            return self.combine_members(outputs)
        return outputs

    def combine_members(self, outputs: torch.Tensor) -> torch.Tensor:
        return outputs.mean(dim=1)

    @staticmethod
    def member_batch(outputs: torch.Tensor, targets: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        """``(batch, k, ...)`` outputs and their targets as one batch of ``batch * k`` rows: the loss on it is the
        mean of the members' losses, TabM's training objective."""
        return outputs.flatten(0, 1), targets.repeat_interleave(outputs.shape[1], dim=0)

    @classmethod
    def available_backbones(cls, filter: str | None = None) -> list[str]:
        return [name for name in available_tabular_backbones() if not filter or filter.lower() in name]

    @classmethod
    def available_heads(cls) -> list[str]:
        return available_heads()

    @property
    def data_parameters(self) -> dict[str, Any]:
        """The fitted preprocessing this model was built for (Flash's name; ``hparams["parameters"]``)."""
        return self.preprocessing.state_dict()

    @classmethod
    def hyperparameters_from_checkpoint(
        cls, checkpoint: dict[str, Any], checkpoint_path: str, overrides: dict[str, Any]
    ) -> dict[str, Any]:
        """The saved hyper-parameters; a checkpoint of the MLP from before its numbers were embedded (flashtrain 0.x:
        no ``backbone.numerical`` weights) rebuilds that plain MLP instead of failing to load."""
        check_checkpoint_task(checkpoint, cls.task_name, checkpoint_path)
        rebuilt = {**checkpoint.get("hyper_parameters", {}), **overrides}
        plain_mlp = not any(key.startswith("backbone.numerical.") for key in checkpoint.get("state_dict", {}))
        if rebuilt.get("backbone", "mlp") == "mlp" and plain_mlp:
            rebuilt["backbone_kwargs"] = {"numerical_embedding": "none", **(rebuilt.get("backbone_kwargs") or {})}
        return rebuilt

    @classmethod
    def from_data(cls, datamodule: Any, **kwargs: Any) -> Any:
        """A model sized for ``datamodule`` (its fitted ``parameters``); ``kwargs`` as for the class."""
        return cls(datamodule.parameters, **kwargs)  # type: ignore[call-arg]


class TabularClassifier(_TabularParts, ClassificationTask):
    """Binary or multi-class classification of table rows.

    Args:
        parameters: The fitted preprocessing, ``datamodule.parameters`` (``from_data`` passes it for you).
        backbone: ``"mlp"`` (default), ``"tabm"`` (TabM, an efficient ensemble of MLPs; ``backbone_kwargs`` such as
            ``{"k": 32, "d_block": 512}``), ``"resnet"``, ``"ft_transformer"`` or ``"tabnet"``.
        backbone_kwargs: Sizes for the backbone, e.g. ``{"hidden_size": 256, "num_layers": 3, "dropout": 0.2,
            "frequency_scale": 0.3}`` (or ``"numerical_embedding": "none"``) for the MLP, or
            ``{"d_token": 96, "num_layers": 2, "num_heads": 8}`` for the FT-Transformer.
        optimizer: "adamw" (default), "adam", "sgd", "rmsprop", an optimizer class, or a function (params, lr).
        lr_scheduler: None, "cosine", "step", "linear_warmup", or a function (optimizer) -> scheduler.
        learning_rate: Learning rate (default 1e-3).
        embedding_sizes: Category embedding widths: ``{column: width}`` or one per categorical column.
        head: "linear" (default), "mlp", a function ``(num_features, num_outputs) -> nn.Module``, or a module.
        loss_fn, metrics, class_weights, label_smoothing, calibrate, decision_threshold: See
            :class:`~flashtrain.tasks.task.ClassificationTask`.
        weight_averaging: None, ``"ema"`` / ``"ema:DECAY"``, ``"swa"`` / ``"swa:SWA_LR"``, or a ``WeightAveraging``
            callback: validate, checkpoint and finish on averaged weights (see
            ``flashtrain.core.callbacks.weight_averaging``).
        compile: ``torch.compile`` the backbone when training starts (the first step pays for compiling).
    """

    task_name = "tabular_classification"
    recipe = registry.defaults(task_name)  # the declared defaults below (the CLI reads them without torch)
    default_max_epochs = recipe["max_epochs"]
    # "Best" is the lowest validation loss: on the small validation splits of most tables accuracy moves in steps of
    # a few rows and reaches its maximum early, so the first epoch to reach it (often undertrained) was kept.
    monitor = ("val_loss", "min")

    def __init__(
        self,
        parameters: dict[str, Any],
        backbone: str = recipe["backbone"],
        backbone_kwargs: dict[str, Any] | None = None,
        optimizer: Any = recipe["optimizer"],
        lr_scheduler: Any = recipe["lr_scheduler"],
        learning_rate: float = recipe["learning_rate"],
        embedding_sizes: Any = None,
        head: Any = "linear",
        loss_fn: Any = None,
        metrics: Any = None,
        class_weights: Any = None,
        label_smoothing: float = 0.0,
        weight_averaging: Any = None,
        calibrate: str | None = None,
        decision_threshold: str | float | None = None,
        compile: bool = False,
    ) -> None:
        preprocessing = _fitted(parameters, "classification", "TabularClassifier", "TabularRegressor")
        labels = list(preprocessing.labels or [])
        super().__init__(
            labels=labels,
            multi_label=False,
            optimizer=optimizer,
            lr_scheduler=lr_scheduler,
            learning_rate=learning_rate,
            loss_fn=loss_fn,
            metrics=metrics,
            class_weights=class_weights,
            label_smoothing=label_smoothing,
            weight_averaging=weight_averaging,
            calibrate=calibrate,
            decision_threshold=decision_threshold,
            compile=compile,
        )
        self._build_parts(preprocessing, backbone, backbone_kwargs, embedding_sizes, head)
        self.save_task_hyperparameters()

    trains_members = True

    def combine_members(self, outputs: torch.Tensor) -> torch.Tensor:
        """The members' mean probability, as logits (its log: softmax of it is that mean)."""
        if self.multi_label:
            return torch.logit(torch.sigmoid(outputs).mean(dim=1), eps=1e-7)
        return torch.log(torch.softmax(outputs, dim=-1).mean(dim=1).clamp_min(1e-12))

    def compute_loss(self, logits: torch.Tensor, targets: torch.Tensor) -> torch.Tensor:
        if logits.ndim == 3:
            logits, targets = self.member_batch(logits, targets)
        return super().compute_loss(logits, targets)

    def update_metrics(self, logits: torch.Tensor, targets: torch.Tensor, stage: str) -> None:
        super().update_metrics(self.combine_members(logits) if logits.ndim == 3 else logits, targets, stage)


class TabularRegressor(_TabularParts, RegressionTask):
    """Regression of one or more numerical columns; predictions come back in the targets' original units.

    Args as for :class:`TabularClassifier` (``parameters`` from a ``TabularRegressionData``).
    """

    task_name = "tabular_regression"
    recipe = registry.defaults(task_name)  # the declared defaults below (the CLI reads them without torch)
    default_max_epochs = recipe["max_epochs"]

    def __init__(
        self,
        parameters: dict[str, Any],
        backbone: str = recipe["backbone"],
        backbone_kwargs: dict[str, Any] | None = None,
        optimizer: Any = recipe["optimizer"],
        lr_scheduler: Any = recipe["lr_scheduler"],
        learning_rate: float = recipe["learning_rate"],
        embedding_sizes: Any = None,
        head: Any = "linear",
        loss_fn: Any = None,
        metrics: Any = None,
        weight_averaging: Any = None,
        compile: bool = False,
    ) -> None:
        preprocessing = _fitted(parameters, "regression", "TabularRegressor", "TabularClassifier")
        assert preprocessing.target_means is not None and preprocessing.target_stds is not None
        super().__init__(
            target_names=preprocessing.target_fields,
            target_means=preprocessing.target_means,
            target_stds=preprocessing.target_stds,
            optimizer=optimizer,
            lr_scheduler=lr_scheduler,
            learning_rate=learning_rate,
            loss_fn=loss_fn,
            metrics=metrics,
            weight_averaging=weight_averaging,
            compile=compile,
        )
        self._build_parts(preprocessing, backbone, backbone_kwargs, embedding_sizes, head)
        self.save_task_hyperparameters()
