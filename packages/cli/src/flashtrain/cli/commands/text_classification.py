"""``flash-train text_classification``: fine-tune a Hugging Face encoder (a Hub name or a local model directory)
on a table of texts and labels (.csv, .json, .jsonl or .parquet)."""

from __future__ import annotations

import argparse
import os
from typing import Any

from flashtrain.cli.options import UserError, add_trainer_flags, calibration_options, plain, positive_int
from flashtrain.cli.recipe import given, model_options, optimization_options, task_default

NAME = "text_classification"
EXAMPLES = """examples:
  flash-train text_classification --backbone ./my-model --train-file train.csv --val-file val.csv \\
      --input-field review --target-field sentiment
  flash-train text_classification --backbone prajjwal1/bert-tiny --train-file t.jsonl --val-split 0.2 --max-epochs 2
  flash-train predict --checkpoint runs/text_classification/logs/version_0/checkpoints/best.ckpt --text "Loved it"
"""
FORMATS = {".csv": "csv", ".parquet": "parquet", ".json": "json", ".jsonl": "json"}


def add_parser(subparsers: Any) -> None:
    parser = subparsers.add_parser(
        NAME, help="fine-tune a transformer to classify texts", description=plain(__doc__), epilog=EXAMPLES
    )
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
    data.add_argument("--group-by-length", action="store_true", help="batch texts of similar length (less padding)")
    model = parser.add_argument_group("model")
    model.add_argument(
        "--backbone", default=task_default(NAME, "backbone"), help="Hugging Face model name or local folder"
    )
    model.add_argument(
        "--max-length",
        type=positive_int,
        default=task_default(NAME, "max_length"),
        help="tokens per text; longer texts are truncated",
    )
    model.add_argument(
        "--backbone-learning-rate",
        type=float,
        default=task_default(NAME, "backbone_learning_rate"),
        help="the encoder's learning rate",
    )
    add_trainer_flags(parser, NAME, batch_size=32)  # the data class's default
    parser.set_defaults(run=run, task=NAME)


def file_format(path: str, argument: str) -> str:
    extension = os.path.splitext(path)[1].lower()
    if extension not in FORMATS:
        raise UserError(f"{argument} {path}: use a .csv, .json, .jsonl or .parquet file")
    return FORMATS[extension]


def load_data(args: argparse.Namespace) -> Any:
    from flashtrain.tasks import TextClassificationData
    from flashtrain.tasks.data import read_table

    if not args.train_file:
        if args.val_file or args.test_file:
            raise UserError("--val-file/--test-file need --train-file: a table with a text column and a label column")
        from flashtrain.tasks.text import SAMPLE_TABLE

        # The bundled sample: offline, from scratch, on short movie-review sentences.
        args.train_file, args.input_field, args.target_field = SAMPLE_TABLE, "review", "sentiment"
        args.val_split = args.val_split or 0.2
    files = {"train": args.train_file, "val": args.val_file, "test": args.test_file}
    frames = {
        f"{stage}_data_frame": read_table(path, f"--{stage}-file", file_format(path, f"--{stage}-file"))
        for stage, path in files.items()
        if path
    }
    targets = args.target_field.split(",") if "," in args.target_field else args.target_field
    return TextClassificationData.from_data_frame(
        args.input_field,
        targets,
        **frames,
        target_delimiter=";" if args.multi_label and isinstance(targets, str) else None,
        val_split=args.val_split,
        batch_size=args.batch_size,
        num_workers=args.num_workers,
        seed=args.seed,
        group_by_length=args.group_by_length,
    )


def run(args: argparse.Namespace) -> dict[str, Any]:
    from flashtrain.cli.training import start, train
    from flashtrain.tasks import TextClassifier
    from flashtrain.tasks.text import SAMPLE_BACKBONE, SAMPLE_TABLE

    strategy = start(NAME, args)
    quiet_progress_bars()
    if given(args, "backbone") and os.path.isdir(args.backbone):
        args.backbone = os.path.abspath(args.backbone)  # recorded in config.yaml, valid from any folder
    data = load_data(args)
    sample = args.train_file == SAMPLE_TABLE
    if sample and not given(args, "backbone"):
        args.backbone = SAMPLE_BACKBONE  # no download: a tiny BERT trained from scratch on the sample
    model = TextClassifier(
        pretrained=not (sample and args.backbone == SAMPLE_BACKBONE),
        labels=data.labels,
        multi_label=data.multi_label,
        **model_options(args, "backbone", "max_length", "backbone_learning_rate"),
        **optimization_options(args),
        weight_averaging=args.weight_averaging,
        class_weights=args.class_weights,
        **calibration_options(args),
        metrics=args.metrics.split(",") if args.metrics else None,
    )
    return train(NAME, model, data, args, strategy)


def quiet_progress_bars() -> None:
    """transformers' and datasets' progress bars are for a terminal; in a log file they are lines of noise."""
    import sys

    if sys.stderr.isatty():
        return
    import datasets
    import transformers

    datasets.disable_progress_bars()
    transformers.utils.logging.disable_progress_bar()
