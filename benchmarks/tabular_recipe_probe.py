"""Exploring cheaper tabular recipes against HistGradientBoosting: accuracy (or RMSE), the ensemble with HGB, and
CPU seconds of fit + predict per split, for named settings given as JSON (batch size, epochs, learning rate and
schedule, backbone and its sizes), on the tables of tabular_vs_sklearn.py (same loaders, splits and HGB).

    OMP_NUM_THREADS=1 nice python benchmarks/tabular_recipe_probe.py --tables iris mixed --splits 3 \\
        --configs '{"h64": {"batch_size": 256, "lr": 3e-3, "sched": "cosine", "kwargs": {"hidden_size": 64}}}'

One line per split and setting (with the CPU seconds of data preparation, fit and predict, and the optimizer steps),
then one summary line per table and setting: means, differences to HGB (positive: better than HGB) and CPU ratios.
A probe for choosing defaults on few splits; the 10-split figures come from tabular_vs_sklearn.py.
"""

from __future__ import annotations

import argparse
import json
import sys
import tempfile
import time
from pathlib import Path

import numpy as np
from sklearn.model_selection import train_test_split

sys.path.insert(0, str(Path(__file__).resolve().parent))
import tabular_vs_sklearn as bench  # noqa: E402

from flashtrain.core import Trainer, seed_everything  # noqa: E402
from flashtrain.core.callbacks import ModelCheckpoint  # noqa: E402
from flashtrain.tasks import (  # noqa: E402
    TabularClassificationData,
    TabularClassifier,
    TabularRegressionData,
    TabularRegressor,
)


def fit_predict(task, table, train, test, seed, backbone="mlp", epochs=30, batch_size=None, kwargs=None, lr=1e-3,
                sched=None):  # fmt: skip
    """As tabular_vs_sklearn.flashtrain_predict (best validation checkpoint), with the settings given."""
    classification = task == "classification"
    data_class = TabularClassificationData if classification else TabularRegressionData
    model_class = TabularClassifier if classification else TabularRegressor
    seed_everything(seed)
    start = time.process_time()
    dm = data_class.from_data_frame(
        table.categorical or None, table.numerical, "y", train_data_frame=train, val_split=0.2, seed=seed,
        batch_size=batch_size,
    )  # fmt: skip
    model = model_class.from_data(dm, backbone=backbone, backbone_kwargs=kwargs, learning_rate=lr, lr_scheduler=sched)
    prepared = time.process_time()
    with tempfile.TemporaryDirectory() as folder:
        metric, mode = model.monitor
        trainer = Trainer(
            max_epochs=epochs, logger=False, callbacks=[ModelCheckpoint(dirpath=folder, monitor=metric, mode=mode)],
            enable_progress_bar=False, enable_model_summary=False, default_root_dir=folder,
        )  # fmt: skip
        trainer.fit(model, datamodule=dm)
        fitted = time.process_time()
        predict = data_class.from_data_frame(predict_data_frame=test, parameters=dm.parameters)
        output = "probabilities" if classification else "values"
        predictions = np.asarray(trainer.predict(model, datamodule=predict, output=output, ckpt_path="best"))
        done = time.process_time()
    if classification:
        predictions = predictions[:, np.argsort([str(label) for label in model.labels])]
    return predictions, (prepared - start, fitted - prepared, done - fitted), trainer.global_step


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--tables", nargs="+", default=list(bench.TABLES), choices=list(bench.TABLES))
    parser.add_argument("--splits", type=int, default=2)
    parser.add_argument("--configs", default='{"default": {}}', help="JSON: name -> fit_predict keyword arguments")
    args = parser.parse_args()
    configs = json.loads(args.configs)
    warm = bench.load("iris")  # torch imports its compiler lazily on the first optimizer: outside the timings
    train, test = train_test_split(warm.frame, test_size=0.2, random_state=0, stratify=warm.frame["y"])
    fit_predict("classification", warm, train, test, 0, epochs=2)
    for name in args.tables:
        task, table = bench.TABLES[name], bench.load(name)
        scores: dict[str, list] = {c: [] for c in configs}
        seconds: dict[str, list] = {c: [] for c in configs}
        hgb, hgb_seconds = [], []
        for seed in range(args.splits):
            train, test = train_test_split(
                table.frame, test_size=0.2, random_state=seed,
                stratify=table.frame["y"] if task == "classification" else None,
            )  # fmt: skip
            labels = sorted(train["y"].unique().tolist(), key=str)
            start = time.process_time()
            theirs = bench.sklearn_predict(task, table, train, test, seed)
            hgb_seconds.append(time.process_time() - start)
            hgb.append(bench.score(task, theirs, test, labels))
            for config, settings in configs.items():
                start = time.process_time()
                ours, parts, steps = fit_predict(task, table, train, test, seed, **settings)
                seconds[config].append(time.process_time() - start)
                ensemble = bench.score(task, (ours + theirs) / 2, test, labels)
                scores[config].append((bench.score(task, ours, test, labels), ensemble))
                print(f"  {name} split {seed} {config}: {scores[config][-1][0]:.4f} ensemble {ensemble:.4f} HGB "
                      f"{hgb[-1]:.4f}; CPU s {seconds[config][-1]:.2f} (prepare {parts[0]:.2f} fit {parts[1]:.2f} "
                      f"predict {parts[2]:.2f}, {steps} steps), HGB {hgb_seconds[-1]:.2f}", flush=True)  # fmt: skip
        sign = 1 if task == "classification" else -1
        for config in configs:
            ours_and_ensemble, theirs, cpu = np.array(scores[config]), np.array(hgb), np.mean(seconds[config])
            better = sign * (ours_and_ensemble - theirs[:, None]).mean(axis=0)
            print(f"{name:13s} {config:18s} ours {ours_and_ensemble[:, 0].mean():.4f} ensemble "
                  f"{ours_and_ensemble[:, 1].mean():.4f} HGB {theirs.mean():.4f} better: ours {better[0]:+.4f} "
                  f"ensemble {better[1]:+.4f}; CPU s {cpu:.2f} HGB {np.mean(hgb_seconds):.2f}: "
                  f"ours {cpu / np.mean(hgb_seconds):.1f}x, ensemble {1 + cpu / np.mean(hgb_seconds):.1f}x",
                  flush=True)  # fmt: skip


if __name__ == "__main__":
    main()
