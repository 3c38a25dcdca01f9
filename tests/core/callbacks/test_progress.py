"""The progress bar's plain per-epoch line (stderr not a terminal) shows the epoch it names."""

from __future__ import annotations

import pytest

from flashtrain.core.callbacks import ProgressBar
from tests.core.helpers import RegressionModule, loader, quiet_trainer


class LogsItsEpoch(RegressionModule):
    def training_step(self, batch, batch_idx):
        self.log("seen_epoch", float(self.current_epoch), on_step=False, on_epoch=True, prog_bar=True)
        return super().training_step(batch, batch_idx)


def test_the_epoch_line_shows_that_epochs_on_epoch_metrics(capsys):
    """It used to print before the epoch's metrics were reduced: one epoch late (issue 13, item 7)."""
    quiet_trainer(max_epochs=3, enable_progress_bar=True, callbacks=[ProgressBar()]).fit(LogsItsEpoch(), loader())
    lines = [line for line in capsys.readouterr().err.splitlines() if line.startswith("Epoch ")]
    assert [line.split(":")[0] for line in lines] == ["Epoch 0", "Epoch 1", "Epoch 2"]
    for epoch, line in enumerate(lines):
        assert f"seen_epoch={epoch:.3g}" in line, line


def test_a_progress_bar_subclass_changes_what_is_shown_through_get_metrics(capsys):
    class Renamed(ProgressBar):
        def get_metrics(self, trainer, pl_module):
            items = super().get_metrics(trainer, pl_module)
            return {"shown_loss": items["train_loss_step"]}

    bar = Renamed()
    trainer = quiet_trainer(max_epochs=1, enable_progress_bar=True, callbacks=[bar])
    trainer.fit(RegressionModule(), loader())
    assert bar.trainer is trainer
    assert set(bar.get_metrics(trainer, trainer.lightning_module)) == {"shown_loss"}
    assert "shown_loss=" in capsys.readouterr().err  # the epoch line (stderr is not a terminal here)


def test_tqdms_own_miniters_variable_is_a_floor_for_the_refresh_rate(monkeypatch):
    from flashtrain.core.callbacks import ProgressBar, RichProgressBar

    monkeypatch.setenv("TQDM_MINITERS", "5")
    assert ProgressBar(refresh_rate=1).refresh_rate == 5
    assert ProgressBar(refresh_rate=8).refresh_rate == 8
    assert RichProgressBar(refresh_rate=1).refresh_rate == 1  # a tqdm setting: rich bars ignore it


def test_the_bars_are_public_and_made_by_the_init_hooks():
    """Lightning's TQDMProgressBar API: one bar per stage, read after the run; each made by an overridable hook."""
    made: list[str] = []

    class Counting(ProgressBar):
        def init_train_tqdm(self):
            made.append("train")
            return super().init_train_tqdm()

        def init_validation_tqdm(self):
            made.append("validate")
            return super().init_validation_tqdm()

    bar = Counting(leave=False)
    with pytest.raises(TypeError, match=r"train_progress_bar` is set once a train run has started"):
        _ = bar.train_progress_bar
    trainer = quiet_trainer(max_epochs=2, enable_progress_bar=True, callbacks=[bar], limit_val_batches=2)
    trainer.fit(RegressionModule(), loader(), loader())
    assert made == ["train", "validate", "validate"]  # leave=False: one training bar, redrawn each epoch
    assert bar.train_progress_bar.total == trainer.num_training_batches
    assert bar.val_progress_bar.total == 2
    trainer.test(RegressionModule(), loader(), verbose=False)
    assert bar.test_progress_bar.total == trainer.num_eval_batches
    left = Counting(leave=True)
    made.clear()
    quiet_trainer(max_epochs=2, enable_progress_bar=True, callbacks=[left], limit_val_batches=0).fit(
        RegressionModule(), loader()
    )
    assert made == ["train", "train", "train"]  # one at the start, then a new one per epoch


def test_disable_and_enable_switch_the_bar():
    bar = ProgressBar()
    assert bar.is_enabled
    bar.disable()
    assert bar.is_disabled
    bar.enable()
    assert bar.is_enabled
    assert ProgressBar(refresh_rate=0).is_disabled


class Prints(RegressionModule):
    def training_step(self, batch, batch_idx):
        self.print("step", batch_idx, sep="=", end="|")
        return super().training_step(batch, batch_idx)


def test_module_print_goes_through_the_bar_while_it_is_enabled_else_plain_print(monkeypatch, capsys):
    from tqdm import tqdm

    written = []
    monkeypatch.setattr(tqdm, "write", classmethod(lambda cls, s, **kwargs: written.append((s, kwargs))))
    quiet_trainer(max_steps=1, enable_progress_bar=True, callbacks=[ProgressBar()]).fit(Prints(), loader(8))
    assert written == [("step=0", {"end": "|"})]

    bar = ProgressBar()
    bar.disable()
    quiet_trainer(max_steps=1, enable_progress_bar=True, callbacks=[bar]).fit(Prints(), loader(8))
    assert len(written) == 1 and "step=0|" in capsys.readouterr().out


def test_two_progress_bars_or_a_bar_with_the_bar_turned_off_are_refused():
    from flashtrain.core import Trainer
    from flashtrain.core.exceptions import MisconfigurationException

    with pytest.raises(MisconfigurationException, match="^You added multiple progress bar callbacks"):
        Trainer(callbacks=[ProgressBar(), ProgressBar()], logger=False)
    with pytest.raises(MisconfigurationException, match="`enable_progress_bar=False` but found `TQDMProgressBar`"):
        Trainer(callbacks=[ProgressBar()], enable_progress_bar=False, logger=False)


def test_the_bar_totals_follow_the_epochs_that_validate():
    totals = []

    class Totals(ProgressBar):
        def on_train_epoch_end(self, trainer, pl_module):
            totals.append((self.total_train_batches, self.total_val_batches))

    trainer = quiet_trainer(
        max_epochs=4, check_val_every_n_epoch=2, limit_val_batches=2, callbacks=[Totals()], enable_progress_bar=True
    )
    trainer.fit(RegressionModule(), loader(n=32), loader(n=32))
    assert totals == [(4, 0), (4, 2), (4, 0), (4, 2)]

    class AtEpochStart(ProgressBar):
        def on_train_epoch_start(self, trainer, pl_module):
            super().on_train_epoch_start(trainer, pl_module)
            totals.append(self.total_train_batches)

    totals.clear()
    quiet_trainer(max_steps=6, max_epochs=-1, callbacks=[AtEpochStart()], enable_progress_bar=True).fit(
        RegressionModule(), loader(n=32), loader(n=32)
    )
    assert totals == [4, 2]  # the last epoch stops at max_steps
