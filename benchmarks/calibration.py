"""Calibration and decision thresholds, measured on data held out from both training and the calibration split.

    python benchmarks/calibration.py digits [--epochs 10] [--backbone resnet18]   (the image task's defaults)
    python benchmarks/calibration.py imbalanced [--epochs 20] [--rows 6000]

digits: an ImageClassifier from scratch (pretrained=False) on scikit-learn's digits (the bundled sample's images) at
32 px, with ``calibrate="temperature"``: 60% train, 20% validation (the temperature is fitted there), 20% held out.
Reports the held-out expected calibration error (15 bins) without and with the temperature, and the held-out
accuracy of both (the temperature cannot change an argmax; measured anyway).

imbalanced: a generated table with 5% positives (three informative numbers, two noise numbers, a category; the cut is
the signal's 95% quantile, so each split of 6,000 rows holds 5% up to sampling, about +-0.3 points),
TabularClassifier with ``decision_threshold="f1"`` and ``calibrate="temperature"``: train / validation (threshold
tuned there) / a separate test split. Reports test F1 of the positive class at the tuned threshold and at 0.5, and
checks that ``Predictor.predict`` (what ``serve`` answers), ``Trainer.predict`` (what ``flash-train predict``
writes), the HTTP server and the ONNX export (onnxruntime, raw rows in) give identical labels on the test rows.
"""

from __future__ import annotations

import argparse
import json
import os
import tempfile
from statistics import NormalDist

import numpy as np
import torch

from flashtrain.tasks import registry

POSITIVE_SHARE = 0.05


def quiet_trainer(epochs: int, folder: str):
    from flashtrain.core import Trainer

    return Trainer(
        max_epochs=epochs, logger=False, enable_progress_bar=False, enable_model_summary=False, default_root_dir=folder
    )


def digits(args: argparse.Namespace) -> dict:
    from sklearn.datasets import load_digits
    from sklearn.model_selection import train_test_split

    from flashtrain.core import seed_everything
    from flashtrain.tasks import ImageClassificationData, ImageClassifier
    from flashtrain.tasks.calibration import expected_calibration_error

    seed_everything(args.seed)
    bunch = load_digits()
    images = (bunch.images * 16).clip(0, 255).astype(np.uint8)
    x_train, x_rest, y_train, y_rest = train_test_split(
        images, bunch.target, test_size=0.4, random_state=args.seed, stratify=bunch.target
    )
    x_val, x_test, y_val, y_test = train_test_split(
        x_rest, y_rest, test_size=0.5, random_state=args.seed, stratify=y_rest
    )
    data = ImageClassificationData.from_numpy(
        train_data=x_train, train_targets=y_train, val_data=x_val, val_targets=y_val, test_data=x_test,
        test_targets=y_test, predict_data=x_test, image_size=32, batch_size=64,
    )  # fmt: skip
    model = ImageClassifier(args.backbone, labels=data.labels, pretrained=False, calibrate="temperature")
    with tempfile.TemporaryDirectory() as folder:
        trainer = quiet_trainer(args.epochs, folder)
        trainer.fit(model, datamodule=data)
        logits = torch.tensor(trainer.predict(model, datamodule=data, output="logits"))
    targets = torch.tensor([data.labels.index(t) for t in y_test])
    temperature = float(model.calibration.temperature)
    before = expected_calibration_error(logits, targets, False)
    after = expected_calibration_error(logits / temperature, targets, False)
    accuracy_before = float((logits.argmax(1) == targets).float().mean())
    accuracy_after = float(((logits / temperature).argmax(1) == targets).float().mean())
    return {
        "setting": f"digits from scratch, {args.backbone}, {args.epochs} epochs, 32 px, held-out {len(targets)} images",
        "temperature": round(temperature, 4),
        "validation": model.calibration.summary(),
        "held_out_ece_before": round(before, 4),
        "held_out_ece_after": round(after, 4),
        "ece_reduction": round(1 - after / before, 3),
        "held_out_accuracy_before": round(accuracy_before, 4),
        "held_out_accuracy_after": round(accuracy_after, 4),
    }


