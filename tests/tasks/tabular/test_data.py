"""Tabular data classes: every constructor, the fitted preprocessing, and what happens to unseen or missing values."""

from __future__ import annotations

import math

import pandas as pd
import pytest
import torch

from flashtrain.tasks import TabularClassificationData, TabularRegressionData
from flashtrain.tasks.tabular import SAMPLE_TABLE
from flashtrain.tasks.tabular.data import default_batch_size
from flashtrain.tasks.tabular.preprocessing import MISSING, RESERVED, UNKNOWN

CATEGORICAL, NUMERICAL = ["colour", "size"], ["weight", "height"]


def table(rows: int = 12) -> pd.DataFrame:
    return pd.DataFrame(
        {
            "colour": ["red", "blue", "green"] * (rows // 3),
            "size": [1, 2] * (rows // 2),  # a categorical column of numbers
            "weight": [float(i) for i in range(rows)],
            "height": [10.0, None, 30.0, 40.0] * (rows // 4),  # has missing values: gets an indicator
            "label": ["yes", "no"] * (rows // 2),
            "price": [100.0 + 10 * i for i in range(rows)],
        }
    )


def first_batch(dm, stage: str = "train"):
    loader = getattr(dm, f"{stage}_dataloader")()
    return next(iter(loader))


def test_from_data_frame_fits_vocabularies_standardisation_and_indicators():
    frame = table()
    dm = TabularClassificationData.from_data_frame(
        CATEGORICAL, NUMERICAL, "label", train_data_frame=frame, batch_size=12
    )
    p = dm.parameters
    assert p["vocabularies"] == {"colour": ["blue", "green", "red"], "size": ["1", "2"]}
    assert p["indicator_fields"] == ["height"] and dm.labels == ["no", "yes"] and dm.num_classes == 2
    assert p["means"]["weight"] == pytest.approx(5.5) and p["fill_values"]["height"] == pytest.approx(30.0)
    dm.batch_size = 12
    (categorical, numerical), targets = dm.datasets["train"][list(range(12))]
    # red -> index of "red" in the vocabulary + RESERVED; size 1 -> "1"
    assert categorical[0].tolist() == [2 + RESERVED, 0 + RESERVED]
    assert numerical.shape == (12, 3)  # weight, height, height's missing indicator
    assert numerical[:, 0].mean().item() == pytest.approx(0.0, abs=1e-6)
    assert numerical[:, 0].std(unbiased=False).item() == pytest.approx(1.0, abs=1e-5)
    assert numerical[1, 2].item() == 1.0 and numerical[0, 2].item() == 0.0  # row 1's height was missing
    expected_fill = (30.0 - p["means"]["height"]) / p["stds"]["height"]
    assert numerical[1, 1].item() == pytest.approx(expected_fill)
    assert targets.tolist() == [1, 0] * 6


def test_loader_gets_whole_batches_from_one_indexing_call():
    dm = TabularClassificationData.from_data_frame(
        CATEGORICAL, NUMERICAL, "label", train_data_frame=table(), batch_size=5
    )
    calls = []
    dataset = dm.datasets["train"]
    original = dataset.__getitems__
    dataset.__getitems__ = lambda indices: calls.append(list(indices)) or original(indices)
    batches = list(dm.train_dataloader())
    assert len(calls) == len(batches) == 3 and sorted(i for call in calls for i in call) == list(range(12))
    (categorical, numerical), targets = batches[0]
    assert categorical.shape == (5, 2) and numerical.shape == (5, 3) and targets.shape == (5,)


def test_unseen_categories_and_missing_values_at_predict_time_never_fail():
    dm = TabularClassificationData.from_data_frame(CATEGORICAL, NUMERICAL, "label", train_data_frame=table())
    new = pd.DataFrame(
        {
            "colour": ["purple", None, "red"],
            "size": [3, None, 2.0],
            "weight": [None, 1.0, 2.0],
            "height": [1.0, 2, None],
        }
    )
    predict = TabularClassificationData.from_data_frame(predict_data_frame=new, parameters=dm.parameters)
    ((categorical, numerical),) = predict.datasets["predict"][[0, 1, 2]]
    assert categorical[:, 0].tolist() == [UNKNOWN, MISSING, 2 + RESERVED]
    assert categorical[:, 1].tolist() == [UNKNOWN, MISSING, 1 + RESERVED]  # 2.0 reads as the category "2"
    p = dm.parameters
    assert numerical[0, 0].item() == pytest.approx(
        (p["fill_values"]["weight"] - p["means"]["weight"]) / p["stds"]["weight"]
    )
    assert numerical[:, 2].tolist() == [0.0, 0.0, 1.0]  # the indicator of height (weight had none in training)
    assert torch.isfinite(numerical).all()


def test_from_csv_and_from_parquet_and_from_dicts_agree(tmp_path):
    frame = table()
    frame.to_csv(tmp_path / "t.csv", index=False)
    frame.to_parquet(tmp_path / "t.parquet")
    args = (CATEGORICAL, NUMERICAL, "label")
    built = [
        TabularClassificationData.from_data_frame(*args, train_data_frame=frame),
        TabularClassificationData.from_csv(*args, train_file=str(tmp_path / "t.csv")),
        TabularClassificationData.from_parquet(*args, train_file=str(tmp_path / "t.parquet")),
        TabularClassificationData.from_dicts(*args, train_dicts=frame.to_dict("records")),
    ]
    reference = built[0].datasets["train"].tensors
    for dm in built[1:]:
        assert dm.parameters == built[0].parameters
        tensors = dm.datasets["train"].tensors
        assert torch.equal(tensors.categorical, reference.categorical)
        torch.testing.assert_close(tensors.numerical, reference.numerical, equal_nan=True)
        assert torch.equal(tensors.targets, reference.targets)


def test_dicts_with_missing_keys_are_missing_values():
    rows = [
        {"colour": "red", "weight": 1.0, "label": "a"},
        {"weight": 2.0, "label": "b"},
        {"colour": "blue", "label": "a"},
    ]
    dm = TabularClassificationData.from_dicts(["colour"], ["weight"], "label", train_dicts=rows)
    (categorical, numerical), _ = dm.datasets["train"][[0, 1, 2]]
    assert categorical[:, 0].tolist() == [1 + RESERVED, MISSING, 0 + RESERVED]
    assert numerical[:, 1].tolist() == [0.0, 0.0, 1.0]  # weight's missing indicator


def test_numerical_only_and_categorical_only():
    frame = table()
    numbers = TabularRegressionData.from_data_frame(
        numerical_fields=NUMERICAL, target_fields="price", train_data_frame=frame
    )
    (categorical, numerical), _ = first_batch(numbers)
    assert categorical.shape[1] == 0 and numerical.shape[1] == 3
    words = TabularClassificationData.from_data_frame(
        categorical_fields=CATEGORICAL, target_fields="label", train_data_frame=frame
    )
    (categorical, numerical), _ = first_batch(words)
    assert categorical.shape[1] == 2 and numerical.shape[1] == 0


def test_regression_targets_are_standardised_with_their_statistics_kept():
    frame = table()
    dm = TabularRegressionData.from_data_frame(
        numerical_fields=["weight"], target_fields=["price", "height"], train_data_frame=frame.fillna(0.0)
    )
    p = dm.parameters
    assert p["target_fields"] == ["price", "height"] and dm.labels is None
    assert p["target_means"][0] == pytest.approx(155.0)
    targets = dm.datasets["train"].targets
    assert targets.shape == (12, 2) and targets.mean(0).abs().max().item() < 1e-6
    restored = targets[:, 0] * p["target_stds"][0] + p["target_means"][0]
    torch.testing.assert_close(restored, torch.tensor(frame["price"].to_numpy(), dtype=torch.float32))


def test_val_split_is_stratified_by_class():
    frame = pd.DataFrame({"x": range(40), "label": ["a"] * 30 + ["b"] * 10})
    dm = TabularClassificationData.from_data_frame(
        numerical_fields="x", target_fields="label", train_data_frame=frame, val_split=0.2
    )
    val = dm.datasets["val"].targets.tolist()
    assert len(dm.datasets["train"]) == 32 and sorted(val) == [0] * 6 + [1] * 2


def test_the_bundled_sample_table_has_both_kinds_of_column_and_missing_values():
    frame = pd.read_csv(SAMPLE_TABLE)
    assert len(frame) == 344 and frame["sex"].isna().sum() == 11 and frame["bill_length_mm"].isna().sum() == 2
    dm = TabularClassificationData.from_csv(
        ["island", "sex"], ["bill_length_mm", "body_mass_g"], "species", train_file=SAMPLE_TABLE
    )
    assert dm.labels == ["Adelie", "Chinstrap", "Gentoo"] and dm.parameters["indicator_fields"] == [
        "bill_length_mm",
        "body_mass_g",
    ]


@pytest.mark.parametrize(
    ("change", "error", "message"),
    [
        (lambda f: f, ValueError, r"has no column\(s\) \['age'\]; its columns are \['colour'"),
        (lambda f: f.assign(label="yes"), ValueError, r"target column 'label' has a single class \('yes'\)"),
        (
            lambda f: f.astype({"weight": object}).assign(weight=["1.5"] * 5 + ["heavy"] + ["2"] * 6),
            ValueError,
            r"numerical column 'weight' has a value that is not a number: 'heavy' in row 5 \(line 7 of the file\)",
        ),
        (
            lambda f: f.assign(label=[None] + ["a", "b"] * 5 + ["a"]),
            ValueError,
            r"target column 'label' has 1 missing value\(s\) \(rows \[0\]\)",
        ),
    ],
)
def test_bad_tables_are_explained(tmp_path, change, error, message):
    frame = change(table())
    frame.to_csv(tmp_path / "t.csv", index=False)
    numerical = ["age"] if "age" in message else NUMERICAL
    with pytest.raises(error, match=message):
        TabularClassificationData.from_csv(CATEGORICAL, numerical, "label", train_file=str(tmp_path / "t.csv"))


def test_empty_files_and_wrong_settings_are_explained(tmp_path):
    (tmp_path / "empty.csv").write_text("")
    with pytest.raises(ValueError, match="train_file=.*empty.csv' is empty"):
        TabularClassificationData.from_csv(["a"], None, "y", train_file=str(tmp_path / "empty.csv"))
    (tmp_path / "header.csv").write_text("a,y\n")
    with pytest.raises(ValueError, match="has no rows"):
        TabularClassificationData.from_csv(["a"], None, "y", train_file=str(tmp_path / "header.csv"))
    with pytest.raises(FileNotFoundError, match="train_file='nope.csv': no such file"):
        TabularClassificationData.from_csv(["a"], None, "y", train_file="nope.csv")
    frame = table()
    with pytest.raises(ValueError, match="No input columns"):
        TabularClassificationData.from_data_frame(target_fields="label", train_data_frame=frame)
    with pytest.raises(ValueError, match=r"listed as both categorical_fields and numerical_fields"):
        TabularClassificationData.from_data_frame(["weight"], ["weight"], "label", train_data_frame=frame)
    with pytest.raises(ValueError, match="Without training data, pass parameters="):
        TabularClassificationData.from_data_frame(predict_data_frame=frame)
    regression = TabularRegressionData.from_data_frame(
        numerical_fields=["weight"], target_fields="price", train_data_frame=frame
    )
    with pytest.raises(ValueError, match="parameters were fitted for regression"):
        TabularClassificationData.from_data_frame(predict_data_frame=frame, parameters=regression.parameters)
    with pytest.raises(ValueError, match="predicts one target column"):
        TabularClassificationData.from_data_frame(["colour"], None, ["label", "size"], train_data_frame=frame)
    assert not math.isnan(regression.parameters["stds"]["weight"])


def test_an_infinite_number_is_refused_naming_column_and_line(tmp_path):
    frame = pd.DataFrame({"x": [1.0, 2.0, 3.0, 4.0], "y": ["a", "b", "a", "b"]})
    frame.loc[2, "x"] = math.inf
    frame.to_csv(tmp_path / "t.csv", index=False)  # written as "inf", read back as float infinity
    with pytest.raises(ValueError, match=r"numerical column 'x' has an infinite value \(inf\) in row 2 \(line 4 of"):
        TabularClassificationData.from_csv(
            numerical_fields=["x"], target_fields="y", train_file=str(tmp_path / "t.csv")
        )


def test_the_default_batch_size_keeps_small_tables_at_sixteen_steps_an_epoch():
    frame = table(240)
    split = TabularClassificationData.from_data_frame(
        CATEGORICAL, NUMERICAL, "label", train_data_frame=frame, val_split=0.2
    )
    assert split.batch_size == 12 and len(split.train_dataloader()) == 16  # 192 training rows after the split
    assert (
        TabularClassificationData.from_data_frame(
            CATEGORICAL, NUMERICAL, "label", train_data_frame=table(48)
        ).batch_size
        == 8
    )
    big = TabularRegressionData.from_data_frame(CATEGORICAL, NUMERICAL, "price", train_data_frame=table(2400))
    assert big.batch_size == 64  # from 1,024 training rows on
    large = TabularRegressionData.from_data_frame(CATEGORICAL, NUMERICAL, "price", train_data_frame=table(24000))
    assert large.batch_size == 375 and len(large.train_dataloader()) == 64  # from 4,096 rows: 64 steps an epoch
    assert default_batch_size(4095) == 64 and default_batch_size(4096) == 64  # no jump where the two rules meet
    assert default_batch_size(1_000_000) == 512  # at most 512 rows a batch
    chosen = TabularClassificationData.from_data_frame(
        CATEGORICAL, NUMERICAL, "label", train_data_frame=frame, batch_size=100
    )
    assert chosen.batch_size == 100
    predict = TabularClassificationData.from_data_frame(predict_data_frame=frame, parameters=split.parameters)
    assert predict.batch_size == 2048  # no training rows: large batches, each prepared by pandas at a fixed cost
