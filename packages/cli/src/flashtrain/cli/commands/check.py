"""``flash-train check``: look at a dataset's splits before training on them: duplicates across train / val /
test (file bytes, near-identical images, normalised text, table rows), the same input with different labels, class
counts, and for tables constant, ID-like and leaky columns. ``--strict`` fails (exit 2) when it finds a problem.

  flash-train check --train-folder data/train --val-folder data/val
  flash-train check --train-file t.csv --val-file v.csv --target-field label
  flash-train check --train-file reviews.csv --text-field review --target-field sentiment
"""

from __future__ import annotations

import os
from typing import Any

from flashtrain.cli.options import RunOptions, UserError

SPLIT_NAMES = ("train", "val", "test")


def add_parser(subparsers: Any) -> None:
    parser = subparsers.add_parser(
        "check", help="check a dataset's splits for leaks and label problems", description=__doc__
    )
    for split in SPLIT_NAMES:
        parser.add_argument(f"--{split}-folder", help=f"{split} images as folder/<class>/<image>")
        parser.add_argument(f"--{split}-file", help=f"{split} table (CSV or Parquet)")
    parser.add_argument("--target-field", help="the label column of the tables")
    parser.add_argument("--text-field", help="the text column (the tables hold texts)")
    parser.add_argument("--strict", action="store_true", help="exit with status 2 when a problem is found")
    parser.set_defaults(run=run)


def _read_table(path: str) -> Any:
    import pandas as pd

    if not os.path.isfile(path):
        raise UserError(f"no such file: {path}")
    return pd.read_parquet(path) if path.endswith(".parquet") else pd.read_csv(path)


def run(args: RunOptions) -> Any:
    from flashtrain.tasks import data_check

    folders = {s: getattr(args, f"{s}_folder") for s in SPLIT_NAMES if getattr(args, f"{s}_folder")}
    files = {s: getattr(args, f"{s}_file") for s in SPLIT_NAMES if getattr(args, f"{s}_file")}
    if bool(folders) == bool(files) or "train" not in {**folders, **files}:
        raise UserError("pass --train-folder (and --val-folder/--test-folder) for images, or --train-file (and "
                        "--val-file/--test-file) with --target-field for tables and texts")  # fmt: skip
    if folders:
        listed: dict[str, Any] = {}
        labels: dict[str, Any] = {}
        for split, folder in folders.items():
            try:
                listed[split], labels[split] = data_check.image_folder_items(folder)
            except FileNotFoundError as error:
                raise UserError(f"--{split}-folder: {error}") from None
        report = data_check.check_images(listed, labels)
    else:
        if not args.target_field:
            raise UserError("tables need --target-field (the label column)")
        frames = {split: _read_table(path) for split, path in files.items()}
        for split, frame in frames.items():
            for column in (args.target_field, args.text_field):
                if column and column not in frame.columns:
                    raise UserError(f"--{split}-file has no column {column!r}; its columns: {list(frame.columns)}")
        if args.text_field:
            texts = {s: f[args.text_field].astype(str).tolist() for s, f in frames.items()}
            report = data_check.check_texts(texts, {s: f[args.target_field].tolist() for s, f in frames.items()})
        else:
            report = data_check.check_tables(frames, args.target_field)
    print(report.summary())
    if args.strict and report.problems:
        raise UserError(f"check --strict: {len(report.problems)} problem(s) found (listed above)")
    return report


def check_before_fit(task: str, args: RunOptions) -> str | None:
    """The short pass before every training run on the data flags it was given (image folders, tables, text
    tables): returns a one-line warning naming the problems found (None if none), which the run prints with its
    summary; ``--strict`` refuses to train on them. Data the flags do not name as files (the bundled samples, image
    CSVs) is not checked here; ``flash-train check`` says more."""
    from flashtrain.tasks import data_check

    splits = [s for s in SPLIT_NAMES if getattr(args, f"{s}_folder", None) or getattr(args, f"{s}_file", None)]
    if "train" not in splits:
        return None
    target = getattr(args, "target_field", None)
    report: data_check.DataReport | None
    from flashtrain.tasks import registry

    inputs = registry.get(task).inputs  # what the task reads: image files, a table, or texts
    if inputs == "files" and getattr(args, "train_folder", None):
        listed, labels = {}, {}
        for split in splits:
            listed[split], labels[split] = data_check.image_folder_items(getattr(args, f"{split}_folder"))
        report = data_check.check_images(listed, labels)
    elif inputs == "table" and target and "," not in target:
        frames = {split: _read_table(getattr(args, f"{split}_file")) for split in splits}
        report = data_check.check_tables(frames, target) if all(target in f for f in frames.values()) else None
    elif inputs == "texts" and target and (getattr(args, "train_file", None) or "").endswith((".csv", ".parquet")):
        frames = {split: _read_table(getattr(args, f"{split}_file")) for split in splits}
        field = args.input_field
        if not all(field in f and target in f for f in frames.values()):
            return None
        texts = {s: f[field].astype(str).tolist() for s, f in frames.items()}
        report = data_check.check_texts(texts, {s: f[target].tolist() for s, f in frames.items()})
    else:
        return None
    if report is None or not report.problems:
        return None
    count = len(report.problems)
    more = f" and {count - 1} more" if count > 1 else ""
    if getattr(args, "strict", False):
        raise UserError(
            f"--strict: the data check found {count} problem(s): {report.problems[0].message}{more}; "
            "`flash-train check` with the same data flags lists them"
        )
    return (
        f"flash-train: data check: {report.problems[0].message}{more}; `flash-train check` with the same data flags "
        "lists them (--strict refuses to train)"
    )
