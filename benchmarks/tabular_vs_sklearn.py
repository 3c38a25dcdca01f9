"""TabularClassifier / TabularRegressor with their default settings vs scikit-learn's HistGradientBoosting (also
with its defaults) on the same splits of scikit-learn's bundled tables (iris, wine, breast_cancer, digits as a table
of 64 pixel columns; diabetes for regression), of a generated table with categorical columns and missing values,
and of two generated 20,000-row tables of mixed types.

    OMP_NUM_THREADS=1 nice python benchmarks/tabular_vs_sklearn.py [--splits 10] [--large-splits 5]
        [--tables iris mixed ...] [--backbone tabm]

Each table is split 80/20 (stratified for classification) with ``--splits`` seeds; both models learn from the same
80% and are scored on the same 20%. flashtrain is trained as ``flash-train tabular_*`` trains with no options: the
task's epochs, 20% of the training rows held out for validation, the best checkpoint on the task's validation metric.
The two models run one after the other on each split (which goes first alternates), each timed in wall and CPU
seconds of this process (fit + predict; on a shared machine the CPU seconds and the ratios are what to compare).
The ensemble averages flashtrain's and HGB's probabilities (values for regression); its time is both models' time.
One markdown row per table: the mean score of each, the paired differences to HGB with two standard errors of the
difference over the splits ("ahead"/"behind": better/worse by more than that), the seconds per split and their
ratios to HGB's.

The generated table ("mixed", 3,000 rows, made here from a fixed seed) has three categorical columns (8, 30 and 4
values) that carry real signal (per-value effects, and one that flips the sign of a numerical effect), five numerical
columns (one pure noise) and missing values in four columns (15% each, at random). HGB reads the categories as
pandas categories (its native categorical support); flashtrain as categorical_fields.

The two larger generated tables (20,000 rows each, mixed types, missing values): "mixed_20k" (the mixed table's
recipe with another seed: a 30-value category) and "housing_20k" (a price regression: a 40-value district and a
5-value kind, numbers with a threshold, an interaction and a cycle, 10% missing in three columns, Gaussian noise).
"""

from __future__ import annotations

import argparse
import inspect
import sys
import tempfile
import time
from dataclasses import dataclass
from typing import Any

import numpy as np
import pandas as pd
from sklearn import datasets
from sklearn.ensemble import HistGradientBoostingClassifier, HistGradientBoostingRegressor
from sklearn.model_selection import train_test_split

from flashtrain.core import Trainer, seed_everything
from flashtrain.core.callbacks import ModelCheckpoint
from flashtrain.tasks import TabularClassificationData, TabularClassifier, TabularRegressionData, TabularRegressor

TABLES = {
    "iris": "classification",
    "wine": "classification",
    "breast_cancer": "classification",
    "digits": "classification",
    "mixed": "classification",
    "diabetes": "regression",
    "mixed_20k": "classification",
    "housing_20k": "regression",
}
LARGE_TABLES = ("mixed_20k", "housing_20k")
VAL_SPLIT = 0.2  # what flash-train holds out when no --val-file is given
MIXED_SEED = 20240601


@dataclass
class Table:
    frame: pd.DataFrame  # feature columns and the target "y"
    categorical: list[str]
    numerical: list[str]


