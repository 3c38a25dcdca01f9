"""``flash-train text_classification``: fine-tune a Hugging Face encoder (a Hub name or a local model directory)
on a table of texts and labels (.csv, .json, .jsonl or .parquet)."""

from __future__ import annotations

import argparse
import os
from typing import Any

from flashtrain.cli.options import UserError, add_trainer_flags, parse_finetune_strategy

NAME = "text_classification"
FORMATS = {".csv": "csv", ".parquet": "parquet", ".json": "json", ".jsonl": "json"}


def add_parser(subparsers: Any) -> None:
    parser = subparsers.add_parser(NAME, help="fine-tune a transformer to classify texts", description=__doc__)
    data = parser.add_argument_group("data")
    data.add_argument("--train-file", help="table of texts and labels: .csv, .json, .jsonl or .parquet")
    data.add_argument("--val-file")
    data.add_argument("--test-file")
    data.add_argument("--input-field", default="text", help="column with the texts (default: text)")
    data.add_argument(
        "--target-field", default="label", help="label column; several comma-separated 0/1 columns for multi-label"
    )
    data.add_argument("--multi-label", action="store_true", help="';'-separated labels in one column")
    data.add_argument("--val-split", type=float, default=None, help="fraction of the training rows to validate on")
    data.add_argument("--group-by-length", action="store_true", help="batch texts of similar length (less padding)")
    model = parser.add_argument_group("model")
    model.add_argument("--backbone", default="prajjwal1/bert-tiny", help="Hugging Face model name or local folder")
    model.add_argument("--max-length", type=int, default=128, help="tokens per text; longer texts are truncated")
    model.add_argument("--backbone-learning-rate", type=float, default=5e-5, help="the encoder's learning rate")
    add_trainer_flags(parser, max_epochs=3)
    parser.set_defaults(run=run)


def file_format(path: str, argument: str) -> str:
    extension = os.path.splitext(path)[1].lower()
    if extension not in FORMATS:
        raise UserError(f"{argument} {path}: use a .csv, .json, .jsonl or .parquet file")
    return FORMATS[extension]


def load_data(args: argparse.Namespace) -> Any:
    from flashtrain.tasks import TextClassificationData
    from flashtrain.tasks.data import read_table

    if not args.train_file:
        raise UserError("--train-file is required: a table with a text column and a label column")
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
    from flashtrain.cli.training import train
    from flashtrain.tasks import TextClassifier

    data = load_data(args)
    model = TextClassifier(
        backbone=args.backbone,
        labels=data.labels,
        multi_label=data.multi_label,
        max_length=args.max_length,
        optimizer=args.optimizer,
        lr_scheduler=None if args.lr_scheduler == "none" else args.lr_scheduler,
        learning_rate=args.learning_rate,
        weight_averaging=args.weight_averaging,
        backbone_learning_rate=args.backbone_learning_rate,
    )
    output_dir = args.output_dir or os.path.join("runs", NAME)
    return train(NAME, model, data, args, output_dir, parse_finetune_strategy(args.finetune_strategy))
