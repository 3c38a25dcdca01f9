"""The legacy ``meta_tags.csv`` hyper-parameter files."""

from __future__ import annotations

from argparse import Namespace

import pytest

from flashtrain.core.hparams_tags import load_hparams_from_tags_csv, save_hparams_to_tags_csv


def test_tags_csv_round_trip_gives_back_numbers_as_numbers(tmp_path):
    path = tmp_path / "meta_tags.csv"
    save_hparams_to_tags_csv(path, Namespace(name="adam", batch_size=32, lr=0.008, layers=[1, 2], flag=True))
    assert path.read_text().splitlines()[0] == "key,value"
    loaded = load_hparams_from_tags_csv(path)
    assert loaded == {"name": "adam", "batch_size": 32, "lr": 0.008, "layers": [1, 2], "flag": True}


def test_a_missing_tags_file_warns_and_a_missing_folder_is_an_error(tmp_path):
    with pytest.warns(RuntimeWarning, match="Missing Tags"):
        assert load_hparams_from_tags_csv(tmp_path / "nope.csv") == {}
    with pytest.raises(RuntimeError, match="Missing folder"):
        save_hparams_to_tags_csv(tmp_path / "no" / "meta_tags.csv", {"a": 1})
