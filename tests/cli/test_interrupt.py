"""Ctrl-C during a flash-train run: one line and status 130, also now that the Trainer ends it with SystemExit."""

from __future__ import annotations

from flashtrain.cli import main as cli_main
from flashtrain.core import Callback
from tests.core.helpers import RegressionModule, loader, quiet_trainer


class _CtrlC(Callback):
    def on_train_batch_start(self, trainer, pl_module, batch, batch_idx):
        raise KeyboardInterrupt


def test_an_interrupted_fit_is_reported_in_one_line(monkeypatch, capsys):
    class Options:
        command = "image_classification"

        @staticmethod
        def run(options):
            quiet_trainer(max_epochs=1, callbacks=[_CtrlC()]).fit(RegressionModule(), loader(16))

    monkeypatch.setattr(cli_main, "resolve_options", lambda parser, argv: Options())
    assert cli_main.main(["image_classification"]) == 130
    assert capsys.readouterr().err.strip().endswith("flash-train: interrupted")