def mixed_table(rows: int = 3000, seed: int = MIXED_SEED) -> Table:
    """Categorical columns with real signal, numerical columns, missing values: a binary target from a fixed seed."""
    rng = np.random.default_rng(seed)
    city, shop, plan = rng.integers(0, 8, rows), rng.integers(0, 30, rows), rng.integers(0, 4, rows)
    city_effect, shop_effect = rng.normal(0, 1.2, 8), rng.normal(0, 0.8, 30)
    x = rng.normal(size=(rows, 5))
    x[:, 3] = 0.6 * x[:, 0] + 0.8 * x[:, 3]  # correlated with x0
    sign = np.where(plan < 2, 1.0, -1.0)  # plan decides the direction of x0's effect
    logit = city_effect[city] + shop_effect[shop] + 1.2 * sign * x[:, 0] + np.sin(2 * x[:, 1]) + 0.5 * x[:, 3]
    y = (logit + rng.logistic(scale=0.5, size=rows) > np.median(logit)).astype(int)
    frame = pd.DataFrame(
        {
            "city": [f"city_{v}" for v in city],
            "shop": [f"shop_{v}" for v in shop],
            "plan": [f"plan_{v}" for v in plan],
            **{f"x{i}": x[:, i] for i in range(5)},  # x4 is noise
            "y": y,
        }
    )
    for column in ("city", "shop", "x0", "x1"):  # the values are hidden, their effect on y stays
        frame.loc[rng.random(rows) < 0.15, column] = np.nan
    return Table(frame, ["city", "shop", "plan"], [f"x{i}" for i in range(5)])


def housing_table(rows: int = 20000, seed: int = MIXED_SEED + 1) -> Table:
    """A generated price table, 20,000 rows of mixed types: a district (40 values) and a kind (5) with their own
    effects, numbers with a threshold, an interaction and a cycle, missing values, and noise."""
    rng = np.random.default_rng(seed)
    district, kind = rng.integers(0, 40, rows), rng.integers(0, 5, rows)
    district_effect, kind_effect = rng.normal(0, 0.6, 40), rng.normal(0, 0.4, 5)
    area, age, rooms, month = (
        rng.lognormal(4, 0.4, rows),
        rng.uniform(0, 80, rows),
        rng.integers(1, 7, rows),
        rng.integers(1, 13, rows),
    )
    y = (
        district_effect[district] + kind_effect[kind] + 0.8 * np.log(area) - 0.01 * age + 0.3 * (age > 50)
        + 0.05 * rooms * (kind_effect[kind] > 0) + 0.1 * np.sin(2 * np.pi * month / 12) + rng.normal(0, 0.2, rows)
    )  # fmt: skip
    frame = pd.DataFrame(
        {"district": [f"d{v}" for v in district], "kind": [f"k{v}" for v in kind], "area": area, "age": age,
         "rooms": rooms.astype(float), "month": month.astype(float), "noise": rng.normal(size=rows), "y": y}
    )  # fmt: skip
    for column in ("district", "area", "age"):
        frame.loc[rng.random(rows) < 0.1, column] = np.nan
    return Table(frame, ["district", "kind"], ["area", "age", "rooms", "month", "noise"])


def load(name: str) -> Table:
    if name == "mixed":
        return mixed_table()
    if name == "mixed_20k":
        return mixed_table(rows=20000, seed=MIXED_SEED + 2)
    if name == "housing_20k":
        return housing_table()
    bunch = getattr(datasets, f"load_{name}")(as_frame=True)
    frame = bunch.frame.rename(columns={"target": "y"})
    return Table(frame, [], [c for c in frame.columns if c != "y"])


def flashtrain_predict(
    task: str, table: Table, train: pd.DataFrame, test: pd.DataFrame, seed: int, backbone: str
) -> np.ndarray:
    """Trained as ``flash-train tabular_*`` with no options trains (but ``backbone``): the task's defaults, best
    validation checkpoint. Class probabilities in sorted-label order (classification) or values (regression)."""
    classification = task == "classification"
    data_class = TabularClassificationData if classification else TabularRegressionData
    model_class = TabularClassifier if classification else TabularRegressor
    seed_everything(seed)
    dm = data_class.from_data_frame(
        table.categorical or None,
        table.numerical,
        "y",
        train_data_frame=train,
        val_split=VAL_SPLIT,
        seed=seed,
    )
    model = model_class.from_data(dm, backbone=backbone)
    with tempfile.TemporaryDirectory() as folder:
        metric, mode = model.monitor
        checkpoint = ModelCheckpoint(dirpath=folder, monitor=metric, mode=mode)
        trainer = Trainer(
            max_epochs=model_class.default_max_epochs,
            logger=False,
            callbacks=[checkpoint],
            enable_progress_bar=False,
            enable_model_summary=False,
            default_root_dir=folder,
        )
        trainer.fit(model, datamodule=dm)
        predict = data_class.from_data_frame(predict_data_frame=test, parameters=dm.parameters)
        output = "probabilities" if classification else "values"
        predictions = np.asarray(trainer.predict(model, datamodule=predict, output=output, ckpt_path="best"))
    if classification:  # columns in the order of sorted(str(label)), as sklearn_predict's
        order = np.argsort([str(label) for label in model.labels])
        return predictions[:, order]
    return predictions


