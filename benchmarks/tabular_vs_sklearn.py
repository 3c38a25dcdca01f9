"""TabularClassifier / TabularRegressor with their default settings vs scikit-learn's HistGradientBoosting (also
with its defaults) on the same splits of scikit-learn's bundled tables (iris, wine, breast_cancer, digits as a table
of 64 pixel columns; diabetes for regression) and of a generated table with categorical columns and missing values.

    nice -n 5 python benchmarks/tabular_vs_sklearn.py [--splits 5] [--tables iris mixed ...]

Each table is split 80/20 (stratified for classification) with ``--splits`` seeds; both models learn from the same
80% and are scored on the same 20%. flashtrain is trained as ``flash-train tabular_*`` trains with no options: the
task's epochs, 20% of the training rows held out for validation, the best checkpoint on the task's validation metric.
The table prints mean +- standard deviation over the splits, the wall time per split (fit + predict) of each model,
and the paired difference (flashtrain - HGB) with its standard error: "behind" means worse by more than two standard
errors of that difference.

The generated table ("mixed", 3,000 rows, made here from a fixed seed) has three categorical columns (8, 30 and 4
values) that carry real signal (per-value effects, and one that flips the sign of a numerical effect), five numerical
columns (one pure noise) and missing values in four columns (15% each, at random). HGB reads the categories as
pandas categories (its native categorical support); flashtrain as categorical_fields.
"""

from __future__ import annotations

import argparse
import tempfile
import time
from dataclasses import dataclass

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
}
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


def load(name: str) -> Table:
    if name == "mixed":
        return mixed_table()
    bunch = getattr(datasets, f"load_{name}")(as_frame=True)
    frame = bunch.frame.rename(columns={"target": "y"})
    return Table(frame, [], [c for c in frame.columns if c != "y"])


def flashtrain_score(task: str, table: Table, train: pd.DataFrame, test: pd.DataFrame, seed: int) -> float:
    """Trained as ``flash-train tabular_*`` with no options trains: the task's defaults, best validation checkpoint."""
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
    model = model_class.from_data(dm)
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
        output = "labels" if classification else "values"
        predictions = np.asarray(trainer.predict(model, datamodule=predict, output=output, ckpt_path="best"))
    if classification:
        return float(np.mean(predictions == test["y"].to_numpy()))
    return float(np.sqrt(np.mean((predictions - test["y"].to_numpy()) ** 2)))


def sklearn_score(task: str, table: Table, train: pd.DataFrame, test: pd.DataFrame, seed: int) -> float:
    features = [*table.categorical, *table.numerical]
    train, test = train.copy(), test.copy()
    for column in table.categorical:  # HGB's native categorical support reads pandas categories
        kinds = pd.CategoricalDtype(sorted(train[column].dropna().unique()))
        train[column], test[column] = train[column].astype(kinds), test[column].astype(kinds)
    model_class = HistGradientBoostingClassifier if task == "classification" else HistGradientBoostingRegressor
    model = model_class(random_state=seed).fit(train[features], train["y"])
    predictions = model.predict(test[features])
    if task == "classification":
        return float(np.mean(predictions == test["y"].to_numpy()))
    return float(np.sqrt(np.mean((predictions - test["y"].to_numpy()) ** 2)))


def timed(function, *args) -> tuple[float, float]:
    start = time.perf_counter()
    score = function(*args)
    return score, time.perf_counter() - start


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--splits", type=int, default=5)
    parser.add_argument("--tables", nargs="+", default=list(TABLES), choices=list(TABLES))
    args = parser.parse_args()
    print(
        f"TabularClassifier/Regressor defaults (backbone mlp, {TabularClassifier.default_max_epochs} epochs) vs "
        f"HistGradientBoosting defaults; {args.splits} splits 80/20, mean +- std"
    )
    print(f"{'table':<14}{'metric':<9}{'flashtrain':>17}{'HGB':>17}{'diff (2 SE)':>20}{'':<8}{'time ft / HGB':>16}")
    for name in args.tables:
        task = TABLES[name]
        table = load(name)
        ours, theirs, our_time, their_time = [], [], [], []
        for seed in range(args.splits):
            train, test = train_test_split(
                table.frame,
                test_size=0.2,
                random_state=seed,
                stratify=table.frame["y"] if task == "classification" else None,
            )
            score, seconds = timed(flashtrain_score, task, table, train, test, seed)
            ours.append(score)
            our_time.append(seconds)
            score, seconds = timed(sklearn_score, task, table, train, test, seed)
            theirs.append(score)
            their_time.append(seconds)
        ours_a, theirs_a = np.asarray(ours), np.asarray(theirs)
        difference = ours_a - theirs_a
        error = 2 * difference.std(ddof=1) / np.sqrt(len(difference)) if len(difference) > 1 else 0.0
        better = difference.mean() if task == "classification" else -difference.mean()  # > 0: flashtrain better
        verdict = "behind" if better < -error else "ahead" if better > error else "level"
        metric = "accuracy" if task == "classification" else "RMSE"
        print(
            f"{name:<14}{metric:<9}{ours_a.mean():>10.4f} +-{ours_a.std(ddof=1):.3f}"
            f"{theirs_a.mean():>10.4f} +-{theirs_a.std(ddof=1):.3f}"
            f"{difference.mean():>+12.4f} ({error:.3f}) {verdict:<7}"
            f"{np.mean(our_time):>8.1f}s / {np.mean(their_time):.1f}s",
            flush=True,
        )


if __name__ == "__main__":
    main()
