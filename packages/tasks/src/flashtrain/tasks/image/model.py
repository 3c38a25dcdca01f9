"""``ImageClassifier``: a timm or torchvision backbone with a classification head, trained like a timm recipe."""

from __future__ import annotations

import warnings
from typing import Any

import torch

from flashtrain.tasks import registry
from flashtrain.tasks.flash_registry import IMAGE_BACKBONES
from flashtrain.tasks.heads import available_heads, build_head, check_head_output
from flashtrain.tasks.image.acceleration import check_channels_last, decay_groups, wants_channels_last
from flashtrain.tasks.image.backbones import Backbone, available_backbones, build_backbone
from flashtrain.tasks.image.transforms import IMAGENET_MEAN, IMAGENET_STD, ImageConfig, as_size
from flashtrain.tasks.task import ClassificationTask, check_checkpoint_task

CUSTOM_BACKBONE = "custom"


class ImageClassifier(ClassificationTask):
    """Classify images with any timm model (``"resnet18"``) or torchvision model (``"torchvision/resnet18"``).

    The defaults are a modern recipe: AdamW (weight decay 0.05) with a one-cycle schedule, label smoothing 0.1,
    and (in the data) a random resized crop + flip for training only.

    Args:
        backbone: Backbone name (see ``available_backbones()``), or your own ``(module, num_features)``.
        labels: Class names, e.g. ``datamodule.labels``; or give ``num_classes``.
        num_classes: Number of classes when there are no names (labels become 0..N-1).
        pretrained: True (download or local cache), False (random init), or a path to a weights file.
        multi_label: Several labels per image (sigmoid outputs, binary cross-entropy).
        head: "linear" (default), "mlp", a function ``(num_features, num_classes) -> nn.Module``, or a module.
        backbone_kwargs: Passed to ``timm.create_model`` / torchvision's builder (``drop_path_rate``, ...).
        optimizer: Any ``torch.optim`` name, class, function, or ``(name, {kwargs})``.
        lr_scheduler: "onecycle" (default), any torch or transformers schedule name, ``(name, {kwargs}[,
            {config}])``, a function, or None.
        learning_rate: Learning rate (the peak rate for one-cycle).
        image_size: Input size, an int or ``(H, W)``; by default the backbone's pretrained config.
        mixup_alpha, cutmix_alpha: Batch mixing strengths (timm's ``Mixup``); 0 turns each off.
        interpretation: After training, write a confusion matrix and the top losses as PNG next to the
            checkpoints (and to TensorBoard).
        loss_fn, metrics, class_weights, label_smoothing, calibrate, decision_threshold: See
            :class:`~flashtrain.tasks.task.ClassificationTask`.
        weight_averaging: None, ``"ema"`` / ``"ema:DECAY"``, ``"swa"`` / ``"swa:SWA_LR"``, or a ``WeightAveraging``
            callback: validate, checkpoint and finish on averaged weights (see
            ``flashtrain.core.callbacks.weight_averaging``).
        channels_last: True, False or "auto" (on CUDA for convolutional backbones): the NHWC memory format.
        compile: ``torch.compile`` the backbone when training starts (the first step pays for compiling).

    Weight decay applies to weights only: biases and normalisation parameters are not decayed (timm's parameter
    groups).
    """

    task_name = "image_classification"
    recipe = registry.defaults(task_name)  # the declared defaults below (the CLI reads them without torch)
    default_max_epochs = recipe["max_epochs"]

    def __init__(
        self,
        backbone: str | tuple[torch.nn.Module, int] = recipe["backbone"],
        labels: list[Any] | None = None,
        num_classes: int | None = None,
        pretrained: bool | str = True,
        multi_label: bool = False,
        head: Any = "linear",
        backbone_kwargs: dict[str, Any] | None = None,
        optimizer: Any = recipe["optimizer"],
        lr_scheduler: Any = recipe["lr_scheduler"],
        learning_rate: float = recipe["learning_rate"],
        image_size: int | tuple[int, int] | None = None,
        image_config: dict | None = None,
        loss_fn: Any = None,
        metrics: Any = None,
        class_weights: Any = None,
        label_smoothing: float = recipe["label_smoothing"],
        mixup_alpha: float = recipe["mixup_alpha"],
        cutmix_alpha: float = recipe["cutmix_alpha"],
        interpretation: bool = False,
        weight_averaging: Any = None,
        channels_last: bool | str = "auto",
        compile: bool = False,
        calibrate: str | None = None,
        decision_threshold: str | float | None = None,
    ) -> None:
        labels = self.labels_from(labels, num_classes)
        super().__init__(
            labels=labels,
            multi_label=multi_label,
            optimizer=optimizer,
            lr_scheduler=lr_scheduler,
            learning_rate=learning_rate,
            loss_fn=loss_fn,
            metrics=metrics,
            class_weights=class_weights,
            label_smoothing=0.0 if multi_label else label_smoothing,
            weight_averaging=weight_averaging,
            calibrate=calibrate,
            decision_threshold=decision_threshold,
            compile=compile,
        )
        built = _backbone(backbone, pretrained, backbone_kwargs)
        self.backbone = built.module
        self.random_backbone = pretrained is False  # until weights come from a checkpoint
        self.head = build_head(head, built.num_features, len(labels))
        check_head_output(self.head, built.num_features, len(labels))
        config = ImageConfig.from_dict(image_config) if image_config else built.image_config
        if image_size is not None:
            as_size(image_size)
            config = ImageConfig(image_size, config.mean, config.std)
        self.image_config = config
        self.mixup = _mixup(mixup_alpha, cutmix_alpha, label_smoothing, len(labels), multi_label)
        self.interpretation = interpretation
        self.channels_last = check_channels_last(channels_last)
        self.uses_channels_last = False  # decided when training starts, on the device
        self.save_task_hyperparameters(
            ignore=["num_classes"],
            backbone=backbone if isinstance(backbone, str) else CUSTOM_BACKBONE,
            labels=labels,
            image_config=config.as_dict(),  # what a checkpoint needs to preprocess new images
        )

    # Flash's ``@ImageClassifier.backbones(name="my_net")`` registration of ``fn(pretrained=...) -> (module, width)``.
    backbones = IMAGE_BACKBONES

    @classmethod
    def available_backbones(cls, filter: str | None = None) -> list[str]:
        registered = [name for name in IMAGE_BACKBONES.available_keys() if not filter or filter in name]
        return registered + available_backbones(filter)

    @classmethod
    def available_pretrained_weights(cls, backbone: str) -> list[str]:
        """The pretrained weight tags timm has for ``backbone`` (``"resnet18"`` -> ``["a1_in1k", ...]``); pass
        ``"resnet18.a1_in1k"`` as the backbone to pick one."""
        import timm

        return [name.split(".", 1)[1] for name in timm.list_pretrained(f"{backbone}.*")]

    @classmethod
    def available_heads(cls) -> list[str]:
        return available_heads()

    def adopt_image_config(self, config: ImageConfig) -> None:
        """Preprocess as the training data fixed it (its ``adopt_model`` asks), so that this model's checkpoints
        preprocess new images as in training."""
        self.image_config = config
        self.hparams["image_config"] = config.as_dict()

    def on_fit_start(self) -> None:
        self.uses_channels_last = wants_channels_last(self.channels_last, self.backbone, self.device)
        if self.uses_channels_last:
            self.to(memory_format=torch.channels_last)
        super().on_fit_start()  # compile=True: after the layout change, so the compiled graph is channels-last
        # BatchNorm layers stay trainable under "freeze" (train_bn=True): only the other layers tell.
        weights = (
            p
            for m in self.backbone.modules()
            if not isinstance(m, torch.nn.modules.batchnorm._BatchNorm)
            for p in m.parameters(recurse=False)
        )
        if self.random_backbone and not any(p.requires_grad for p in weights):
            warnings.warn(
                "The backbone is frozen but was not pretrained (pretrained=False): its features stay random and "
                "only the head trains, so accuracy stays near chance. Finetune with strategy='no_freeze' (CLI: "
                "--finetune-strategy no_freeze), or start from pretrained weights.",
                stacklevel=2,
            )

    def on_load_checkpoint(self, checkpoint: dict[str, Any]) -> None:
        super().on_load_checkpoint(checkpoint)
        self.random_backbone = False  # trained weights

    def configure_callbacks(self) -> list[Any]:
        callbacks = list(super().configure_callbacks())  # weight averaging, divergence check
        if self.interpretation:
            from flashtrain.tasks.image.interpretation import ClassificationInterpretation

            callbacks.append(ClassificationInterpretation())
        return callbacks

    def forward(self, images: torch.Tensor) -> torch.Tensor:
        if self.uses_channels_last:
            images = images.contiguous(memory_format=torch.channels_last)
        return super().forward(images)

    def configure_optimizers(self) -> Any:
        # Biases and normalisation parameters are not decayed (timm's parameter groups).
        return self.build_optimizers(decay_groups(self, self.optimizer_choice.argument("weight_decay")))

    def training_step(self, batch: Any, batch_idx: int) -> torch.Tensor:
        if self.mixup is None:
            return self._step(batch, "train")
        images, targets = batch
        even = len(images) - len(images) % 2  # timm's Mixup pairs samples: it needs an even batch
        if even < 2:
            return self._step(batch, "train")
        mixed, soft = self.mixup(images[:even], targets[:even])
        logits = self(mixed)
        loss = self.compute_loss(logits, soft)
        self.log("train_loss", loss, prog_bar=True)
        self.update_metrics(logits.detach(), targets[:even], "train")
        return loss

    def as_embedder(self, layer: str | None = None) -> Any:
        """An :class:`~flashtrain.tasks.image.embedding.ImageEmbedder` sharing this model's backbone (and weights):
        features of the backbone, or of the named sub-module ``layer`` (see ``embedder.available_layers()``)."""
        from flashtrain.tasks.image.embedding import ImageEmbedder

        return ImageEmbedder.from_module(self.backbone, self.image_config, layer)

    @classmethod
    def hyperparameters_from_checkpoint(
        cls, checkpoint: dict[str, Any], checkpoint_path: str, overrides: dict[str, Any]
    ) -> dict[str, Any]:
        """Rebuilt without downloading anything (the weights come from the file); a custom backbone module must be
        passed again."""
        check_checkpoint_task(checkpoint, cls.task_name, checkpoint_path)
        stored = checkpoint.get("hyper_parameters", {})
        if stored.get("backbone") == CUSTOM_BACKBONE and "backbone" not in overrides:
            raise ValueError(
                f"{checkpoint_path} was trained with your own backbone module, which a checkpoint cannot rebuild: "
                "pass it again, load_from_checkpoint(path, backbone=(module, num_features))."
            )
        return {**stored, "pretrained": False, **overrides}


