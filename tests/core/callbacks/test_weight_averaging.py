"""EMA and SWA callbacks: the averages they compute, validation and checkpoints on the averaged weights, and
resume that is exact bit for bit (CPU)."""

from __future__ import annotations

import pytest
import torch

from flashtrain.core import Callback, seed_everything
from flashtrain.core.callbacks import ModelCheckpoint
from flashtrain.core.callbacks.weight_averaging import EMAWeightAveraging, StochasticWeightAveraging
from flashtrain.core.checkpoint import load_checkpoint
from tests.core.helpers import RegressionModule, loader, quiet_trainer


class Recorder(Callback):
    """Weights after every optimizer step and at every epoch end."""

    def __init__(self):
        self.steps, self.epochs = [], []

    def on_train_batch_end(self, trainer, pl_module, outputs, batch, batch_idx):
        self.steps.append([p.detach().clone() for p in pl_module.parameters()])

    def on_train_epoch_end(self, trainer, pl_module):
        self.epochs.append([p.detach().clone() for p in pl_module.parameters()])


def test_ema_is_the_exponential_average_of_every_step_and_validation_uses_it():
    seed_everything(0)
    recorder, ema = Recorder(), EMAWeightAveraging(decay=0.9)
    model = RegressionModule(dropout=0.0)
    trainer = quiet_trainer(max_epochs=2, callbacks=[recorder, ema])
    trainer.fit(model, loader(32), loader(16))
    in_fit_val_loss = float(trainer.callback_metrics["val_loss"])

    expected = recorder.steps[0]  # the first update copies the weights
    for weights in recorder.steps[1:]:
        expected = [0.9 * e + 0.1 * w for e, w in zip(expected, weights)]
    for final, want, raw in zip(model.parameters(), expected, recorder.steps[-1]):
        assert torch.allclose(final, want, atol=1e-6)
        assert not torch.allclose(final, raw)  # the average is not the last weights
    assert int(ema.average_model.n_averaged) == 8
    # The epoch's validation ran on the average, which fit leaves in the model.
    (result,) = quiet_trainer().validate(model, loader(16), verbose=False)
    assert result["val_loss"] == pytest.approx(in_fit_val_loss, rel=1e-6)


def test_ema_update_schedule_options():
    seed_everything(0)
    ema = EMAWeightAveraging(decay=0.5, update_every_n_steps=2, update_starting_at_step=3)
    quiet_trainer(max_epochs=3, callbacks=[ema]).fit(RegressionModule(), loader(32))
    assert int(ema.average_model.n_averaged) == 4  # of the 0-based steps 0..11: 4, 6, 8 and 10


def test_ema_from_an_epoch_on_takes_in_each_epoch_end_too():
    ema = EMAWeightAveraging(update_starting_at_epoch=2)
    assert [ema.should_update(epoch_idx=epoch) for epoch in range(4)] == [False, False, True, True]
    assert not EMAWeightAveraging().should_update(epoch_idx=5)  # no epoch rule: steps only


def test_swa_averages_epoch_ends_from_swa_epoch_start_and_anneals_to_swa_lr():
    seed_everything(0)
    recorder = Recorder()
    swa = StochasticWeightAveraging(swa_lrs=0.01, swa_epoch_start=2, annealing_epochs=2)
    model = RegressionModule(lr=0.05)
    trainer = quiet_trainer(max_epochs=4, callbacks=[recorder, swa])
    trainer.fit(model, loader(32))

    assert swa.swa_start == 1
    expected = [torch.stack(weights).mean(dim=0) for weights in zip(*recorder.epochs[1:])]  # epochs 1, 2, 3
    for final, want in zip(model.parameters(), expected):
        assert torch.allclose(final, want, atol=1e-6)
    assert int(swa.average_model.n_averaged) == 3
    assert trainer.optimizers[0].param_groups[0]["lr"] == pytest.approx(0.01)


def test_checkpoints_hold_the_average_as_state_dict_and_the_trained_weights_beside_it(tmp_path):
    seed_everything(0)
    recorder = Recorder()
    checkpoint = ModelCheckpoint(dirpath=str(tmp_path), save_last=True)
    model = RegressionModule()
    trainer = quiet_trainer(
        max_epochs=2, enable_checkpointing=True, callbacks=[recorder, EMAWeightAveraging(decay=0.8), checkpoint]
    )
    trainer.fit(model, loader(32))
    saved = load_checkpoint(str(tmp_path / "last.ckpt"))
    for key, value in model.state_dict().items():
        assert torch.equal(saved["state_dict"][key], value), key
    raw = dict(zip([name for name, _ in model.named_parameters()], recorder.steps[-1]))
    for key, value in raw.items():
        assert torch.equal(saved["current_model_state"][key], value), key
    loaded = RegressionModule.load_from_checkpoint(str(tmp_path / "last.ckpt"))
    assert all(torch.equal(a, b) for a, b in zip(loaded.parameters(), model.parameters()))


class StopAt(Callback):
    def __init__(self, step):
        self.step = step

    def on_train_batch_end(self, trainer, pl_module, outputs, batch, batch_idx):
        if trainer.global_step == self.step:
            raise RuntimeError("interrupted")


