"""Module conveniences Lightning code uses: loggers, on_gpu, dtype, example_input_array, all_gather, export."""

from __future__ import annotations

import pytest
import torch

from flashtrain.core import Trainer
from flashtrain.core.loggers import CSVLogger, TensorBoardLogger
from tests.core.helpers import RegressionModule, loader


def test_loggers_dtype_and_on_gpu_outside_and_inside_a_run(tmp_path):
    model = RegressionModule()
    assert model.loggers == [] and model.on_gpu is False
    assert model.dtype == torch.float32
    assert model.double().dtype == torch.float64
    model.float()

    seen = {}

    class Spy(RegressionModule):
        def on_train_start(self):
            seen["loggers"] = [type(logger).__name__ for logger in self.loggers]

    loggers = [CSVLogger(tmp_path), TensorBoardLogger(tmp_path)]
    trainer = Trainer(max_epochs=1, logger=loggers, enable_checkpointing=False, enable_progress_bar=False)
    trainer.fit(Spy(), loader(16))
    assert seen["loggers"] == ["CSVLogger", "TensorBoardLogger"]


def test_example_input_array_feeds_trace_export(tmp_path):
    torch.manual_seed(0)
    model = RegressionModule()
    assert model.example_input_array is None
    model.example_input_array = torch.randn(2, 8)
    traced = model.to_torchscript(tmp_path / "m.pt", method="trace")
    x = torch.randn(5, 8)
    with torch.no_grad():
        torch.testing.assert_close(traced(x), model.eval()(x))
    assert (tmp_path / "m.pt").exists()


def test_all_gather_on_one_process_returns_the_data_unchanged():
    model = RegressionModule()
    data = {"a": torch.arange(3), "b": [torch.ones(2)]}
    gathered = model.all_gather(data)
    assert gathered is data


def test_a_module_scripts_without_a_trainer_and_still_refuses_trainer_access_after():
    model = RegressionModule()
    scripted = model.to_torchscript()
    x = torch.randn(3, 8)
    with torch.no_grad():
        torch.testing.assert_close(scripted(x), model.eval()(x))
    with pytest.raises(RuntimeError, match="not attached to a Trainer"):
        _ = model.trainer
