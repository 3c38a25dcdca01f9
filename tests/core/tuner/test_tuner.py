"""Tuner: the learning-rate range test and the batch-size finder, on tiny regression models."""

from __future__ import annotations

import logging
import math

import pytest
import torch
import torch.nn.functional as F
from torch.utils.data import DataLoader

from flashtrain.core import DataModule, seed_everything
from flashtrain.core.tuner import LRFinder, Tuner
from tests.core.helpers import RegressionModule, loader, quiet_trainer, regression_data


def weights(model):
    return {key: value.clone() for key, value in model.state_dict().items()}


def test_lr_find_sweeps_the_rates_and_leaves_model_trainer_and_rng_as_they_were():
    seed_everything(0)
    model = RegressionModule(lr=0.05)
    before = weights(model)
    trainer = quiet_trainer(max_epochs=2)
    finder = Tuner(trainer).lr_find(model, loader(256), min_lr=1e-4, max_lr=1.0, num_training=20, update_attr=False)

    lrs = finder.results["lr"]
    assert len(lrs) == len(finder.results["loss"]) == 20  # the loss never diverged 4x on this easy problem
    assert lrs[0] == pytest.approx(1e-4) and lrs[-1] == pytest.approx(1.0)
    ratios = [b / a for a, b in zip(lrs, lrs[1:])]
    assert ratios == pytest.approx([10 ** (4 / 19)] * 19)  # evenly spaced in log scale
    assert all(torch.equal(before[k], v) for k, v in model.state_dict().items())
    assert model.hparams.lr == 0.05
    assert (trainer.global_step, trainer.current_epoch) == (0, 0)

    # The tuned trainer then trains exactly like a fresh one: nothing of the search leaks into the run.
    trainer.fit(model, loader(256, shuffle=True))
    seed_everything(0)
    reference = RegressionModule(lr=0.05)
    quiet_trainer(max_epochs=2).fit(reference, loader(256, shuffle=True))
    assert trainer.global_step == 64
    for key, value in reference.state_dict().items():
        assert torch.equal(model.state_dict()[key], value), key


def test_lr_find_sets_the_suggestion_which_the_next_fit_uses():
    seed_everything(0)
    model = RegressionModule(lr=0.05, optimizer="sgd")
    trainer = quiet_trainer(max_epochs=1)
    finder = Tuner(trainer).lr_find(model, loader(512), min_lr=1e-5, max_lr=10.0, num_training=60)
    suggestion = finder.suggestion()
    assert suggestion is not None and 1e-5 < suggestion < 10.0
    assert model.hparams.lr == suggestion
    trainer.fit(model, loader(64))
    assert trainer.optimizers[0].param_groups[0]["lr"] == suggestion


def test_lr_find_stops_when_the_loss_diverges():
    seed_everything(0)
    model = RegressionModule(optimizer="sgd")
    finder = Tuner(quiet_trainer()).lr_find(model, loader(512), min_lr=1e-3, max_lr=1e4, num_training=60)
    losses = finder.results["loss"]
    assert 2 < len(losses) < 60  # SGD with momentum blows up long before 1e4
    assert losses[-1] > 4 * min(losses) or not math.isfinite(losses[-1])


def test_suggestion_is_the_steepest_descent_of_the_recorded_loss():
    finder = LRFinder("linear", 1.0, 10.0, num_training=10)
    finder.results = {
        "lr": [float(i) for i in range(1, 11)],
        "loss": [10.0, 9.9, 9.8, 9.7, 9.0, 5.0, 4.8, 4.7, 4.7, 9.0],
    }
    # Central differences: (5.0 - 9.7) / 2 at index 4 (lr 5) beats (4.8 - 9.0) / 2 at index 5.
    assert finder.suggestion(skip_begin=0, skip_end=1) == 5.0
    assert finder.suggestion(skip_begin=6, skip_end=1) == 7.0
    with pytest.warns(UserWarning, match="could not suggest a learning rate: 1 usable point"):
        assert finder.suggestion(skip_begin=8, skip_end=1) is None


def test_plot_draws_the_recorded_curve_and_marks_the_suggestion(tmp_path):
    pytest.importorskip("matplotlib")
    import matplotlib

    matplotlib.use("Agg")
    finder = LRFinder("exponential", 1e-3, 1.0, num_training=30)
    lrs = [finder.learning_rate(step) for step in range(30)]
    finder.results = {"lr": lrs, "loss": [1.0 / (1.0 + 100 * lr) for lr in lrs]}
    figure = finder.plot(suggest=True)
    ax = figure.axes[0]
    curve, marker = ax.get_lines()
    assert list(curve.get_xdata()) == finder.results["lr"] and list(curve.get_ydata()) == finder.results["loss"]
    assert ax.get_xscale() == "log"
    assert list(marker.get_xdata()) == [finder.suggestion()]
    figure.savefig(tmp_path / "lr.png")
    assert (tmp_path / "lr.png").stat().st_size > 1000