def sklearn_predict(task: str, table: Table, train: pd.DataFrame, test: pd.DataFrame, seed: int) -> np.ndarray:
    features = [*table.categorical, *table.numerical]
    train, test = train.copy(), test.copy()
    for column in table.categorical:  # HGB's native categorical support reads pandas categories
        kinds = pd.CategoricalDtype(sorted(train[column].dropna().unique()))
        train[column], test[column] = train[column].astype(kinds), test[column].astype(kinds)
    model_class = HistGradientBoostingClassifier if task == "classification" else HistGradientBoostingRegressor
    model = model_class(random_state=seed).fit(train[features], train["y"])
    if task == "classification":
        order = np.argsort([str(label) for label in model.classes_])
        return model.predict_proba(test[features])[:, order]
    return model.predict(test[features])


def score(task: str, predictions: np.ndarray, test: pd.DataFrame, labels: list) -> float:
    """Accuracy (the most probable of ``labels``, sorted as the probability columns are) or RMSE."""
    if task == "classification":
        return float(np.mean(np.asarray(labels)[predictions.argmax(axis=1)] == test["y"].to_numpy()))
    return float(np.sqrt(np.mean((predictions - test["y"].to_numpy()) ** 2)))


def timed(function, *args) -> tuple[Any, float, float]:
    """``function(*args)``, its wall seconds and the CPU seconds of this process while it ran (user + system: the
    machine may be shared, so the CPU seconds and the ratios of the two models are the figures to compare)."""
    start, cpu_start = time.perf_counter(), time.process_time()
    result = function(*args)
    return result, time.perf_counter() - start, time.process_time() - cpu_start


def verdict(task: str, ours: np.ndarray, theirs: np.ndarray) -> tuple[float, float, str]:
    """The mean paired difference (ours - theirs), two standard errors of it, and "ahead" / "level" / "behind"."""
    difference = ours - theirs
    error = 2 * difference.std(ddof=1) / np.sqrt(len(difference)) if len(difference) > 1 else 0.0
    better = difference.mean() if task == "classification" else -difference.mean()  # > 0: ours better
    word = "behind" if better < -error else "ahead" if better > error else "level"
    return float(difference.mean()), float(error), word


@dataclass
class Result:
    """One table's figures over the splits: scores per model, seconds (wall, CPU) per model and split."""

    name: str
    task: str
    scores: dict[str, list[float]]
    wall: dict[str, list[float]]
    cpu: dict[str, list[float]]

    def row(self) -> list[str]:
        mean = {key: float(np.mean(values)) for key, values in self.scores.items()}
        hgb = np.asarray(self.scores["hgb"])
        cells = [self.name, "accuracy" if self.task == "classification" else "RMSE", str(len(hgb))]
        cells += [f"{mean[key]:.4f}" for key in ("ours", "hgb", "ensemble")]
        for key in ("ours", "ensemble"):
            difference, error, word = verdict(self.task, np.asarray(self.scores[key]), hgb)
            cells.append(f"{difference:+.4f} ± {error:.4f} {word}")
        wall = {key: float(np.mean(values)) for key, values in self.wall.items()}
        cpu = {key: float(np.mean(values)) for key, values in self.cpu.items()}
        cells += [f"{wall['ours']:.2f} / {wall['hgb']:.2f}", f"{cpu['ours']:.2f} / {cpu['hgb']:.2f}"]
        cells += [f"{wall['ours'] / wall['hgb']:.1f}x", f"{(wall['ours'] + wall['hgb']) / wall['hgb']:.1f}x"]
        cells += [f"{cpu['ours'] / cpu['hgb']:.1f}x", f"{(cpu['ours'] + cpu['hgb']) / cpu['hgb']:.1f}x"]
        return cells


