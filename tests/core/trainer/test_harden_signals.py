"""A second Ctrl-C while the interrupt checkpoint is written waits for it instead of leaving it half done."""

import os
import signal

import pytest

from flashtrain.core.trainer.signals import SignalHandler


def test_a_second_ctrl_c_during_the_interrupt_save_does_not_abort_it(capsys):
    handler = SignalHandler()
    written = []

    def save():
        os.kill(os.getpid(), signal.SIGINT)  # the impatient second Ctrl-C, in the middle of writing
        for _ in range(1000):  # the handler runs between bytecodes: give it room to run here
            pass
        written.append("last.ckpt")
        return "last.ckpt"

    with handler.installed():
        os.kill(os.getpid(), signal.SIGINT)  # the first: stop at the end of the step
        assert handler.received == signal.SIGINT
        with pytest.raises(KeyboardInterrupt):
            handler.stop(save, step=7)
    assert written == ["last.ckpt"]
    err = capsys.readouterr().err
    assert "SIGINT received while saving the interrupt checkpoint: stopping as soon as it is written." in err
    assert "saved last.ckpt at step 7" in err


def test_a_second_ctrl_c_outside_the_save_still_stops_at_once():
    handler = SignalHandler()
    with handler.installed(), pytest.raises(KeyboardInterrupt):
        os.kill(os.getpid(), signal.SIGINT)
        os.kill(os.getpid(), signal.SIGINT)
        for _ in range(1000):
            pass


def test_devices_minus_one_as_text_is_minus_one():
    from flashtrain.core.accelerators.cpu import CPUAccelerator
    from flashtrain.core.trainer.connector import _parse_devices

    assert _parse_devices("-1", CPUAccelerator(), 1) == _parse_devices(-1, CPUAccelerator(), 1)
