"""Which checkpoint a Trainer call loads, and ``trainer.ckpt_path`` telling which one it was (Lightning 2)."""

from __future__ import annotations

import pytest

from flashtrain.core.callbacks import ModelCheckpoint
from tests.core.helpers import RegressionModule, loader, silent_trainer


def _fitted(tmp_path, **checkpoint_kwargs):
    callback = ModelCheckpoint(dirpath=str(tmp_path / "ckpts"), monitor="val_loss", **checkpoint_kwargs)
    trainer = silent_trainer(tmp_path, max_epochs=2, logger=False, callbacks=[callback], num_sanity_val_steps=0)
    model = RegressionModule()
    trainer.fit(model, loader(32), loader(16))
    return trainer, model, callback


def test_evaluation_without_a_model_loads_the_best_checkpoint_and_says_so(tmp_path):
    trainer, model, callback = _fitted(tmp_path)
    assert trainer.ckpt_path is None  # fit started from scratch
    with pytest.warns(UserWarning, match=r"`.validate\(ckpt_path=None\)` was called without a model. The best model"):
        trainer.validate(dataloaders=loader(16), verbose=False)
    assert trainer.ckpt_path == callback.best_model_path

    trainer.test(model, dataloaders=loader(16), verbose=False)  # a model given: its own weights, nothing loaded
    assert trainer.ckpt_path is None


def test_best_without_a_saved_best_is_an_error_naming_the_call(tmp_path):
    trainer, model, _ = _fitted(tmp_path, save_top_k=0)
    with pytest.raises(ValueError, match=r'`.test\(ckpt_path="best"\)` is set but `ModelCheckpoint` is not configured'):
        trainer.test(model, dataloaders=loader(16), ckpt_path="best")


def test_last_with_nothing_saved_warns_and_loads_nothing(tmp_path):
    trainer = silent_trainer(tmp_path, max_epochs=1, logger=False, enable_checkpointing=False)
    with pytest.warns(UserWarning, match=r'.fit\(ckpt_path="last"\) is set, but there is no last checkpoint'):
        trainer.fit(RegressionModule(), loader(16), ckpt_path="last")
    assert trainer.ckpt_path is None


def test_a_path_set_on_the_trainer_is_loaded_until_a_call_passes_its_own(tmp_path):
    trainer, model, callback = _fitted(tmp_path, save_top_k=-1)
    first, second = sorted((tmp_path / "ckpts").glob("*.ckpt"))[:2]
    trainer.ckpt_path = first
    trainer.validate(model, dataloaders=loader(16), verbose=False)
    assert trainer.ckpt_path == str(first)  # still set: the next call loads it again
    with pytest.warns(UserWarning, match="The latter will be loaded"):
        trainer.validate(model, dataloaders=loader(16), ckpt_path=str(second), verbose=False)
    assert trainer.ckpt_path == str(second)
    trainer.validate(model, dataloaders=loader(16), verbose=False)
    assert trainer.ckpt_path is None  # the user's path was replaced by the call's, which was for that call only


def test_resuming_without_a_callback_whose_state_the_checkpoint_holds_warns_naming_it(tmp_path):
    import warnings

    from tests.core.helpers import quiet_trainer

    by_loss, by_step = ModelCheckpoint(monitor="train_loss"), ModelCheckpoint(monitor="step", mode="max")
    first = quiet_trainer(
        max_steps=2, default_root_dir=tmp_path, enable_checkpointing=True, callbacks=[by_loss, by_step]
    )
    first.fit(RegressionModule(), loader(16))
    with pytest.warns(UserWarning, match=r"Please add the following callbacks: \[\"ModelCheckpoint\{'monitor': 'step'"):
        again = quiet_trainer(max_steps=3, default_root_dir=tmp_path, enable_checkpointing=True, callbacks=[by_loss])
        again.fit(RegressionModule(), loader(16), ckpt_path=by_loss.best_model_path)
    with warnings.catch_warnings():
        warnings.filterwarnings("error", message="Be aware that when using `ckpt_path`")
        both = [ModelCheckpoint(monitor="step", mode="max"), ModelCheckpoint(monitor="train_loss")]
        quiet_trainer(max_steps=3, enable_checkpointing=True, callbacks=both, default_root_dir=tmp_path).fit(
            RegressionModule(), loader(16), ckpt_path=by_loss.best_model_path
        )