@pytest.mark.parametrize(
    ("kwargs", "error", "match"),
    [
        (dict(min_lr=0.0, max_lr=0.1), ValueError, "needs positive finite min_lr and max_lr, got min_lr=0.0"),
        (dict(num_training=0), ValueError, "num_training must be an int >= 1"),
        (dict(mode="cosine"), ValueError, r"mode must be one of \['exponential', 'linear'\], got 'cosine'"),
        (dict(method="validate"), ValueError, "method='fit' is the only valid configuration to run lr finder"),
        (dict(attr_name="step_size"), AttributeError, "has no attribute or hparam 'step_size'"),
    ],
)
def test_lr_find_refuses_bad_arguments(kwargs, error, match):
    with pytest.raises(error, match=match):
        Tuner(quiet_trainer()).lr_find(RegressionModule(), loader(), **kwargs)


def test_lr_find_needs_a_rate_to_set_and_an_untrained_trainer():
    class NoRate(RegressionModule):
        def __init__(self):
            super().__init__()
            self.hparams.pop("lr")

    with pytest.raises(AttributeError, match=r"the model should have one of these fields: \['lr', 'learning_rate'\]"):
        Tuner(quiet_trainer()).lr_find(NoRate(), loader())
    trainer = quiet_trainer(max_steps=2)
    trainer.fit(RegressionModule(), loader())
    with pytest.raises(
        ValueError, match=r"needs a Trainer that has not trained yet \(this one is at epoch 0, step 2\)"
    ):
        Tuner(trainer).lr_find(RegressionModule(), loader())


class SizedData(DataModule):
    def __init__(self, samples: int, batch_size: int = 2) -> None:
        super().__init__()
        self.samples = samples
        self.batch_size = batch_size

    def train_dataloader(self):
        return DataLoader(regression_data(self.samples), batch_size=self.batch_size)


class MemoryLimited(RegressionModule):
    """Raises the error CUDA raises when a batch is larger than ``limit`` (a stand-in for a full GPU)."""

    def __init__(self, limit: int) -> None:
        super().__init__()
        self.limit = limit
        self.sizes_tried: list[int] = []

    def training_step(self, batch, batch_idx):
        size = len(batch[0])
        if batch_idx == 0:
            self.sizes_tried.append(size)
        if size > self.limit:
            raise torch.OutOfMemoryError("CUDA out of memory. Tried to allocate 2.00 GiB")
        return F.mse_loss(self(batch[0]), batch[1])


def test_scale_batch_size_power_doubles_until_out_of_memory():
    model, data = MemoryLimited(limit=16), SizedData(1000)
    before = weights(model)
    assert Tuner(quiet_trainer()).scale_batch_size(model, datamodule=data, steps_per_trial=2) == 16
    assert model.sizes_tried == [2, 4, 8, 16, 32]
    assert data.batch_size == 16
    assert all(torch.equal(before[k], v) for k, v in model.state_dict().items())


def test_scale_batch_size_binsearch_narrows_down_between_fit_and_failure():
    model, data = MemoryLimited(limit=24), SizedData(1000)
    tuner = Tuner(quiet_trainer())
    found = tuner.scale_batch_size(model, datamodule=data, mode="binsearch", steps_per_trial=1, margin=0.0)
    assert found == data.batch_size == 24
    assert model.sizes_tried == [2, 4, 8, 16, 32, 24, 28, 26, 25]
    # by default 5% is taken off what was found, to leave room (Lightning 2.6)
    assert tuner.scale_batch_size(MemoryLimited(limit=24), datamodule=data, mode="binsearch", steps_per_trial=1) == 22


def test_scale_batch_size_stops_once_one_batch_holds_the_training_set():
    model, data = MemoryLimited(limit=10_000), SizedData(40, batch_size=8)
    assert Tuner(quiet_trainer()).scale_batch_size(model, datamodule=data, init_val=8, steps_per_trial=1) == 64
    assert model.sizes_tried == [8, 16, 32, 40]  # the batch of size 64 is the whole set of 40


