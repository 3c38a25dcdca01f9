"""``flash-train predict``: predictions from a checkpoint alone; the task is read from the checkpoint.

Images: ``--files a.png b.png``. Tables: ``--file new.csv`` (the input rows come back with prediction columns).
Texts: ``--text "..."`` (repeatable), ``--file texts.txt`` (one per line), or ``--file t.csv`` (``--input-field``).
"""

from __future__ import annotations

import json
import os
import sys
from typing import Any

from flashtrain.cli.options import RunOptions, UserError, plain, positive_int
from flashtrain.tasks import registry

OUTPUTS = ("labels", "probabilities", "logits", "top_k", "values")
OUT_FORMATS = (".csv", ".json", ".parquet")
EXAMPLES = """examples:
  flash-train predict --checkpoint runs/image_classification/logs/version_0/checkpoints/best.ckpt --files a.png b.png
  flash-train predict --checkpoint best.ckpt --file new.csv --out predictions.csv
  flash-train predict --checkpoint best.ckpt --text "Loved it" --text "Dull" --output probabilities
"""


def add_parser(subparsers: Any) -> None:
    parser = subparsers.add_parser(
        "predict", help="predict with a trained checkpoint", description=plain(__doc__), epilog=EXAMPLES
    )
    parser.add_argument("--checkpoint", required=True, help="a .ckpt written by a flash-train run")
    parser.add_argument("--files", nargs="+", help="input files (images for image_classification)")
    parser.add_argument("--file", help="a table (.csv, .parquet, .json); for text also .txt, one text per line")
    parser.add_argument("--text", action="append", help="a text to classify (repeat for several)")
    parser.add_argument("--input-field", default="text", help="the text column of a --file table")
    parser.add_argument(
        "--output",
        default=None,
        choices=OUTPUTS,
        help="labels (classifiers' default), probabilities, logits, top_k; values for regressors",
    )
    parser.add_argument("--out", help="write predictions to a .csv, .json or .parquet file instead of stdout")
    parser.add_argument("--batch-size", type=positive_int, default=32, help="inputs per batch")
    parser.set_defaults(run=run)


def run(args: RunOptions) -> list[Any]:
    """Predictions through the task's :class:`~flashtrain.tasks.inference.Predictor`, the route ``serve`` and
    ``export`` take too: an input is prepared by the same function whichever way it comes."""
    if args.out:
        check_out(args.out)
    from flashtrain.tasks.inference import predictor_for, read_task_checkpoint

    stored = read_task_checkpoint(args.checkpoint)  # the one read: the task first, its model below
    spec = stored.spec
    if spec is None:
        raise UserError(
            f"{args.checkpoint} was not written by a flash-train task run (task: {stored.task!r}); "
            f"predict supports {', '.join(registry.names())} checkpoints."
        )
    table, inputs, where = READERS[spec.inputs](args, spec)
    predictor = predictor_for(stored.model())
    output = args.output or predictor.default_output
    size = args.batch_size
    predictions = [
        prediction
        for start in range(0, len(inputs), size)
        for prediction in predictor.predict(inputs[start : start + size], output, where)
    ]
    # Files: one prediction column (probabilities as a list per file); tables: one column per class or target.
    spread = spec.inputs != "files"
    names = predictor.describe()["labels"]
    columns = prediction_columns(predictions, output, names) if spread else {"prediction": predictions}
    for column, values in columns.items():
        table[column] = values
    write_table(table, args.out)
    return predictions


def check_out(out: str) -> None:
    """Before any work: ``--out`` must be a file name of a known format in a folder that exists."""
    if os.path.isdir(out):
        raise UserError(f"--out {out} is a folder; pass a file name, e.g. {os.path.join(out, 'predictions.csv')}")
    if not out.endswith(OUT_FORMATS):
        raise UserError(f"--out {out}: use a file name ending in {', '.join(OUT_FORMATS)}")
    folder = os.path.dirname(os.path.abspath(out))
    if not os.path.isdir(folder):
        raise UserError(f"--out {out}: the folder {folder} does not exist; create it first or write elsewhere")


