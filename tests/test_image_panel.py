"""benchmarks/recipes/image_panel.py, the image recipe panel: a set whose package is missing stops the command with
the install line before any training, tiles are cut so that no test pixel was seen in training, and the generated
sets are the same on every run (each seed's pair compares the recipes on one split). Nothing here trains."""

from __future__ import annotations

import importlib.util
import sys

import numpy as np
import pytest

from tests.benchmark_scripts import load_benchmark


@pytest.fixture(scope="module")
def panel():
    return load_benchmark("recipes/image_panel.py")


def test_a_missing_scikit_image_stops_the_command_with_the_install_line(panel, monkeypatch):
    monkeypatch.setattr(importlib.util, "find_spec", lambda name: None)
    with pytest.raises(panel.MissingData, match=r"scikit-image, which is not installed here.*--no-deps scikit-image$"):
        panel.tiles()
    monkeypatch.setattr(sys, "argv", ["image_panel.py", "--datasets", "digits", "--modes", "finetuned"])
    with pytest.raises(SystemExit, match=r"^this panel set reads data/brick.png of the PyPI package scikit-image"):
        panel.main()  # the fine-tuned rows need the pretraining photos, even for a set of scikit-learn's


def test_tiles_for_the_test_come_from_columns_training_never_saw(panel):
    columns = np.tile(np.arange(200, dtype=np.int32), (120, 1))  # each pixel holds its column index
    x_train, x_test, y_train, y_test = panel.patches_split([columns, columns + 1000], per_class=40, patch=16)
    assert x_train.shape == (80, 16, 16) and x_test.shape == (20, 16, 16)
    assert sorted(set(y_train.tolist())) == [0, 1] and np.bincount(y_test).tolist() == [10, 10]
    border = 150  # 75% of 200 columns
    assert (x_train % 1000).max() < border <= (x_test % 1000).min()


def test_generated_sets_are_the_same_on_every_run(panel):
    rng_a, rng_b = np.random.default_rng(7), np.random.default_rng(7)
    b = panel.render_letter("b", "DejaVuSans.ttf", rng_a, (20, 21), 0.0)
    assert np.array_equal(b, panel.render_letter("b", "DejaVuSans.ttf", rng_b, (20, 21), 0.0))
    assert b.shape == (32, 32) and b.dtype == np.uint8 and b.max() > 200  # the letter is drawn, white on black
    d = panel.render_letter("d", "DejaVuSans.ttf", np.random.default_rng(7), (20, 21), 0.0)
    assert np.abs(b.astype(int) - d).mean() > 10  # a mirror image is another class: the images differ