def rare_table(rows: int, seed: int):
    import pandas as pd

    rng = np.random.default_rng(seed)
    x = rng.normal(size=(rows, 5))
    weights, noise = np.array([1.2, 0.8, -0.6]), 1.0
    signal = x[:, :3] @ weights + rng.normal(0, noise, rows)
    # The signal is normal with a known spread, so the cut is its 95% quantile: 5% positives in expectation in
    # every split (the same cut for all splits; a per-split sample quantile would move the boundary between them).
    spread = float(np.sqrt(weights @ weights + noise**2))
    positive = signal > NormalDist().inv_cdf(1 - POSITIVE_SHARE) * spread
    frame = pd.DataFrame(x, columns=[f"x{i}" for i in range(5)])
    frame["group"] = rng.choice(["a", "b", "c"], rows)
    frame["target"] = np.where(positive, "positive", "negative")
    return frame


def imbalanced(args: argparse.Namespace) -> dict:
    import onnxruntime
    from fastapi.testclient import TestClient
    from sklearn.metrics import f1_score

    from flashtrain.core import seed_everything
    from flashtrain.tasks import TabularClassificationData, TabularClassifier
    from flashtrain.tasks.export import export
    from flashtrain.tasks.export_preprocessing import tabular_feed
    from flashtrain.tasks.inference import predictor_for
    from flashtrain.tasks.serve import create_app

    seed_everything(args.seed)
    train, val, test = (rare_table(args.rows, args.seed + i) for i in range(3))
    numbers = [f"x{i}" for i in range(5)]
    data = TabularClassificationData.from_data_frame(
        ["group"], numbers, "target", train_data_frame=train, val_data_frame=val, batch_size=256
    )
    model = TabularClassifier.from_data(data, decision_threshold="f1", calibrate="temperature")
    with tempfile.TemporaryDirectory() as folder:
        trainer = quiet_trainer(args.epochs, folder)
        trainer.fit(model, datamodule=data)
        checkpoint = os.path.join(folder, "model.ckpt")
        trainer.save_checkpoint(checkpoint)
        predictor = predictor_for(checkpoint)
        rows = test.drop(columns="target").to_dict("records")
        probabilities = np.array(predictor.predict(rows, "probabilities"))[:, 1]
        served = predictor.predict(rows, "labels")
        predict_data = TabularClassificationData.from_data_frame(
            predict_data_frame=test.drop(columns="target"), parameters=model.hparams["parameters"], batch_size=256
        )
        written = quiet_trainer(1, folder).predict(predictor.model, datamodule=predict_data, output="labels")
        with TestClient(create_app(predictor.model)) as client:
            answer = client.post("/predict", json={"inputs": rows[:200]})
            http = answer.json()["predictions"]
        exported = export(checkpoint, os.path.join(folder, "onnx"))
        session = onnxruntime.InferenceSession(exported.model_file, providers=["CPUExecutionProvider"])
        (onnx_labels,) = session.run(["label"], tabular_feed(predictor.preprocessing, rows))
    threshold = float(model.calibration.thresholds[0])
    truth = (test["target"] == "positive").to_numpy()
    f1_tuned = f1_score(truth, probabilities >= threshold)
    f1_half = f1_score(truth, probabilities >= 0.5)
    return {
        "setting": f"{args.rows} rows per split, {args.epochs} epochs",
        "positives_train_val_test": [
            round(float((split["target"] == "positive").mean()), 4) for split in (train, val, test)
        ],
        "validation": model.calibration.summary(),
        "threshold": round(threshold, 4),
        "test_f1_at_threshold": round(float(f1_tuned), 4),
        "test_f1_at_0.5": round(float(f1_half), 4),
        "f1_gain": round(float(f1_tuned - f1_half), 4),
        "labels_identical_predictor_trainer_onnx": served == written == onnx_labels.tolist(),
        "labels_identical_http_first_200": http == served[:200],
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("which", choices=["digits", "imbalanced"])
    parser.add_argument("--epochs", type=int, default=None)
    parser.add_argument("--backbone", default=None, help="digits: the image task's default backbone unless given")
    parser.add_argument("--rows", type=int, default=6000)
    parser.add_argument("--seed", type=int, default=0)
    args = parser.parse_args()
    image_defaults = registry.defaults("image_classification")  # what `flash-train image_classification` trains
    if args.epochs is None:
        args.epochs = image_defaults["max_epochs"] if args.which == "digits" else 20
    if args.backbone is None:
        args.backbone = image_defaults["backbone"]
    result = digits(args) if args.which == "digits" else imbalanced(args)
    print(json.dumps(result, indent=1))


if __name__ == "__main__":
    main()