def read_files(args: RunOptions, spec: Any) -> tuple[Any, list[Any], str]:
    """``--files``: (the table written back, the inputs, what they are called in messages)."""
    import pandas as pd

    if not args.files:
        raise UserError(f"predict needs inputs for an {spec.name} checkpoint: --files a.png b.png")
    missing = [path for path in args.files if not os.path.isfile(path)]
    if missing:
        raise UserError(f"--files: no such file(s) {missing[:5]}")
    return pd.DataFrame({"input": args.files}), list(args.files), "--files"


def read_table_rows(args: RunOptions, spec: Any) -> tuple[Any, list[Any], str]:
    """``--file`` (a table): the input rows come back with prediction columns."""
    from flashtrain.cli.commands.tabular import read

    if not args.file:
        raise UserError(
            f"predict needs inputs for a {spec.name} checkpoint: --file new.csv (a table with its input columns)"
        )
    frame = read(args.file, "--file")
    return frame.copy(), frame.to_dict("records"), f"--file {args.file}"


def prediction_columns(predictions: list[Any], output: str, names: list[Any]) -> dict[str, list[Any]]:
    """``prediction`` for one value per row; one column per class (``probability_<label>``, ``logit_<label>``)
    or per regression target (``prediction_<target>``) when a row has several."""
    prefix = {"probabilities": "probability", "logits": "logit", "values": "prediction"}.get(output)
    if prefix is None or not predictions or not isinstance(predictions[0], list):
        return {"prediction": predictions}
    return {f"{prefix}_{name}": [row[i] for row in predictions] for i, name in enumerate(names)}


def write_table(table: Any, out: str | None) -> None:
    """CSV to stdout, or a .csv / .json (records) / .parquet file. Lists in CSV cells are written as JSON."""
    from flashtrain.core.utilities.disk import writing

    with writing(out or "<stdout>"):
        _write_table(table, out)
    if out:
        print(f"wrote {len(table)} predictions to {os.path.abspath(out)}")


def _write_table(table: Any, out: str | None) -> None:
    if out and out.endswith(".json"):
        table.to_json(out, orient="records", indent=1)
    elif out and out.endswith(".parquet"):
        table.to_parquet(out, index=False)
    else:
        as_text = table.copy()
        for column in as_text.columns:
            if as_text[column].map(lambda value: isinstance(value, (list, tuple, dict))).any():
                as_text[column] = as_text[column].map(json.dumps)
        as_text.to_csv(out if out else sys.stdout, index=False)


def read_texts(args: RunOptions, spec: Any) -> tuple[Any, list[Any], str]:
    """``--text`` (repeatable), ``--file texts.txt`` (one per line) or ``--file t.csv`` (``--input-field``)."""
    import pandas as pd

    if bool(args.text) == bool(args.file):
        raise UserError(f'predict needs inputs for a {spec.name} checkpoint: --text "..." or --file texts.txt')
    if args.text:
        table, column = pd.DataFrame({"input": args.text}), "input"
    elif args.file.endswith(".txt"):
        with open(args.file, encoding="utf-8") as handle:
            lines = [line.rstrip("\n") for line in handle if line.strip()]
        table, column = pd.DataFrame({"input": lines}), "input"
    else:
        from flashtrain.cli.commands.tabular import read

        table, column = read(args.file, "--file"), args.input_field
        if column not in table.columns:
            raise UserError(
                f"--file {args.file} has no column {column!r} (--input-field); its columns are {list(table.columns)}"
            )
    return table, table[column].tolist(), "--text" if args.text else f"--file {args.file}"


# How `flash-train predict` reads a task's inputs, by the task's declared kind of input (TaskSpec.inputs).
READERS = {"files": read_files, "table": read_table_rows, "texts": read_texts}