def test_scale_batch_size_refuses_loaders_it_cannot_resize_and_data_without_a_size():
    with pytest.raises(ValueError, match="cannot be used with dataloaders passed directly"):
        Tuner(quiet_trainer()).scale_batch_size(RegressionModule(), loader())
    with pytest.raises(ValueError, match="Field bs not found in `model`, `datamodule`, nor their `hparams`"):
        Tuner(quiet_trainer()).scale_batch_size(RegressionModule(), datamodule=SizedData(8), batch_arg_name="bs")


def test_exponential_suggestion_takes_the_slope_against_log_rate():
    """On a log-spaced sweep the slope is per decade: central differences give -0.40 at 1e-3, -0.55 at 1e-2."""
    finder = LRFinder("exponential", 1e-6, 1.0, num_training=7)
    finder.results = {
        "lr": [1e-6, 1e-5, 1e-4, 1e-3, 1e-2, 1e-1, 1.0],
        "loss": [2.0, 2.0, 1.999, 1.99, 1.2, 0.9, 3.0],
    }
    assert finder.suggestion(skip_begin=0, skip_end=1) == 1e-2


def test_scale_batch_size_respects_max_trials_max_val_and_logs_each_step(caplog):
    data = SizedData(1000)
    tuner = Tuner(quiet_trainer())
    model = MemoryLimited(limit=10_000)
    assert tuner.scale_batch_size(model, datamodule=data, max_trials=0) == 2 and model.sizes_tried == []
    assert tuner.scale_batch_size(model, datamodule=data, max_trials=3, steps_per_trial=1) == 8
    assert model.sizes_tried == [2, 4, 8]  # the last success is kept, no untried doubling
    model.sizes_tried.clear()
    with caplog.at_level(logging.INFO):
        assert tuner.scale_batch_size(model, datamodule=data, max_val=8, steps_per_trial=1) == 8
    assert model.sizes_tried == [2, 4]  # 8 is the limit: not tried
    assert "Batch size 4 succeeded, trying batch size 8" in caplog.text
    assert "Reached the maximum batch size limit of 8" in caplog.text


def test_scale_batch_size_sizes_the_data_of_an_evaluation_method_and_refuses_bad_requests():
    class EvalData(SizedData):
        def val_dataloader(self):
            return DataLoader(regression_data(self.samples), batch_size=self.batch_size)

    data, tuner = EvalData(64), Tuner(quiet_trainer())
    assert tuner.scale_batch_size(RegressionModule(), datamodule=data, method="validate", max_trials=3) == 8
    with pytest.raises(ValueError, match=r"method 'prediction' is invalid. Should be one of \('fit'"):
        tuner.scale_batch_size(RegressionModule(), datamodule=data, method="prediction")
    with pytest.raises(ValueError, match="please consider setting `dataloaders` instead"):
        tuner.scale_batch_size(RegressionModule(), train_dataloaders=loader(), method="validate")
    with pytest.raises(ValueError, match="`mode` should be either of"):
        tuner.scale_batch_size(RegressionModule(), datamodule=data, mode="triple")
    with pytest.raises(ValueError, match=r"margin must be a number in \[0, 1\)"):
        tuner.scale_batch_size(RegressionModule(), datamodule=data, margin=1.0)


def test_scale_batch_size_warns_when_the_model_holds_the_size_twice():
    class Twice(RegressionModule):
        def __init__(self, batch_size=4):
            super().__init__()
            self.hparams["batch_size"] = batch_size
            self.batch_size = batch_size

    model = Twice()
    with pytest.warns(UserWarning, match="`model.batch_size` and `model.hparams.batch_size` are mutually exclusive"):
        size = Tuner(quiet_trainer()).scale_batch_size(model, datamodule=SizedData(16), max_trials=2)
    assert size == model.batch_size == model.hparams.batch_size


def test_the_finder_callbacks_tune_as_the_fit_starts_and_the_tuner_refuses_to_run_twice():
    from flashtrain.core.callbacks import BatchSizeFinder, LearningRateFinder

    seed_everything(0)
    finder = LearningRateFinder(num_training_steps=30, early_stop_threshold=None)
    trainer = quiet_trainer(max_epochs=1, limit_train_batches=2, callbacks=[finder])
    model = RegressionModule(lr=1e-3)
    trainer.fit(model, loader(n=64))
    assert len(finder.optimal_lr.results["lr"]) == 30
    suggested = finder.optimal_lr.suggestion()
    assert model.hparams.lr == suggested == trainer.optimizers[0].param_groups[0]["lr"]
    assert model.trainer is trainer and trainer.global_step == 2  # the real fit ran after the search
    with pytest.raises(ValueError, match="Trainer is already configured with a `LearningRateFinder` callback"):
        Tuner(trainer).lr_find(RegressionModule(), loader())

    sizes = BatchSizeFinder(max_trials=3, steps_per_trial=1)
    data = SizedData(64)
    quiet_trainer(max_epochs=1, limit_train_batches=2, callbacks=[sizes]).fit(RegressionModule(), datamodule=data)
    assert sizes.optimal_batch_size == data.batch_size == 8
    with pytest.raises(ValueError, match="not supported with distributed strategies"):
        Tuner(quiet_trainer(accelerator="cpu", devices=2, strategy="ddp")).scale_batch_size(RegressionModule())


