"""measure_flops: the FLOPs torch counts for a forward, or a forward, loss and backward (Lightning's utility)."""

from __future__ import annotations

import torch

from flashtrain.core.utilities.throughput import measure_flops


def test_measure_flops_counts_a_linear_layer_forward_and_backward_on_meta_tensors():
    with torch.device("meta"):  # nothing is computed: only the shapes are counted
        layer = torch.nn.Linear(32, 2)
        x = torch.randn(4, 32)
    forward = measure_flops(layer, lambda: layer(x))
    assert forward == 2 * 4 * 32 * 2  # one multiply-add per weight per row
    with_backward = measure_flops(layer, lambda: layer(x), lambda y: y.sum())
    assert (
        isinstance(with_backward, int) and with_backward == 2 * forward
    )  # the weight's gradient (the input needs none)
