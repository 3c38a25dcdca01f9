"""``TextClassifier``: a Hugging Face encoder, pooled, with a classification head."""

from __future__ import annotations

import os
from typing import Any

import torch

from flashtrain.tasks import registry
from flashtrain.tasks.heads import available_heads, build_head, check_head_output
from flashtrain.tasks.task import ClassificationTask, check_checkpoint_task
from flashtrain.tasks.text.backbones import (
    build_encoder,
    load_config,
    load_tokenizer,
    tokenizer_files,
    unpack_tokenizer_files,
)

# Checkpoints carry the tokenizer's files, so they predict from any folder, after the model folder moved.
TOKENIZER_FILES = "tokenizer_files"


class TextClassifier(ClassificationTask):
    """Classify texts with any Hugging Face encoder: a Hub name (``"prajjwal1/bert-tiny"``) or a local model
    directory. Sequence-classification checkpoints are accepted too (their encoder is used, with a new head).

    Args:
        backbone: Model name or local directory.
        labels: Class names, e.g. ``datamodule.labels``; or give ``num_classes``.
        num_classes: Number of classes when there are no names.
        multi_label: Several labels per text (sigmoid outputs, binary cross-entropy).
        max_length: Longer texts are truncated to this many tokens.
        pooling: "auto" (what the model family expects: mean for sentence-transformers folders, last token for
            decoder-only models, first token otherwise), "cls", "mean" or "last".
        pretrained: Load the pretrained weights (True) or build the architecture from its config only (False).
        optimizer: "adamw" (default), "adam", "sgd", "rmsprop", an optimizer class, or a function (params, lr).
        lr_scheduler: None, "cosine", "step", "linear_warmup" (10% warm-up, then linear decay), or a function.
        learning_rate: Learning rate of the head (default 1e-3).
        backbone_learning_rate: Learning rate of the encoder when it trains (default 5e-5: pretrained encoders
            forget what they know at the head's rate).
        head: "linear" (default), "mlp", a function ``(num_features, num_classes) -> nn.Module``, or a module.
        loss_fn, metrics, class_weights, label_smoothing, calibrate, decision_threshold: See
            :class:`~flashtrain.tasks.task.ClassificationTask`.
        weight_averaging: None, ``"ema"`` / ``"ema:DECAY"``, ``"swa"`` / ``"swa:SWA_LR"``, or a ``WeightAveraging``
            callback: validate, checkpoint and finish on averaged weights (see
            ``flashtrain.core.callbacks.weight_averaging``).
        tokenizer: Folder or name to read the tokenizer from, if not the backbone's (``load_from_checkpoint``
            passes the tokenizer stored in the checkpoint).
        compile: ``torch.compile`` the encoder when training starts (the first step pays for compiling; dynamic
            padding gives batches of several lengths, which torch.compile handles by recompiling once with a
            dynamic length). Channels-last is for convolutional image backbones only.
    """

    task_name = "text_classification"
    recipe = registry.defaults(task_name)  # the declared defaults below (the CLI reads them without torch)
    default_max_epochs = recipe["max_epochs"]

    def __init__(
        self,
        backbone: str = recipe["backbone"],
        labels: list[Any] | None = None,
        num_classes: int | None = None,
        multi_label: bool = False,
        max_length: int = recipe["max_length"],
        pooling: str = recipe["pooling"],
        pretrained: bool = True,
        optimizer: Any = recipe["optimizer"],
        lr_scheduler: Any = recipe["lr_scheduler"],
        learning_rate: float = recipe["learning_rate"],
        backbone_learning_rate: float = recipe["backbone_learning_rate"],
        backbone_config: dict[str, Any] | None = None,
        head: Any = "linear",
        loss_fn: Any = None,
        metrics: Any = None,
        class_weights: Any = None,
        label_smoothing: float = recipe["label_smoothing"],
        weight_averaging: Any = None,
        calibrate: str | None = None,
        decision_threshold: str | float | None = None,
        tokenizer: str | None = None,
        compile: bool = False,
    ) -> None:
        if not isinstance(max_length, int) or max_length < 1:
            raise ValueError(f"max_length must be a positive int (tokens), got {max_length!r}.")
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
            label_smoothing=label_smoothing,
            weight_averaging=weight_averaging,
            calibrate=calibrate,
            decision_threshold=decision_threshold,
            compile=compile,
        )
        if os.path.isdir(backbone):
            backbone = os.path.abspath(backbone)  # "./my-model" must still be found from another working folder
        config = _config_from_dict(backbone_config) if backbone_config else load_config(backbone)
        self.tokenizer = load_tokenizer(tokenizer or backbone, config)
        self._tokenizer_files: dict[str, torch.Tensor] | None = None
        self.backbone = build_encoder(backbone, pooling, pretrained, config)
        self.head = build_head(head, self.backbone.num_features, len(labels))
        check_head_output(self.head, self.backbone.num_features, len(labels))
        self.max_length = max_length
        self.backbone_learning_rate = backbone_learning_rate
        self.save_task_hyperparameters(
            ignore=["num_classes", "tokenizer"],
            backbone=backbone,
            labels=labels,
            pooling=self.backbone.pooling,  # what "auto" resolved to, so a checkpoint reads the same
            backbone_config=config.to_dict(),  # rebuilds the architecture with no download
        )

    # Examples, not a limit: any Hugging Face encoder name or local model folder is a backbone (Flash listed its
    # registry here); these are the BERT-family sizes Flash's docs and our tests use.
    EXAMPLE_BACKBONES = (
        "prajjwal1/bert-tiny",
        "prajjwal1/bert-mini",
        "prajjwal1/bert-small",
        "prajjwal1/bert-medium",
        "sentence-transformers/all-MiniLM-L6-v2",
        "bert-base-uncased",
        "distilbert-base-uncased",
        "roberta-base",
    )

    @classmethod
    def available_backbones(cls, filter: str | None = None) -> list[str]:
        """Example backbone names containing ``filter``; any Hugging Face encoder (name or folder) works."""
        return [name for name in cls.EXAMPLE_BACKBONES if not filter or filter.lower() in name.lower()]

    @classmethod
    def available_heads(cls) -> list[str]:
        return available_heads()

    def as_embedder(self, layer: str | None = None) -> Any:
        """A :class:`~flashtrain.tasks.text.embedding.TextEmbedder` sharing this model's encoder and tokenizer."""
        from flashtrain.tasks.text.embedding import TextEmbedder

        return TextEmbedder.from_module(self.backbone, self.tokenizer, self.max_length, layer)

    def configure_optimizers(self) -> Any:
        head = [p for p in self.head.parameters() if p.requires_grad]
        encoder = [p for p in self.backbone.parameters() if p.requires_grad]
        groups = [{"params": head, "lr": self.learning_rate}]
        if encoder:
            groups.append({"params": encoder, "lr": self.backbone_learning_rate})
        return self.build_optimizers(groups)

    def on_save_checkpoint(self, checkpoint: dict[str, Any]) -> None:
        super().on_save_checkpoint(checkpoint)
        if self._tokenizer_files is None:  # the tokenizer does not change during a run: pack it once
            self._tokenizer_files = tokenizer_files(self.tokenizer)
        checkpoint[TOKENIZER_FILES] = self._tokenizer_files

    @classmethod
    def hyperparameters_from_checkpoint(
        cls, checkpoint: dict[str, Any], checkpoint_path: str, overrides: dict[str, Any]
    ) -> dict[str, Any]:
        """Rebuilt from a checkpoint: the architecture from the stored config, the weights and the tokenizer from
        the file (older checkpoints without tokenizer files read it from the backbone folder or the local cache);
        nothing is downloaded."""
        check_checkpoint_task(checkpoint, cls.task_name, checkpoint_path)
        rebuilt = {**checkpoint.get("hyper_parameters", {}), "pretrained": False}
        files = checkpoint.get(TOKENIZER_FILES)
        if files and "tokenizer" not in overrides:
            rebuilt["tokenizer"] = unpack_tokenizer_files(files)
        return {**rebuilt, **overrides}


def _config_from_dict(values: dict[str, Any]) -> Any:
    from transformers import AutoConfig

    values = dict(values)
    return AutoConfig.for_model(values.pop("model_type"), **values)
