"""``CombinedLoader``: the four modes, limits, the collection's shape, and the trainer reading one."""

from __future__ import annotations

from collections import namedtuple

import pytest
from torch.utils.data import DataLoader

from flashtrain.core.utilities.combined_loader import CombinedLoader
from tests.core.helpers import RegressionModule, quiet_trainer, regression_data

Pair = namedtuple("Pair", ["x", "y"])


@pytest.mark.parametrize(
    ("mode", "expected"),
    [
        ("min_size", [({"a": 0, "b": 10}, 0, 0), ({"a": 1, "b": 11}, 1, 0)]),
        ("max_size_cycle", [({"a": 0, "b": 10}, 0, 0), ({"a": 1, "b": 11}, 1, 0), ({"a": 0, "b": 12}, 2, 0)]),
        ("max_size", [({"a": 0, "b": 10}, 0, 0), ({"a": 1, "b": 11}, 1, 0), ({"a": None, "b": 12}, 2, 0)]),
        ("sequential", [(0, 0, 0), (1, 1, 0), (10, 0, 1), (11, 1, 1), (12, 2, 1)]),
    ],
)
def test_modes(mode, expected):
    combined = CombinedLoader({"a": range(2), "b": range(10, 13)}, mode)
    assert list(combined) == expected
    assert len(combined) == len(expected)


def test_length_needs_a_pass_started_and_unknown_modes_are_refused():
    combined = CombinedLoader([range(2), range(3)])
    with pytest.raises(RuntimeError, match="Please call `iter\\(combined_loader\\)` first"):
        len(combined)
    with pytest.raises(ValueError, match="Unsupported mode 'zip', please select one of"):
        CombinedLoader([range(2)], "zip")


def test_limits_and_nested_shapes():
    combined = CombinedLoader(Pair(x=[range(5), range(5, 10)], y=range(20, 30)), "max_size")
    combined.limits = [1, 2, 3]
    assert [batch for batch, _, _ in combined] == [
        Pair(x=[0, 5], y=20), Pair(x=[None, 6], y=21), Pair(x=[None, None], y=22)
    ]  # fmt: skip
    with pytest.raises(ValueError, match=r"Mismatch in number of limits \(2\) and number of iterables \(3\)"):
        combined.limits = [1, 2]
    combined.flattened = [range(1), range(1), range(1)]
    assert combined.iterables == Pair(x=[range(1), range(1)], y=range(1))
    assert CombinedLoader([[0, 1], [2]]).flattened == [[0, 1], [2]]  # lists of plain values are iterables


def test_the_trainer_steps_on_combined_batches_and_validates_each_sequential_loader():
    class TwoSources(RegressionModule):
        def training_step(self, batch, batch_idx):
            assert batch["b"][0].shape[0] == 4
            return super().training_step(batch["a"], batch_idx)

        def validation_step(self, batch, batch_idx, dataloader_idx=0):
            self.seen.append(dataloader_idx)

    model = TwoSources()
    model.seen = []
    trainer = quiet_trainer(max_epochs=1)
    train = {"a": DataLoader(regression_data(16), batch_size=4), "b": DataLoader(regression_data(8), batch_size=4)}
    val = [DataLoader(regression_data(8), batch_size=4), DataLoader(regression_data(4), batch_size=4)]
    trainer.fit(model, CombinedLoader(train, "max_size_cycle"), CombinedLoader(val, "sequential"))
    assert trainer.global_step == trainer.num_training_batches == 4  # the longest, the other cycled
    assert trainer.num_val_batches == [2, 1] and model.seen == [0, 0, 1]
