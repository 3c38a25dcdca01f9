"""How a Trainer call ends when it is interrupted or fails (Lightning 2's status and exit)."""

from __future__ import annotations

import pytest

from flashtrain.core import Callback
from flashtrain.core.trainer.state import TrainerStatus
from tests.core.helpers import RegressionModule, loader, quiet_trainer


class _Raise(Callback):
    def __init__(self, error: BaseException) -> None:
        self.error = error
        self.seen: list[BaseException] = []
        self.torn_down = False

    def on_train_batch_start(self, trainer, pl_module, batch, batch_idx):
        raise self.error

    def on_exception(self, trainer, pl_module, exception):
        self.seen.append(exception)

    def teardown(self, trainer, pl_module, stage):
        self.torn_down = True


def test_ctrl_c_shuts_down_gracefully_then_exits(capsys):
    callback = _Raise(KeyboardInterrupt())
    trainer = quiet_trainer(max_epochs=1, callbacks=[callback])
    with pytest.raises(SystemExit) as exit_info:
        trainer.fit(RegressionModule(), loader(16))
    assert exit_info.value.code == 130  # the shell's status for Ctrl-C
    assert "Detected KeyboardInterrupt, attempting graceful shutdown" in capsys.readouterr().err
    assert isinstance(callback.seen[0], KeyboardInterrupt) and callback.torn_down
    assert trainer.interrupted and trainer.state.status == TrainerStatus.INTERRUPTED


def test_an_error_leaves_the_trainer_interrupted_with_a_failed_status():
    trainer = quiet_trainer(max_epochs=1, callbacks=[_Raise(RuntimeError("boom"))])
    with pytest.raises(RuntimeError, match="boom"):
        trainer.fit(RegressionModule(), loader(16))
    assert trainer.interrupted and trainer.state.status == TrainerStatus.FAILED


def test_sigterm_saves_raises_sigterm_exception_and_still_runs_the_programs_own_handler(tmp_path):
    import os
    import signal

    from flashtrain.core.exceptions import SIGTERMException

    own_handler_calls = []
    previous = signal.signal(signal.SIGTERM, lambda signum, frame: own_handler_calls.append(signum))

    class SelfTerminating(RegressionModule):
        def training_step(self, batch, batch_idx):
            if batch_idx == 1:
                os.kill(os.getpid(), signal.SIGTERM)
            return super().training_step(batch, batch_idx)

    trainer = quiet_trainer(max_epochs=1, default_root_dir=tmp_path)
    assert not trainer.received_sigterm
    try:
        with pytest.raises(SIGTERMException) as exit_info:
            trainer.fit(SelfTerminating(), loader(64))
    finally:
        signal.signal(signal.SIGTERM, previous)
    assert isinstance(exit_info.value, SystemExit) and exit_info.value.code == 128 + signal.SIGTERM
    assert trainer.received_sigterm and own_handler_calls == [signal.SIGTERM]
    assert trainer.global_step == 2  # the step in flight finished before the stop
