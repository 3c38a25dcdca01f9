"""The Trainer's callbacks are in run order from the start (Lightning 2's rule): checkpoint writers last."""

from __future__ import annotations

from flashtrain.core import Trainer
from flashtrain.core.callbacks import EarlyStopping, LearningRateMonitor, ModelCheckpoint, ModelSummary


def test_checkpoint_writers_come_last_as_soon_as_the_trainer_is_built(tmp_path):
    checkpoint, stopping = ModelCheckpoint(dirpath=tmp_path), EarlyStopping(monitor="val_loss")
    monitor = LearningRateMonitor()
    trainer = Trainer(callbacks=[checkpoint, monitor, stopping], logger=False, enable_progress_bar=False)
    assert trainer.callbacks[-1] is checkpoint is trainer.checkpoint_callback
    # the others keep their order; the monitoring ones (early stopping) run after them, before the checkpoint
    assert [type(cb) for cb in trainer.callbacks] == [LearningRateMonitor, ModelSummary, EarlyStopping, ModelCheckpoint]
    assert trainer.callbacks[0] is monitor and trainer.callbacks[2] is stopping