def averaging_run(tmp_path, make_callback, stop_at=None, ckpt_path=None):
    seed_everything(0)
    model = RegressionModule()
    callbacks = [
        make_callback(),
        ModelCheckpoint(dirpath=str(tmp_path), every_n_train_steps=1, save_last=True, save_top_k=0),
    ]
    if stop_at is not None:
        callbacks.insert(0, StopAt(stop_at))
    trainer = quiet_trainer(max_epochs=4, enable_checkpointing=True, callbacks=callbacks)
    trainer.fit(model, loader(64, shuffle=True), ckpt_path=ckpt_path)
    return model


@pytest.mark.parametrize(
    ("make_callback", "stop_at"),
    [
        (lambda: EMAWeightAveraging(decay=0.9), 13),
        (lambda: StochasticWeightAveraging(swa_lrs=0.02, swa_epoch_start=2, annealing_epochs=2), 20),  # in SWA
    ],
    ids=["ema", "swa"],
)
def test_an_interrupted_run_resumes_to_the_same_weights_bit_for_bit(tmp_path, make_callback, stop_at):
    full = averaging_run(tmp_path / "full", make_callback)
    with pytest.raises(RuntimeError, match="interrupted"):
        averaging_run(tmp_path / "cut", make_callback, stop_at=stop_at)
    assert load_checkpoint(str(tmp_path / "cut" / "last.ckpt"))["global_step"] == stop_at - 1
    resumed = averaging_run(tmp_path / "cut", make_callback, ckpt_path=str(tmp_path / "cut" / "last.ckpt"))
    for key, value in full.state_dict().items():
        assert torch.equal(resumed.state_dict()[key], value), key


def test_resume_without_the_average_state_differs(tmp_path):
    """The comparison above can fail: the same checkpoint without the callback's state resumes elsewhere."""
    make = lambda: EMAWeightAveraging(decay=0.9)  # noqa: E731
    full = averaging_run(tmp_path / "full", make)
    with pytest.raises(RuntimeError, match="interrupted"):
        averaging_run(tmp_path / "cut", make, stop_at=13)
    path = tmp_path / "cut" / "last.ckpt"
    checkpoint = torch.load(path, weights_only=True)
    assert set(checkpoint["callbacks"]["EMAWeightAveraging"]) == {
        "average",
        "latest_update_step",
        "latest_update_epoch",
    }
    del checkpoint["callbacks"]["EMAWeightAveraging"]
    torch.save(checkpoint, path)
    resumed = averaging_run(tmp_path / "cut", make, ckpt_path=str(path))
    assert not all(torch.equal(resumed.state_dict()[k], v) for k, v in full.state_dict().items())


@pytest.mark.parametrize(
    ("make", "match"),
    [
        (lambda: EMAWeightAveraging(decay=1.5), r"decay must be a number in \[0, 1\], got 1.5"),
        (lambda: EMAWeightAveraging(update_every_n_steps=0), "update_every_n_steps must be an int >= 1, got 0"),
        (
            lambda: StochasticWeightAveraging(swa_lrs=0.0),
            "should be a positive float, or a list of positive floats; got 0.0",
        ),
        (
            lambda: StochasticWeightAveraging(0.1, swa_epoch_start=0),
            r"`swa_epoch_start` should be a >0 integer or a float between 0 and 1 .* got 0",
        ),
        (lambda: StochasticWeightAveraging(0.1, annealing_strategy="step"), r"one of \['cos', 'linear'\], got 'step'"),
    ],
)
def test_bad_arguments_are_refused(make, match):
    with pytest.raises(ValueError, match=match):
        make()


def test_swa_needs_one_rate_per_parameter_group():
    with pytest.raises(ValueError, match=r"got 2 swa_lrs for an optimizer with 1 parameter group\(s\)"):
        quiet_trainer(max_epochs=1, callbacks=[StochasticWeightAveraging([0.1, 0.2])]).fit(RegressionModule(), loader())


def test_swa_rates_per_group_become_the_schedules_base_and_a_step_scheduler_is_replaced(caplog):
    import logging

    class TwoGroups(RegressionModule):
        def configure_optimizers(self):
            first, second = self.net.layers[0], self.net.layers[3]
            optimizer = torch.optim.SGD(
                [{"params": first.parameters(), "lr": 0.1}, {"params": second.parameters()}], lr=0.2
            )
            return {
                "optimizer": optimizer,
                "lr_scheduler": {"scheduler": torch.optim.lr_scheduler.StepLR(optimizer, 1), "interval": "step"},
            }

    swa = StochasticWeightAveraging(swa_lrs=[0.05, 0.07], swa_epoch_start=1)
    trainer = quiet_trainer(max_epochs=1, limit_train_batches=2, callbacks=[swa])
    with caplog.at_level(logging.INFO), pytest.warns(UserWarning, match="SWA is currently only supported every epoch"):
        trainer.fit(TwoGroups(), loader())
    assert "Swapping scheduler `StepLR` for `SWALR`" in caplog.text
    assert [group["initial_lr"] for group in trainer.optimizers[0].param_groups] == [0.05, 0.07]
    with pytest.raises(ValueError, match="a list of positive floats"):
        StochasticWeightAveraging(swa_lrs=[0.2, 1])  # an int among the rates is refused, as Lightning does
