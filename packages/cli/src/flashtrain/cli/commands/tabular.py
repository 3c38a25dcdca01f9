"""``flash-train tabular_classification`` and ``tabular_regression``: train on a table (CSV or Parquet); with no
data flags, on the bundled Palmer penguins table (species from the other columns, or body mass for regression)."""

from __future__ import annotations

import argparse
from typing import Any

from flashtrain.cli.options import UserError, add_trainer_flags, calibration_options, plain
from flashtrain.cli.recipe import model_options, optimization_options, task_default

DEFAULT_VAL_SPLIT = 0.2

# What the bundled sample table trains, per command: (categorical, numerical, target).
SAMPLE_FIELDS = {
    "tabular_classification": (
        ["island", "sex"],
        ["bill_length_mm", "bill_depth_mm", "flipper_length_mm", "body_mass_g"],
        ["species"],
    ),
    "tabular_regression": (
        ["species", "island", "sex"],
        ["bill_length_mm", "bill_depth_mm", "flipper_length_mm"],
        ["body_mass_g"],
    ),
}
EXAMPLES = """examples:
  flash-train {name}                                  # the bundled penguins table, offline
  flash-train {name} --train-file t.csv --categorical-fields sex,embarked --numerical-fields age,fare \\
      --target-field {target}
  flash-train {name} --train-file t.csv --val-file v.csv --numerical-fields x1,x2 --target-field {target} \\
      --backbone ft_transformer
"""
HELP = {
    "tabular_classification": "train a classifier on a table (mlp, resnet, ft_transformer or tabnet)",
    "tabular_regression": "train a regressor on a table (mlp, resnet, ft_transformer or tabnet)",
}


def add_parser(subparsers: Any) -> None:
    for name in SAMPLE_FIELDS:
        _add_task_parser(subparsers, name)


def _add_task_parser(subparsers: Any, name: str) -> None:
    target = "survived" if name == "tabular_classification" else "price"
    parser = subparsers.add_parser(
        name, help=HELP[name], description=plain(__doc__), epilog=EXAMPLES.format(name=name, target=target)
    )
    data = parser.add_argument_group("data (no file given: the bundled Palmer penguins table)")
    data.add_argument("--train-file", help="training table: .csv (with a header row) or .parquet")
    data.add_argument("--val-file", help="validation table with the same columns")
    data.add_argument("--test-file", help="test table with the same columns")
    data.add_argument("--categorical-fields", default="", help="comma-separated category columns, e.g. sex,embarked")
    data.add_argument("--numerical-fields", default="", help="comma-separated number columns, e.g. age,fare")
    target_help = (
        "the column to predict" if name == "tabular_classification" else "column(s) to predict, comma-separated"
    )
    data.add_argument("--target-field", "--target-fields", dest="target_field", default="", help=target_help)
    data.add_argument(
        "--val-split",
        type=float,
        default=None,
        help=f"fraction of the training rows to validate on (default None: {DEFAULT_VAL_SPLIT} without --val-file)",
    )
    model = parser.add_argument_group("model")
    model.add_argument(
        "--backbone", default=task_default(name, "backbone"), help="mlp, resnet, ft_transformer or tabnet"
    )
    add_trainer_flags(parser, name, batch_size=None)  # None: TabularData's default_batch_size of the rows
    parser.set_defaults(run=run, task=name)


def read(path: str, argument: str) -> Any:
    """A table by its extension: .parquet, .json/.jsonl, or CSV."""
    from flashtrain.tasks.data import read_table

    file_format = "parquet" if path.endswith(".parquet") else "json" if path.endswith((".json", ".jsonl")) else "csv"
    return read_table(path, argument, file_format)


def load_data(args: argparse.Namespace) -> Any:
    from flashtrain.tasks import TabularClassificationData, TabularRegressionData
    from flashtrain.tasks.tabular import SAMPLE_TABLE

    data_class = TabularClassificationData if args.task == "tabular_classification" else TabularRegressionData
    fields = [_columns(args.categorical_fields), _columns(args.numerical_fields), _columns(args.target_field)]
    if not any((args.train_file, args.val_file, args.test_file)):
        # The bundled table; columns given (e.g. by a run's config.yaml) pick from it, else the sample's own.
        fields = [given or list(sample) for given, sample in zip(fields, SAMPLE_FIELDS[args.task])]
        table = read(SAMPLE_TABLE, "sample table").dropna(subset=fields[2])  # two penguins were not measured
        frames = {"train_data_frame": table}
    else:
        if not args.train_file:
            raise UserError("--val-file/--test-file need --train-file (preprocessing is fitted on the training table)")
        if not fields[2]:
            raise UserError(f"--target-field is required: the column of {args.train_file} to predict")
        if not fields[0] and not fields[1]:
            raise UserError("give --categorical-fields and/or --numerical-fields: the input columns, comma-separated")
        files = {"train": args.train_file, "val": args.val_file, "test": args.test_file}
        frames = {f"{stage}_data_frame": read(path, f"--{stage}-file") for stage, path in files.items() if path}
    if args.val_split is None and not args.val_file:
        args.val_split = DEFAULT_VAL_SPLIT
        print(f"validating on {DEFAULT_VAL_SPLIT:.0%} of the training rows (--val-split; or pass --val-file)")
    # Recorded in config.yaml as the columns actually used.
    args.categorical_fields, args.numerical_fields, args.target_field = (",".join(part) for part in fields)
    data = data_class.from_data_frame(
        *fields,
        **frames,
        val_split=args.val_split,
        batch_size=args.batch_size,
        num_workers=args.num_workers,
        seed=args.seed,
    )
    args.batch_size = data.batch_size  # recorded in config.yaml as the batch size used
    return data


def _columns(text: str) -> list[str]:
    return [part.strip() for part in text.split(",") if part.strip()]


def run(args: argparse.Namespace) -> dict[str, Any]:
    from flashtrain.cli.training import start, train
    from flashtrain.tasks import TabularClassifier, TabularRegressor

    strategy = start(args.task, args)
    data = load_data(args)
    model_class = TabularClassifier if args.task == "tabular_classification" else TabularRegressor
    if model_class is TabularRegressor and calibration_options(args):
        raise UserError("--calibrate and --decision-threshold apply to classifiers; a regressor has neither")
    model = model_class.from_data(
        data,
        **model_options(args, "backbone"),
        **optimization_options(args),
        metrics=args.metrics.split(",") if args.metrics else None,
        weight_averaging=args.weight_averaging,
        **({"class_weights": args.class_weights} if args.class_weights else {}),
        **(calibration_options(args) if args.task == "tabular_classification" else {}),
    )
    return train(args.task, model, data, args, strategy)
