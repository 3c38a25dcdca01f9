"""``ImageClassifier``: a timm or torchvision backbone with a classification head."""

from __future__ import annotations

import warnings
from typing import Any, cast

import torch

from flashtrain.tasks.image.backbones import build_backbone
from flashtrain.tasks.image.transforms import ImageConfig
from flashtrain.tasks.task import ClassificationTask, check_weight_averaging


class ImageClassifier(ClassificationTask):
    """Classify images with any timm model (``"resnet18"``) or torchvision model (``"torchvision/resnet18"``).

    Args:
        backbone: Backbone name (see ``available_backbones()``).
        labels: Class names, e.g. ``datamodule.labels``; or give ``num_classes``.
        num_classes: Number of classes when there are no names (labels become 0..N-1).
        pretrained: True (download or local cache), False (random init), or a path to a weights file.
        multi_label: Several labels per image (sigmoid outputs, binary cross-entropy).
        head: A module mapping backbone features to logits; by default one Linear layer.
        optimizer: "adam", "adamw", "sgd", "rmsprop", an optimizer class, or a function (params, lr).
        lr_scheduler: None, "cosine", "step", "linear_warmup", or a function (optimizer) -> scheduler.
        learning_rate: Learning rate of the head (a later-unfrozen backbone gets a fraction of it).
        image_size: Input size; by default the backbone's pretrained config.
        weight_averaging: None, ``"ema"`` / ``"ema:DECAY"``, ``"swa"`` / ``"swa:SWA_LR"``, or a ``WeightAveraging``
            callback: validate, checkpoint and finish on averaged weights (see
            ``flashtrain.core.callbacks.weight_averaging``).
    """

    task_name = "image_classification"

    def __init__(
        self,
        backbone: str = "resnet18",
        labels: list[Any] | None = None,
        num_classes: int | None = None,
        pretrained: bool | str = True,
        multi_label: bool = False,
        head: torch.nn.Module | None = None,
        optimizer: Any = "adam",
        lr_scheduler: Any = None,
        learning_rate: float = 1e-3,
        image_size: int | None = None,
        image_config: dict | None = None,
        weight_averaging: Any = None,
    ) -> None:
        if labels is None and num_classes is None:
            raise ValueError("ImageClassifier needs labels=datamodule.labels or num_classes=N.")
        labels = list(labels) if labels is not None else list(range(num_classes or 0))
        super().__init__(labels, multi_label, optimizer, lr_scheduler, learning_rate)
        self.weight_averaging = check_weight_averaging(weight_averaging)
        built = build_backbone(backbone, pretrained)
        self.backbone = built.module
        self.random_backbone = pretrained is False  # until weights come from a checkpoint
        self.head = head if head is not None else torch.nn.Linear(built.num_features, len(labels))
        config = ImageConfig(**image_config) if image_config else built.image_config
        if image_size is not None:
            config = ImageConfig(image_size, config.mean, config.std)
        self.image_config = config
        self.save_hyperparameters(ignore=["head", "num_classes"])
        self.hparams["labels"] = labels
        self.hparams["image_config"] = config.as_dict()  # what a checkpoint needs to preprocess new images

    def setup(self, stage: str) -> None:
        """Agree on preprocessing with the data: the model's is used unless the training data fixed its own
        (then the model adopts that, so its checkpoints preprocess new images as in training)."""
        datamodule = self.trainer.datamodule if self._trainer is not None else None
        if datamodule is None or not hasattr(datamodule, "use_model_config"):
            return
        if stage == "fit" and datamodule.config_fixed:
            self.image_config = datamodule.image_config
            self.hparams["image_config"] = self.image_config.as_dict()
        else:
            datamodule.use_model_config(self.image_config, force=stage != "fit")

    def on_fit_start(self) -> None:
        if self.random_backbone and not any(p.requires_grad for p in self.backbone.parameters()):
            warnings.warn(
                "The backbone is frozen but was not pretrained (pretrained=False): its features stay random and "
                "only the head trains, so accuracy stays near chance. Finetune with strategy='no_freeze' (CLI: "
                "--finetune-strategy no_freeze), or start from pretrained weights.",
                stacklevel=2,
            )

    def on_load_checkpoint(self, checkpoint: dict[str, Any]) -> None:
        super().on_load_checkpoint(checkpoint)
        self.random_backbone = False  # trained weights

    @classmethod
    def load_from_checkpoint(
        cls, checkpoint_path: str, map_location: Any = None, strict: bool = True, **overrides: Any
    ) -> ImageClassifier:
        """Rebuild from a checkpoint without downloading anything: the weights come from the file."""
        overrides.setdefault("pretrained", False)
        loaded = super().load_from_checkpoint(checkpoint_path, map_location=map_location, strict=strict, **overrides)
        return cast(ImageClassifier, loaded)
