"""``flash-train text_classification``: fine-tune a Hugging Face encoder (a Hub name or a local model directory)
on a table of texts and labels (.csv, .json, .jsonl or .parquet)."""

from __future__ import annotations

import os
from typing import Any

from flashtrain.cli.backbone import add_backbone_flag
from flashtrain.cli.options import (
    VAL_SPLIT_BY_HELP,
    RunOptions,
    UserError,
    add_trainer_flags,
    calibration_options,
    plain,
    positive_int,
)
from flashtrain.cli.recipe import model_options, optimization_options, task_default

EXAMPLES = """examples:
  flash-train {name} --backbone ./my-model --train-file train.csv --val-file val.csv \\
      --input-field review --target-field sentiment
  flash-train {name} --backbone prajjwal1/bert-tiny --train-file t.jsonl --val-split 0.2 --max-epochs 2
  flash-train predict --checkpoint runs/{name}/logs/version_0/checkpoints/best.ckpt --text "Loved it"
"""
FORMATS = {".csv": "csv", ".parquet": "parquet", ".json": "json", ".jsonl": "json"}
POOLINGS = ("auto", "cls", "mean", "last")  # TextClassifier's (the CLI must not import torch to list them)


def add_parser(subparsers: Any, spec: Any) -> None:
    """The command of ``spec`` (its :class:`~flashtrain.tasks.registry.TaskSpec`)."""
    name = spec.name
    parser = subparsers.add_parser(name, help=spec.help, description=plain(__doc__), epilog=EXAMPLES.format(name=name))
    data = parser.add_argument_group("data (none given: the bundled movie-review sentences, offline)")
    data.add_argument("--train-file", help="table of texts and labels: .csv, .json, .jsonl or .parquet")
    data.add_argument("--val-file", help="validation table with the same columns")
    data.add_argument("--test-file", help="test table with the same columns")
    data.add_argument("--input-field", default="text", help="column with the texts")
    data.add_argument(
        "--target-field", default="label", help="label column; several comma-separated 0/1 columns for multi-label"
    )
    data.add_argument("--multi-label", action="store_true", help="';'-separated labels in one column")
    data.add_argument("--val-split", type=float, default=None, help="fraction of the training rows to validate on")
    data.add_argument("--val-split-by", metavar="COLUMN", help=VAL_SPLIT_BY_HELP)
    data.add_argument("--group-by-length", action="store_true", help="batch texts of similar length (less padding)")
    model = parser.add_argument_group("model")
    add_backbone_flag(model, name, help="Hugging Face model name or local folder")
    model.add_argument(
        "--max-length",
        type=positive_int,
        default=task_default(name, "max_length"),
        help="tokens per text; longer texts are truncated",
    )
    model.add_argument(
        "--backbone-learning-rate",
        type=float,
        default=task_default(name, "backbone_learning_rate"),
        help="the encoder's learning rate",
    )
    model.add_argument(
        "--pooling",
        choices=POOLINGS,
        default=task_default(name, "pooling"),
        help="token states to one vector: auto (what the model family expects), cls, mean or last",
    )
    model.add_argument(
        "--label-smoothing", type=float, default=task_default(name, "label_smoothing"), help="cross-entropy smoothing"
    )
    add_trainer_flags(parser, name, batch_size=spec.defaults["batch_size"])  # the data class's default
    parser.set_defaults(run=run, task=name)


def file_format(path: str, argument: str) -> str:
    extension = os.path.splitext(path)[1].lower()
    if extension not in FORMATS:
        raise UserError(f"{argument} {path}: use a .csv, .json, .jsonl or .parquet file")
    return FORMATS[extension]


def load_data(options: RunOptions) -> tuple[Any, RunOptions]:
    """The data the flags name (or the bundled sample), and the options with the sample's settled."""
    from flashtrain.tasks import TextClassificationData
    from flashtrain.tasks.data import read_table

    if not options.train_file:
        if options.val_file or options.test_file:
            raise UserError("--val-file/--test-file need --train-file: a table with a text column and a label column")
        from flashtrain.tasks.text import SAMPLE_TABLE

        # The bundled sample: offline, from scratch, on short movie-review sentences.
        options = options.replace(
            train_file=SAMPLE_TABLE, input_field="review", target_field="sentiment", val_split=options.val_split or 0.2
        )
    files = {"train": options.train_file, "val": options.val_file, "test": options.test_file}
    frames = {
        f"{stage}_data_frame": read_table(path, f"--{stage}-file", file_format(path, f"--{stage}-file"))
        for stage, path in files.items()
        if path
    }
    targets = options.target_field.split(",") if "," in options.target_field else options.target_field
    data = TextClassificationData.from_data_frame(
        options.input_field,
        targets,
        **frames,
        target_delimiter=";" if options.multi_label and isinstance(targets, str) else None,
        val_split=options.val_split,
        val_split_by=options.val_split_by,
        batch_size=options.batch_size,
        num_workers=options.num_workers,
        seed=options.seed,
        group_by_length=options.group_by_length,
    )
    return data, options


def run(options: RunOptions) -> dict[str, Any]:
    from flashtrain.cli.backbone import settle_backbone
    from flashtrain.cli.training import start, train
    from flashtrain.tasks import TextClassifier
    from flashtrain.tasks.text import SAMPLE_BACKBONE, SAMPLE_TABLE

    options, strategy = start(options)
    quiet_progress_bars()
    data, options = load_data(options)
    sample = options.train_file == SAMPLE_TABLE
    # On the sample, no download: a tiny BERT trained from scratch.
    options = settle_backbone(options, SAMPLE_BACKBONE if sample else None)
    model = TextClassifier(
        pretrained=not (sample and options.backbone == SAMPLE_BACKBONE),
        labels=data.labels,
        multi_label=data.multi_label,
        **model_options(options, "backbone", "max_length", "backbone_learning_rate", "pooling", "label_smoothing"),
        **optimization_options(options),
        weight_averaging=options.weight_averaging,
        compile=options.compile,
        class_weights=options.class_weights,
        **calibration_options(options),
        metrics=options.metrics.split(",") if options.metrics else None,
    )
    options = options.replace(pooling=model.backbone.pooling)  # what "auto" resolved to: config.yaml records it
    print(f"recipe: {describe_recipe(model)}")
    return train(model, data, options, strategy)


def describe_recipe(model: Any) -> str:
    """The text recipe the run trains, in words (the run summary's line; config.yaml records the same values)."""
    optimizer, scheduler = model.optimizer_choice, model.scheduler_choice
    decay = optimizer.argument("weight_decay")
    return (
        f"{model.backbone.pooling} pooling, max_length {model.max_length}, "
        f"{optimizer.name or 'custom optimizer'}{f' (weight decay {decay:g})' if decay is not None else ''}, "
        f"encoder lr {model.backbone_learning_rate:g}, head lr {model.learning_rate:g}, "
        f"schedule {'none' if scheduler is None else scheduler.name or 'custom'}, "
        f"label smoothing {model.hparams.get('label_smoothing', 0.0):g}"
    )


def quiet_progress_bars() -> None:
    """transformers' and datasets' progress bars are for a terminal; in a log file they are lines of noise."""
    import sys

    if sys.stderr.isatty():
        return
    import datasets
    import transformers

    datasets.disable_progress_bars()
    transformers.utils.logging.disable_progress_bar()
