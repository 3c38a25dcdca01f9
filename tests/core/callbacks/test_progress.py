"""The progress bar's plain per-epoch line (stderr not a terminal) shows the epoch it names."""

from __future__ import annotations

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