def test_lr_find_records_a_nan_for_a_skipped_step_sweeps_a_reversed_range_and_refuses_two_optimizers():
    class SkipsSomeSteps(RegressionModule):
        def training_step(self, batch, batch_idx):
            return None if self.trainer.global_step in (2, 5) else super().training_step(batch, batch_idx)

    seed_everything(0)
    finder = Tuner(quiet_trainer()).lr_find(SkipsSomeSteps(), loader(n=64), num_training=8, early_stop_threshold=None)
    assert len(finder.results["lr"]) == len(finder.results["loss"]) == 8  # one point per optimizer step
    assert [i for i, loss in enumerate(finder.results["loss"]) if math.isnan(loss)] == [2, 5]

    with pytest.warns(UserWarning, match="min_lr=0.1 is not below max_lr=0.001, so the rates tried go down"):
        finder = Tuner(quiet_trainer()).lr_find(
            RegressionModule(), loader(), min_lr=0.1, max_lr=1e-3, num_training=3, early_stop_threshold=None
        )
    assert finder.results["lr"] == pytest.approx([0.1, 0.01, 1e-3])

    model = RegressionModule(lr=0.5)
    with pytest.warns(UserWarning, match="could not suggest a learning rate"):
        finder = Tuner(quiet_trainer()).lr_find(model, loader(), num_training=1)
    assert len(finder.results["lr"]) == 1 and model.hparams.lr == 0.5  # no suggestion: the rate is kept

    class TwoOptimizers(RegressionModule):
        def __init__(self):
            super().__init__()
            self.automatic_optimization = False  # several optimizers need manual optimization

        def configure_optimizers(self):
            return [torch.optim.SGD(self.parameters(), lr=0.1), torch.optim.SGD(self.parameters(), lr=0.1)]

    with pytest.raises(ValueError, match="returned 2 optimizers, but learning rate finder only works with single"):
        Tuner(quiet_trainer()).lr_find(TwoOptimizers(), loader())


def test_scale_batch_size_leaves_the_datamodule_and_loaders_at_the_found_size_on_the_trainer():
    class WithValidation(SizedData):
        def val_dataloader(self):
            return DataLoader(regression_data(self.samples), batch_size=self.batch_size)

    trainer, data = quiet_trainer(max_epochs=1), WithValidation(64)
    size = Tuner(trainer).scale_batch_size(MemoryLimited(limit=12), datamodule=data, steps_per_trial=1)
    assert size == data.batch_size == 8
    assert trainer.datamodule is data
    assert trainer.train_dataloader.batch_size == trainer.val_dataloaders.batch_size == 8
    assert trainer.global_step == 0  # nothing trained on the user's trainer; the next fit starts afresh
    trainer.fit(RegressionModule(), datamodule=data)
    assert trainer.global_step == len(trainer.train_dataloader) == 8


def test_several_evaluation_loaders_are_reported_before_a_missing_batch_size_and_fast_dev_run_skips_tuning():
    class TwoValLoaders(RegressionModule):
        def val_dataloader(self):
            return [loader(), loader()]

    with pytest.raises(ValueError, match="The Batch size finder cannot be used with multiple val dataloaders"):
        Tuner(quiet_trainer()).scale_batch_size(TwoValLoaders(), method="validate")
    with pytest.raises(ValueError, match="Field batch_size not found"):  # one loader: the missing field it is
        Tuner(quiet_trainer()).scale_batch_size(RegressionModule(), dataloaders=None, method="test")

    model = RegressionModule()
    tuner = Tuner(quiet_trainer(fast_dev_run=True))
    with pytest.warns(UserWarning, match="Skipping learning rate finder since `fast_dev_run` is enabled"):
        assert tuner.lr_find(model, loader()) is None
    assert model.hparams.lr == 0.05  # untouched
