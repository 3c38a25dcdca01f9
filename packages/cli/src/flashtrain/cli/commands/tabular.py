"""``flash-train tabular_classification`` and ``tabular_regression``: train on a table (CSV or Parquet); with no
data flags, on the bundled Palmer penguins table (species from the other columns, or body mass for regression)."""

from __future__ import annotations

from typing import Any

from flashtrain.cli.backbone import add_backbone_flag
from flashtrain.cli.options import (
    VAL_SPLIT_BY_HELP,
    RunOptions,
    UserError,
    add_trainer_flags,
    calibration_options,
    plain,
)
from flashtrain.cli.recipe import model_options, optimization_options
from flashtrain.tasks import registry

DEFAULT_VAL_SPLIT = 0.2

# What the bundled sample table trains, per kind of task: (categorical, numerical, target).
SAMPLE_FIELDS = {
    "classification": (
        ["island", "sex"],
        ["bill_length_mm", "bill_depth_mm", "flipper_length_mm", "body_mass_g"],
        ["species"],
    ),
    "regression": (
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


def add_parser(subparsers: Any, spec: Any) -> None:
    """The command of ``spec`` (its :class:`~flashtrain.tasks.registry.TaskSpec`): a tabular classification or
    regression task."""
    name, classifies = spec.name, spec.kind == "classification"
    target = "survived" if classifies else "price"
    parser = subparsers.add_parser(
        name, help=spec.help, description=plain(__doc__), epilog=EXAMPLES.format(name=name, target=target)
    )
    data = parser.add_argument_group("data (no file given: the bundled Palmer penguins table)")
    data.add_argument("--train-file", help="training table: .csv (with a header row) or .parquet")
    data.add_argument("--val-file", help="validation table with the same columns")
    data.add_argument("--test-file", help="test table with the same columns")
    data.add_argument("--categorical-fields", default="", help="comma-separated category columns, e.g. sex,embarked")
    data.add_argument("--numerical-fields", default="", help="comma-separated number columns, e.g. age,fare")
    target_help = "the column to predict" if classifies else "column(s) to predict, comma-separated"
    data.add_argument("--target-field", "--target-fields", dest="target_field", default="", help=target_help)
    data.add_argument(
        "--val-split",
        type=float,
        default=None,
        help=f"fraction of the training rows to validate on (default None: {DEFAULT_VAL_SPLIT} without --val-file)",
    )
    data.add_argument("--val-split-by", metavar="COLUMN", help=VAL_SPLIT_BY_HELP)
    model = parser.add_argument_group("model")
    add_backbone_flag(model, name, help="mlp, resnet, ft_transformer or tabnet")
    add_trainer_flags(parser, name, batch_size=None)  # None: TabularData's default_batch_size of the rows
    parser.set_defaults(run=run, task=name)


def read(path: str, argument: str) -> Any:
    """A table by its extension: .parquet, .json/.jsonl, or CSV."""
    from flashtrain.tasks.data import read_table

    file_format = "parquet" if path.endswith(".parquet") else "json" if path.endswith((".json", ".jsonl")) else "csv"
    return read_table(path, argument, file_format)


def load_data(options: RunOptions) -> tuple[Any, RunOptions]:
    """The data the flags name (or the bundled table), and the options with the columns, validation split and
    batch size settled (config.yaml records what was used)."""
    from flashtrain.tasks.tabular import SAMPLE_TABLE

    spec = registry.get(options.task)
    data_class = spec.load("data")
    fields = [_columns(options.categorical_fields), _columns(options.numerical_fields), _columns(options.target_field)]
    if not any((options.train_file, options.val_file, options.test_file)):
        # The bundled table; columns given (e.g. by a run's config.yaml) pick from it, else the sample's own.
        fields = [given or list(sample) for given, sample in zip(fields, SAMPLE_FIELDS[spec.kind])]
        table = read(SAMPLE_TABLE, "sample table").dropna(subset=fields[2])  # two penguins were not measured
        frames = {"train_data_frame": table}
    else:
        if not options.train_file:
            raise UserError("--val-file/--test-file need --train-file (preprocessing is fitted on the training table)")
        if not fields[2]:
            raise UserError(f"--target-field is required: the column of {options.train_file} to predict")
        if not fields[0] and not fields[1]:
            raise UserError("give --categorical-fields and/or --numerical-fields: the input columns, comma-separated")
        files = {"train": options.train_file, "val": options.val_file, "test": options.test_file}
        frames = {f"{stage}_data_frame": read(path, f"--{stage}-file") for stage, path in files.items() if path}
    if options.val_split is None and not options.val_file:
        options = options.replace(val_split=DEFAULT_VAL_SPLIT)
        print(f"validating on {DEFAULT_VAL_SPLIT:.0%} of the training rows (--val-split; or pass --val-file)")
    categorical, numerical, target = (",".join(part) for part in fields)
    options = options.replace(categorical_fields=categorical, numerical_fields=numerical, target_field=target)
    data = data_class.from_data_frame(
        *fields,
        **frames,
        val_split=options.val_split,
        val_split_by=options.val_split_by,
        batch_size=options.batch_size,
        num_workers=options.num_workers,
        seed=options.seed,
    )
    if options.batch_size is None:  # the choice the data class made, said (config.yaml records it too)
        train = data.datasets.get("train")
        rows = len(train) if train is not None else 0
        print(f"batch size {data.batch_size}, sized for {rows} training rows (--batch-size sets it)")
    return data, options.replace(batch_size=data.batch_size)  # the batch size used


def _columns(text: str) -> list[str]:
    return [part.strip() for part in text.split(",") if part.strip()]


def run(options: RunOptions) -> dict[str, Any]:
    from flashtrain.cli.training import start, train

    options, strategy = start(options)
    data, options = load_data(options)
    classifier = registry.get(options.task).kind == "classification"
    if not classifier and calibration_options(options):
        raise UserError("--calibrate and --decision-threshold apply to classifiers; a regressor has neither")
    model = (
        registry.get(options.task)
        .load("model")
        .from_data(
            data,
            **model_options(options, "backbone"),
            **optimization_options(options),
            metrics=options.metrics.split(",") if options.metrics else None,
            weight_averaging=options.weight_averaging,
            compile=options.compile,
            **({"class_weights": options.class_weights} if options.class_weights else {}),
            **(calibration_options(options) if classifier else {}),
        )
    )
    return train(model, data, options, strategy)
