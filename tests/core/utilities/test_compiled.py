"""trainer.fit(torch.compile(model)) trains the Module itself, compiled; its checkpoints have plain keys."""

from __future__ import annotations

import pytest
import torch

from flashtrain.core import Module, Trainer
from flashtrain.core.checkpoint import load_checkpoint
from flashtrain.core.utilities.compiled import strip_compile_prefix, unwrap_compiled
from tests.core.helpers import RegressionModule, loader


def test_unwrap_returns_the_module_with_compiled_methods_and_leaves_others_alone():
    model = RegressionModule()
    compiled = torch.compile(model)
    inner = unwrap_compiled(compiled, Module)
    assert inner is model and "forward" in vars(model) and "training_step" in vars(model)
    plain = RegressionModule()
    assert unwrap_compiled(plain, Module) is plain and "forward" not in vars(plain)


def test_strip_compile_prefix():
    assert strip_compile_prefix({"_orig_mod.w": 1, "_orig_mod.b": 2}) == {"w": 1, "b": 2}
    same = {"w": 1}
    assert strip_compile_prefix(same) is same


@pytest.mark.slow
def test_fit_a_compiled_module_and_load_its_checkpoint(tmp_path):
    torch.manual_seed(0)
    model = RegressionModule()
    trainer = Trainer(max_epochs=1, logger=False, enable_progress_bar=False, default_root_dir=tmp_path)
    trainer.fit(torch.compile(model), loader(16, batch_size=8))
    assert trainer.lightning_module is model and trainer.global_step == 2
    path = trainer.checkpoint_callback.best_model_path
    assert not any(key.startswith("_orig_mod.") for key in load_checkpoint(path)["state_dict"])
    restored = RegressionModule.load_from_checkpoint(path)
    torch.testing.assert_close(restored.state_dict(), {k: v for k, v in model.state_dict().items()})
    # A state dict saved from the compiled wrapper itself loads too.
    wrapped = {f"_orig_mod.{k}": v for k, v in model.state_dict().items()}
    torch.save({**load_checkpoint(path), "state_dict": wrapped}, tmp_path / "wrapped.ckpt")
    RegressionModule.load_from_checkpoint(str(tmp_path / "wrapped.ckpt"))
