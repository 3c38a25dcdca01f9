"""TabularClassifier / TabularRegressor with default settings vs scikit-learn's HistGradientBoosting on the same
splits of scikit-learn's bundled tables (breast_cancer, wine; diabetes for regression) and of the bundled Palmer
penguins table (categorical columns and missing values; HGB gets the categories as pandas categories).

    python benchmarks/tabular_vs_sklearn.py [--splits 5] [--max-epochs 40]

Each table is split 80/20 (stratified for classification) with ``--splits`` different seeds; both models train on
the 80% and are scored on the 20%; the table prints the mean over splits. Target: accuracy at least HGB's minus
0.02, RMSE within 10% of HGB's.
"""

from __future__ import annotations

import argparse
import time

import numpy as np
import pandas as pd
import torch
from sklearn import datasets
from sklearn.ensemble import HistGradientBoostingClassifier, HistGradientBoostingRegressor
from sklearn.model_selection import train_test_split

from flashtrain.core import Trainer, seed_everything
from flashtrain.tasks import TabularClassificationData, TabularClassifier, TabularRegressionData, TabularRegressor

TABLES = {"breast_cancer": "classification", "wine": "classification", "diabetes": "regression"}
TABLES["penguins"] = "classification"
PENGUIN_CATEGORIES = ["island", "sex"]


def load(name: str) -> tuple[pd.DataFrame, list[str]]:
    if name == "penguins":
        from flashtrain.tasks.tabular import SAMPLE_TABLE

        frame = pd.read_csv(SAMPLE_TABLE).rename(columns={"species": "y"}).drop(columns=["year"])
        return frame, [c for c in frame.columns if c != "y"]
    bunch = getattr(datasets, f"load_{name}")(as_frame=True)
    frame = bunch.frame.rename(columns={"target": "y"})
    return frame, [c for c in frame.columns if c != "y"]


def flashtrain_score(task: str, train: pd.DataFrame, test: pd.DataFrame, features: list[str], args) -> float:
    categorical = [c for c in features if c in PENGUIN_CATEGORIES]
    numerical = [c for c in features if c not in categorical]
    data_class, model_class = (
        (TabularClassificationData, TabularClassifier)
        if task == "classification"
        else (TabularRegressionData, TabularRegressor)
    )
    dm = data_class.from_data_frame(
        categorical_fields=categorical or None, numerical_fields=numerical, target_fields="y", train_data_frame=train
    )
    model = model_class.from_data(dm, backbone=args.backbone)
    trainer = Trainer(
        max_epochs=args.max_epochs,
        logger=False,
        enable_checkpointing=False,
        enable_progress_bar=False,
        enable_model_summary=False,
    )
    trainer.fit(model, datamodule=dm)
    predict = data_class.from_data_frame(predict_data_frame=test, parameters=dm.parameters)
    if task == "classification":
        predictions = trainer.predict(model, datamodule=predict, output="labels")
        return float(np.mean(np.asarray(predictions) == test["y"].to_numpy()))
    predictions = np.asarray(trainer.predict(model, datamodule=predict, output="values"))
    return float(np.sqrt(np.mean((predictions - test["y"].to_numpy()) ** 2)))


def sklearn_score(task: str, train: pd.DataFrame, test: pd.DataFrame, features: list[str], seed: int) -> float:
    train, test = train.copy(), test.copy()
    for column in PENGUIN_CATEGORIES:
        if column in features:  # HGB's native categorical support reads pandas categories
            kinds = pd.CategoricalDtype(sorted(train[column].dropna().unique()))
            train[column], test[column] = train[column].astype(kinds), test[column].astype(kinds)
    if task == "classification":
        model = HistGradientBoostingClassifier(random_state=seed).fit(train[features], train["y"])
        return float(np.mean(model.predict(test[features]) == test["y"].to_numpy()))
    model = HistGradientBoostingRegressor(random_state=seed).fit(train[features], train["y"])
    return float(np.sqrt(np.mean((model.predict(test[features]) - test["y"].to_numpy()) ** 2)))


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--splits", type=int, default=5)
    parser.add_argument("--max-epochs", type=int, default=40)
    parser.add_argument("--backbone", default="mlp", choices=["mlp", "resnet", "ft_transformer", "tabnet"])
    parser.add_argument("--tables", nargs="+", default=list(TABLES), choices=list(TABLES))
    args = parser.parse_args()
    torch.set_num_threads(max(1, torch.get_num_threads()))
    print(f"backbone={args.backbone} max_epochs={args.max_epochs} splits={args.splits} (mean over splits)")
    print(f"{'table':<14}{'metric':<10}{'flashtrain':>11}{'HGB':>9}{'verdict':>34}{'time':>8}")
    for name in args.tables:
        task = TABLES[name]
        frame, features = load(name)
        ours, theirs = [], []
        start = time.perf_counter()
        for seed in range(args.splits):
            train, test = train_test_split(
                frame, test_size=0.2, random_state=seed, stratify=frame["y"] if task == "classification" else None
            )
            seed_everything(seed)
            ours.append(flashtrain_score(task, train, test, features, args))
            theirs.append(sklearn_score(task, train, test, features, seed))
        mine, peer = float(np.mean(ours)), float(np.mean(theirs))
        if task == "classification":
            metric, verdict = "accuracy", f"{mine - peer:+.4f} (target >= -0.02)"
            ok = mine >= peer - 0.02
        else:
            metric, verdict = "RMSE", f"{mine / peer - 1:+.1%} (target <= +10%)"
            ok = mine <= peer * 1.10
        verdict += " ok" if ok else " MISSED"
        print(f"{name:<14}{metric:<10}{mine:>11.4f}{peer:>9.4f}{verdict:>34}{time.perf_counter() - start:>7.0f}s")


if __name__ == "__main__":
    main()
