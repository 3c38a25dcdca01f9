"""``flash-train predict``: predictions from a checkpoint alone; the task is read from the checkpoint."""

from __future__ import annotations

import argparse
import csv
import io
import json
import os
import sys
from typing import Any

from flashtrain.cli.options import UserError

OUTPUTS = ("labels", "probabilities", "logits", "top_k")


def add_parser(subparsers: Any) -> None:
    parser = subparsers.add_parser("predict", help="predict with a trained checkpoint", description=__doc__)
    parser.add_argument("--checkpoint", required=True, help="a .ckpt written by a flash-train run")
    parser.add_argument("--files", nargs="+", help="input files (images for image_classification)")
    parser.add_argument("--output", default="labels", choices=OUTPUTS)
    parser.add_argument("--out", help="write predictions to a .csv or .json file instead of stdout")
    parser.add_argument("--batch-size", type=int, default=32)
    parser.set_defaults(run=run)


def run(args: argparse.Namespace) -> list[Any]:
    from flashtrain.core import Trainer
    from flashtrain.core.checkpoint import load_checkpoint

    task = load_checkpoint(args.checkpoint).get("task")
    if task != "image_classification":
        raise UserError(
            f"{args.checkpoint} was not written by a flash-train task run (task: {task!r}); "
            "predict supports image_classification checkpoints."
        )
    if not args.files:
        raise UserError("predict needs inputs: --files a.png b.png")
    if args.out and not args.out.endswith((".csv", ".json")):
        raise UserError(f"--out {args.out}: use a .csv or .json file name")
    from flashtrain.tasks import ImageClassificationData, ImageClassifier

    model = ImageClassifier.load_from_checkpoint(args.checkpoint)
    data = ImageClassificationData.from_files(predict_files=args.files, batch_size=args.batch_size)
    trainer = Trainer(logger=False, enable_checkpointing=False, enable_progress_bar=False, enable_model_summary=False)
    predictions = trainer.predict(model, datamodule=data, output=args.output)
    write(args.files, predictions, args.out)
    return predictions


def write(inputs: list[str], predictions: list[Any], out: str | None) -> None:
    rows = [{"input": name, "prediction": prediction} for name, prediction in zip(inputs, predictions)]
    if out and out.endswith(".json"):
        with open(out, "w") as handle:
            json.dump(rows, handle, indent=1)
        return
    buffer = io.StringIO() if out is None else None
    with open(out, "w", newline="") if out else buffer as handle:  # type: ignore[union-attr]
        writer = csv.writer(handle)
        writer.writerow(["input", "prediction"])
        for row in rows:
            value = row["prediction"]
            writer.writerow([row["input"], json.dumps(value) if isinstance(value, (list, dict)) else value])
        if buffer is not None:
            sys.stdout.write(buffer.getvalue())
    if out:
        print(f"wrote {len(rows)} predictions to {os.path.abspath(out)}")
