"""``summarize``: layers, parameter counts, modes, shapes from the example input, FLOPs and the printed table."""

from __future__ import annotations

import pytest
import torch

from flashtrain.core import Module
from flashtrain.core.utilities.model_summary import (
    LEFTOVER_PARAMS_NAME,
    UNKNOWN_SIZE,
    get_human_readable_count,
    summarize,
)


class TwoBranches(Module):
    def __init__(self) -> None:
        super().__init__()
        self.late = torch.nn.Linear(4, 2)  # defined first, used second
        self.early = torch.nn.Sequential(torch.nn.Linear(3, 4), torch.nn.ReLU())
        self.unused = torch.nn.Linear(1, 1)
        self.scale = torch.nn.Parameter(torch.ones(2))  # belongs to no layer
        self.example_input_array = torch.zeros(5, 3)

    def forward(self, x):
        return self.late(self.early(x)) * self.scale


def test_layers_counts_and_shapes_from_the_example_input():
    model = TwoBranches()
    model.early[1].eval()
    summary = summarize(model, max_depth=-1)
    assert summary.layer_names == ["late", "early", "early.0", "early.1", "unused"]
    assert summary.param_nums == [10, 16, 16, 0, 2]
    assert summary.in_sizes == [[5, 4], [5, 3], [5, 3], [5, 4], UNKNOWN_SIZE]
    assert summary.out_sizes == [[5, 2], [5, 4], [5, 4], [5, 4], UNKNOWN_SIZE]
    assert summary.total_parameters == 30 and summary.trainable_parameters == 30
    assert summary.model_size == pytest.approx(30 * 4e-6)
    assert summary.total_flops == 2 * 5 * 3 * 4 + 2 * 5 * 4 * 2  # the two matrix products
    # the forward ran in eval mode; every module's own mode is back afterwards
    assert model.training and model.early[0].training and not model.early[1].training
    assert summary.total_training_modes == {"train": 4, "eval": 1}


def test_depth_one_shows_children_and_the_table_names_leftover_parameters():
    summary = summarize(TwoBranches())
    assert summary.layer_names == ["late", "early", "unused"]
    table = str(summary)
    header = [cell.strip() for cell in table.splitlines()[0].split("|")]
    assert header == ["", "Name", "Type", "Params", "Mode", "FLOPs", "In sizes", "Out sizes"]
    assert LEFTOVER_PARAMS_NAME in table and "30        Total params" in table
    assert summarize(TwoBranches(), max_depth=0).layer_names == []


@pytest.mark.parametrize("depth", [-2, "deep", True])
def test_a_bad_depth_is_refused(depth):
    with pytest.raises(ValueError, match=f"`max_depth` can be -1, 0 or > 0, got {depth}"):
        summarize(TwoBranches(), max_depth=depth)


def test_lazy_layers_count_zero_with_a_warning():
    model = torch.nn.Sequential(torch.nn.LazyLinear(3))
    summary = summarize(model)
    with pytest.warns(UserWarning, match="may be inaccurate because the model contains an instance of"):
        assert summary.total_parameters == 0


def test_human_readable_counts():
    assert [get_human_readable_count(n) for n in (0, 123, 1234, 2e6, 4e14, 5e15)] == [
        "0  ", "123  ", "1.2 K", "2.0 M", "400 T", "5,000 T"
    ]  # fmt: skip