def _backbone(backbone: Any, pretrained: bool | str, backbone_kwargs: dict[str, Any] | None) -> Backbone:
    if isinstance(backbone, str) and backbone in IMAGE_BACKBONES:  # registered with @ImageClassifier.backbones
        built = IMAGE_BACKBONES.get(backbone)(pretrained=pretrained, **(backbone_kwargs or {}))
        return _backbone(tuple(built), pretrained, None)
    if isinstance(backbone, str):
        return build_backbone(backbone, pretrained, backbone_kwargs)
    if isinstance(backbone, (tuple, list)) and len(backbone) == 2 and isinstance(backbone[0], torch.nn.Module):
        module, width = backbone
        if not isinstance(width, int) or width < 1:
            raise ValueError(f"backbone=(module, num_features): num_features must be a positive int, got {width!r}.")
        if backbone_kwargs:
            raise ValueError("backbone_kwargs apply to named backbones; configure your own module directly.")
        return Backbone(module, width, ImageConfig(224, IMAGENET_MEAN, IMAGENET_STD))
    if isinstance(backbone, torch.nn.Module):
        width = getattr(backbone, "num_features", None)
        if isinstance(width, int):
            return Backbone(backbone, width, ImageConfig(224, IMAGENET_MEAN, IMAGENET_STD))
    raise TypeError(
        "backbone must be a name (see ImageClassifier.available_backbones()), a (module, num_features) pair, or a "
        f"module with an int num_features attribute; got {type(backbone).__name__}."
    )


def _mixup(mixup_alpha: float, cutmix_alpha: float, smoothing: float, num_classes: int, multi_label: bool) -> Any:
    if not mixup_alpha and not cutmix_alpha:
        return None
    if multi_label:
        raise ValueError("mixup_alpha / cutmix_alpha are for single-label data.")
    from timm.data import Mixup

    return Mixup(mixup_alpha=mixup_alpha, cutmix_alpha=cutmix_alpha, label_smoothing=smoothing, num_classes=num_classes)
