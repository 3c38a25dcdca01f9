"""``flash-train predict``: predictions from a checkpoint alone; the task is read from the checkpoint.

Images: ``--files a.png b.png``. Tables: ``--file new.csv`` (the input rows come back with prediction columns).
Texts: ``--text "..."`` (repeatable), ``--file texts.txt`` (one per line), or ``--file t.csv`` (``--input-field``).
"""

from __future__ import annotations

import argparse
import json
import os
import sys
from typing import Any

from flashtrain.cli.options import UserError, plain, positive_int

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


def run(args: argparse.Namespace) -> list[Any]:
    if args.out:
        check_out(args.out)
    from flashtrain.tasks.pretrained import is_pretrained_reference, stored_task

    if is_pretrained_reference(args.checkpoint):  # a save_pretrained folder or hf://user/name
        task = stored_task(args.checkpoint)
    else:
        from flashtrain.core.checkpoint import load_checkpoint

        task = load_checkpoint(args.checkpoint).get("task")
    predictor = PREDICTORS.get(task) if isinstance(task, str) else None
    if not isinstance(task, str) or predictor is None:
        raise UserError(
            f"{args.checkpoint} was not written by a flash-train task run (task: {task!r}); "
            f"predict supports {', '.join(PREDICTORS)} checkpoints."
        )
    return predictor(args, task)


def check_out(out: str) -> None:
    """Before any work: ``--out`` must be a file name of a known format in a folder that exists."""
    if os.path.isdir(out):
        raise UserError(f"--out {out} is a folder; pass a file name, e.g. {os.path.join(out, 'predictions.csv')}")
    if not out.endswith(OUT_FORMATS):
        raise UserError(f"--out {out}: use a file name ending in {', '.join(OUT_FORMATS)}")
    folder = os.path.dirname(os.path.abspath(out))
    if not os.path.isdir(folder):
        raise UserError(f"--out {out}: the folder {folder} does not exist; create it first or write elsewhere")


def load_model(model_class: Any, checkpoint: str) -> Any:
    """The model of a checkpoint file, a save_pretrained folder or ``hf://user/name``."""
    from flashtrain.tasks.pretrained import is_pretrained_reference

    if is_pretrained_reference(checkpoint):
        return model_class.from_pretrained(checkpoint)
    return model_class.load_from_checkpoint(checkpoint)


def _trainer() -> Any:
    from flashtrain.core import Trainer

    return Trainer(logger=False, enable_checkpointing=False, enable_progress_bar=False, enable_model_summary=False)


def predict_images(args: argparse.Namespace, task: str) -> list[Any]:
    import pandas as pd

    from flashtrain.tasks import ImageClassificationData, ImageClassifier

    if not args.files:
        raise UserError("predict needs inputs for an image_classification checkpoint: --files a.png b.png")
    model = load_model(ImageClassifier, args.checkpoint)
    data = ImageClassificationData.from_files(predict_files=args.files, batch_size=args.batch_size)
    predictions = _trainer().predict(model, datamodule=data, output=args.output or "labels")
    write_table(pd.DataFrame({"input": args.files, "prediction": predictions}), args.out)
    return predictions


def predict_table(args: argparse.Namespace, task: str) -> list[Any]:
    from flashtrain.cli.commands.tabular import read
    from flashtrain.tasks import TabularClassificationData, TabularClassifier, TabularRegressionData, TabularRegressor

    if not args.file:
        raise UserError(
            f"predict needs inputs for a {task} checkpoint: --file new.csv (a table with its input columns)"
        )
    classifier = task == "tabular_classification"
    model = load_model(TabularClassifier if classifier else TabularRegressor, args.checkpoint)
    frame = read(args.file, "--file")
    data_class = TabularClassificationData if classifier else TabularRegressionData
    data = data_class.from_data_frame(
        predict_data_frame=frame, parameters=model.hparams["parameters"], batch_size=args.batch_size
    )
    output = args.output or ("labels" if classifier else "values")
    predictions = _trainer().predict(model, datamodule=data, output=output)
    table = frame.copy()
    names = model.labels if classifier else model.target_names
    for column, values in prediction_columns(predictions, output, names).items():
        table[column] = values
    write_table(table, args.out)
    return predictions


def prediction_columns(predictions: list[Any], output: str, names: list[Any]) -> dict[str, list[Any]]:
    """``prediction`` for one value per row; one column per class (``probability_<label>``, ``logit_<label>``)
    or per regression target (``prediction_<target>``) when a row has several."""
    prefix = {"probabilities": "probability", "logits": "logit", "values": "prediction"}.get(output)
    if prefix is None or not predictions or not isinstance(predictions[0], list):
        return {"prediction": predictions}
    return {f"{prefix}_{name}": [row[i] for row in predictions] for i, name in enumerate(names)}


def write_table(table: Any, out: str | None) -> None:
    """CSV to stdout, or a .csv / .json (records) / .parquet file. Lists in CSV cells are written as JSON."""
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
    if out:
        print(f"wrote {len(table)} predictions to {os.path.abspath(out)}")


def predict_texts(args: argparse.Namespace, task: str) -> list[Any]:
    import pandas as pd

    from flashtrain.tasks import TextClassificationData, TextClassifier

    if bool(args.text) == bool(args.file):
        raise UserError('predict needs inputs for a text_classification checkpoint: --text "..." or --file texts.txt')
    if args.text:
        table, column = pd.DataFrame({"input": args.text}), "input"
    elif args.file.endswith(".txt"):
        with open(args.file, encoding="utf-8") as handle:
            lines = [line.rstrip("\n") for line in handle if line.strip()]
        table, column = pd.DataFrame({"input": lines}), "input"
    else:
        from flashtrain.cli.commands.tabular import read

        table, column = read(args.file, "--file"), args.input_field
    model = load_model(TextClassifier, args.checkpoint)
    data = TextClassificationData.from_data_frame(column, predict_data_frame=table, batch_size=args.batch_size)
    output = args.output or "labels"
    predictions = _trainer().predict(model, datamodule=data, output=output)
    for name, values in prediction_columns(predictions, output, model.labels).items():
        table[name] = values
    write_table(table, args.out)
    return predictions


PREDICTORS = {
    "text_classification": predict_texts,
    "image_classification": predict_images,
    "tabular_classification": predict_table,
    "tabular_regression": predict_table,
}
