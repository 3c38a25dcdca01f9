"""``grad_norm``: per-parameter and total gradient norms under Lightning's names."""

from __future__ import annotations

import math

import pytest
import torch

from flashtrain.core.utilities.grads import grad_norm


def _model() -> torch.nn.Module:
    model = torch.nn.Linear(2, 1)
    model.weight.grad = torch.tensor([[3.0, -4.0]])  # the bias has no gradient: left out
    return model


@pytest.mark.parametrize(("norm_type", "expected"), [(2, 5.0), (1, 7.0), ("inf", 4.0)])
def test_norms_per_parameter_and_in_total(norm_type, expected):
    norms = grad_norm(_model(), norm_type)
    p = float(norm_type)
    assert norms == {f"grad_{p}_norm/weight": pytest.approx(expected), f"grad_{p}_norm_total": pytest.approx(expected)}


def test_large_double_gradients_stay_finite_and_bad_norms_are_refused():
    model = torch.nn.Linear(1, 1, bias=False).double()
    model.weight.grad = torch.full_like(model.weight, 1e200)
    assert all(math.isfinite(v) for v in grad_norm(model, 2).values())
    with pytest.raises(ValueError, match="`norm_type` must be a positive number or 'inf'"):
        grad_norm(model, 0)
