"""precision="16-mixed" on a CPU trains in bfloat16 autocast, with Lightning 2.6's warning."""

from __future__ import annotations

import pytest
import torch

from tests.core.helpers import RegressionModule, loader, quiet_trainer


def test_16_mixed_on_cpu_warns_and_trains_in_bfloat16_autocast():
    seen = []

    class Spy(RegressionModule):
        def training_step(self, batch, batch_idx):
            seen.append((torch.is_autocast_cpu_enabled(), self(batch[0]).dtype))
            return super().training_step(batch, batch_idx)

    with pytest.warns(UserWarning, match=r"AMP with fp16 is not supported on CPU. Using `precision='bf16-mixed'`"):
        trainer = quiet_trainer(accelerator="cpu", precision="16-mixed", max_steps=1)
    assert trainer.precision == "bf16-mixed"
    trainer.fit(Spy(), loader(16))
    assert seen == [(True, torch.bfloat16)]


@pytest.mark.parametrize(("flag", "plugin_precision"), [("32", "32-true"), ("bf16-mixed", "bf16-mixed")])
def test_trainer_precision_plugin_is_the_strategys_plugin_with_lightnings_attributes(flag, plugin_precision):
    trainer = quiet_trainer(accelerator="cpu", precision=flag)
    plugin = trainer.precision_plugin
    assert plugin is trainer.strategy.precision and plugin.precision == plugin_precision == trainer.precision
    if plugin_precision == "bf16-mixed":
        assert plugin.device == "cpu"  # what autocast runs on, read by code that checks autocast is on
