"""RichProgressBar draws one rich task per bar: sanity check, training, each validation run; it can be switched off."""

from __future__ import annotations

import pickle

from flashtrain.core.callbacks import RichProgressBar, RichProgressBarTheme
from tests.core.helpers import RegressionModule, loader, quiet_trainer


def _trainer(bar, **kwargs):
    return quiet_trainer(callbacks=[bar], enable_progress_bar=True, **kwargs)


def test_the_bars_count_the_batches_of_each_stage():
    bar = RichProgressBar(console_kwargs={"force_terminal": False, "quiet": True})
    trainer = _trainer(bar, max_epochs=2, limit_train_batches=3, num_sanity_val_steps=2, val_check_interval=2)
    assert trainer.progress_bar_callback is bar
    trainer.fit(RegressionModule(), loader(n=32), loader(n=32))
    sanity, train, *validations = bar.progress.tasks
    assert (sanity.description, sanity.completed, sanity.total, sanity.visible) == ("Sanity Checking", 2, 2, False)
    assert (train.completed, train.total, train.visible) == (3, 3, True)
    assert train.description.startswith("Epoch 1/1")  # one training bar, reset each epoch
    assert len(validations) == 2 and all(v.completed == v.total == 4 and not v.visible for v in validations)
    assert {"train_loss_step", "val_loss"} <= set(bar.metrics_column.metrics)  # the prog_bar metrics are shown
    trainer.validate(RegressionModule(), loader(n=16), verbose=False)
    (validation,) = bar.progress.tasks  # a new stage draws on a new display
    assert validation.completed == validation.total == 2


def test_a_disabled_bar_draws_nothing_and_the_bar_pickles_between_stages():
    bar = RichProgressBar(refresh_rate=0)
    assert bar.is_disabled and not bar.is_enabled
    _trainer(bar, max_epochs=1, limit_train_batches=2).fit(RegressionModule(), loader(n=16))
    assert bar.progress is None
    drawn = RichProgressBar(console_kwargs={"quiet": True})
    _trainer(drawn, max_epochs=1, limit_train_batches=2).fit(RegressionModule(), loader(n=16))
    restored = pickle.loads(pickle.dumps(drawn))
    assert restored.progress is None and restored.theme == drawn.theme


def test_the_theme_sets_how_metrics_are_written():
    assert RichProgressBar().theme.metrics_format == ".3f"
    theme = RichProgressBarTheme(metrics_format=".2e", metrics_text_delimiter=" | ")
    bar = RichProgressBar(theme=theme, console_kwargs={"quiet": True})
    _trainer(bar, max_epochs=1, limit_train_batches=2).fit(RegressionModule(), loader(n=16))
    text = bar.metrics_column.render(bar.progress.tasks[0]).plain
    assert " | " in text and ("e-" in text or "e+" in text)