HEADER = [
    "table",
    "metric",
    "splits",
    "flashtrain",
    "HGB",
    "ensemble",
    "flashtrain − HGB (2 SE)",
    "ensemble − HGB (2 SE)",
    "wall s/split ft / HGB",
    "CPU s/split ft / HGB",
    "wall ft/HGB",
    "wall ens/HGB",
    "CPU ft/HGB",
    "CPU ens/HGB",
]


def run_table(name: str, splits: int, backbone: str) -> Result:
    """Both models on ``splits`` 80/20 splits, interleaved per split (which one goes first alternates)."""
    task, table = TABLES[name], load(name)
    result = Result(
        name, task, {"ours": [], "hgb": [], "ensemble": []}, {"ours": [], "hgb": []}, {"ours": [], "hgb": []}
    )
    for seed in range(splits):
        train, test = train_test_split(
            table.frame,
            test_size=0.2,
            random_state=seed,
            stratify=table.frame["y"] if task == "classification" else None,
        )
        labels = sorted(train["y"].unique().tolist(), key=str)
        calls = {
            "ours": (flashtrain_predict, task, table, train, test, seed, backbone),
            "hgb": (sklearn_predict, task, table, train, test, seed),
        }
        predictions = {}
        for key in ("ours", "hgb") if seed % 2 == 0 else ("hgb", "ours"):
            predictions[key], wall, cpu = timed(*calls[key])
            result.wall[key].append(wall)
            result.cpu[key].append(cpu)
        predictions["ensemble"] = (predictions["ours"] + predictions["hgb"]) / 2
        for key, values in predictions.items():
            result.scores[key].append(score(task, values, test, labels))
        progress = ", ".join(f"{key} {values[-1]:.4f}" for key, values in result.scores.items())
        print(f"{name} split {seed}: {progress}; CPU s ft {result.cpu['ours'][-1]:.2f} HGB {result.cpu['hgb'][-1]:.2f}",
              file=sys.stderr, flush=True)  # fmt: skip
    return result


def warm_up(backbone: str) -> None:
    """One tiny fit first, outside the timings: torch imports its compiler lazily on the first optimizer built."""
    table = load("iris")
    train, test = train_test_split(table.frame, test_size=0.2, random_state=0, stratify=table.frame["y"])
    flashtrain_predict("classification", table, train, test, 0, backbone)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--splits", type=int, default=5)
    parser.add_argument("--large-splits", type=int, default=None, help="splits on the 20k tables (default: --splits)")
    parser.add_argument("--tables", nargs="+", default=list(TABLES), choices=list(TABLES))
    parser.add_argument("--backbone", default=None, help="the task's backbone (default: the task's default)")
    args = parser.parse_args()
    backbone = args.backbone or inspect.signature(TabularClassifier).parameters["backbone"].default
    print(
        f"TabularClassifier/Regressor defaults (backbone {backbone}, {TabularClassifier.default_max_epochs} epochs) "
        f"vs HistGradientBoosting defaults, and their ensemble (mean of probabilities / values); 80/20 splits, mean "
        "over the splits; difference = model - HGB with 2 SE of the paired difference; seconds per split (fit + "
        "predict); ensemble time = both models' time",
        flush=True,
    )
    warm_up(backbone)
    print("| " + " | ".join(HEADER) + " |\n|" + "---|" * len(HEADER), flush=True)
    for name in args.tables:
        splits = args.large_splits if args.large_splits and name in LARGE_TABLES else args.splits
        print("| " + " | ".join(run_table(name, splits, backbone).row()) + " |", flush=True)


if __name__ == "__main__":
    main()
