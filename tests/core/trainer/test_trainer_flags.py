"""Every Trainer flag changes what happens; each test here fails if its flag is ignored."""

from __future__ import annotations

import datetime
import glob
import logging
import os
import warnings

import pytest
import torch

from flashtrain.core import Callback, Trainer
from flashtrain.core.callbacks import EarlyStopping, ModelCheckpoint
from flashtrain.core.exceptions import MisconfigurationException
from flashtrain.core.loggers import CSVLogger
from tests.core.helpers import RegressionModule, loader, quiet_trainer


class Counter(RegressionModule):
    """Counts steps per stage and records the batches it trained on."""

    def __init__(self, **kwargs):
        super().__init__(**kwargs)
        self.counts = {"train": 0, "val": 0, "test": 0, "predict": 0}
        self.val_at = []  # (epoch, batches trained so far in the epoch) when validation started
        self.first_values = []
        self._in_epoch = 0

    def on_train_epoch_start(self):
        self._in_epoch = 0

    def training_step(self, batch, batch_idx):
        self.counts["train"] += 1
        self._in_epoch += 1
        self.first_values.append(float(batch[0][0, 0]))
        return super().training_step(batch, batch_idx)

    def on_validation_start(self):
        if not self.trainer.sanity_checking:
            self.val_at.append((self.current_epoch, self._in_epoch))

    def validation_step(self, batch, batch_idx):
        self.counts["val"] += 1
        return super().validation_step(batch, batch_idx)

    def test_step(self, batch, batch_idx):
        self.counts["test"] += 1
        return super().test_step(batch, batch_idx)

    def predict_step(self, batch, batch_idx, dataloader_idx=0):
        self.counts["predict"] += 1
        return super().predict_step(batch, batch_idx)


def fit(model=None, train=None, val=None, **kwargs):
    model = model or Counter()
    trainer = quiet_trainer(**kwargs)
    trainer.fit(model, train if train is not None else loader(n=64, batch_size=8), val)
    return trainer, model


def test_max_epochs():
    trainer, model = fit(max_epochs=3)
    assert (trainer.current_epoch, model.counts["train"]) == (3, 24)


def test_max_steps_stops_mid_epoch():
    trainer, model = fit(max_steps=5)
    assert (trainer.global_step, model.counts["train"], trainer.current_epoch) == (5, 5, 0)


def test_min_epochs_overrides_early_stopping():
    class Constant(Counter):
        def validation_step(self, batch, batch_idx):
            self.log("val_loss", 1.0)

    trainer, model = fit(
        Constant(), val=loader(), max_epochs=10, min_epochs=4, callbacks=[EarlyStopping(monitor="val_loss", patience=0)]
    )
    assert trainer.current_epoch == 4


def test_min_steps_overrides_a_stop_request():
    class StopAtOnce(Counter):
        def on_train_batch_end(self, outputs, batch, batch_idx):
            self.trainer.should_stop = True

    trainer, _ = fit(StopAtOnce(), max_epochs=5, min_steps=12)
    assert trainer.global_step == 12


def test_max_time_stops_the_run():
    trainer, model = fit(max_epochs=100, max_time={"seconds": 0})
    assert model.counts["train"] == 1


@pytest.mark.parametrize(("limit", "expected"), [(3, 6), (0.5, 8), (0, 0)])
def test_limit_train_batches(limit, expected):
    _, model = fit(max_epochs=2, limit_train_batches=limit)
    assert model.counts["train"] == expected


@pytest.mark.parametrize(("limit", "expected"), [(2, 4), (0.25, 4), (0.0, 0)])
def test_limit_val_batches(limit, expected):
    _, model = fit(val=loader(n=64), max_epochs=2, limit_val_batches=limit)
    assert model.counts["val"] == expected


def test_limit_test_and_predict_batches():
    model = Counter()
    trainer = quiet_trainer(limit_test_batches=3, limit_predict_batches=0.5)
    trainer.test(model, loader(n=64), verbose=False)
    predictions = trainer.predict(model, loader(n=64))
    assert model.counts["test"] == 3
    assert model.counts["predict"] == 4 and len(predictions) == 4


@pytest.mark.parametrize(("interval", "expected"), [(0.5, [(0, 4), (0, 8)]), (3, [(0, 3), (0, 6)]), (1.0, [(0, 8)])])
def test_val_check_interval(interval, expected):
    _, model = fit(val=loader(), max_epochs=1, val_check_interval=interval)
    assert model.val_at == expected


def test_val_check_interval_across_epochs():
    _, model = fit(val=loader(), max_epochs=2, val_check_interval=5, check_val_every_n_epoch=None)
    assert model.val_at == [(0, 5), (1, 2), (1, 7)]  # batches 5, 10 and 15 of the run


def test_check_val_every_n_epoch():
    _, model = fit(val=loader(), max_epochs=4, check_val_every_n_epoch=2)
    assert [epoch for epoch, _ in model.val_at] == [1, 3]


@pytest.mark.parametrize(("steps", "expected"), [(0, 0), (1, 1), (-1, 8)])
def test_num_sanity_val_steps(steps, expected):
    _, model = fit(val=loader(), max_epochs=1, limit_train_batches=0, num_sanity_val_steps=steps)
    assert model.counts["val"] == expected


def test_accumulate_grad_batches():
    trainer, _ = fit(max_epochs=2, accumulate_grad_batches=3)
    assert trainer.global_step == 6  # ceil(8 / 3) per epoch


def _norm_after_clipping(**kwargs):
    norms = []

    class Probe(Counter):
        def configure_gradient_clipping(self, optimizer, gradient_clip_val=None, gradient_clip_algorithm=None):
            super().configure_gradient_clipping(optimizer, gradient_clip_val, gradient_clip_algorithm)
            grads = [p.grad.flatten() for p in self.parameters() if p.grad is not None]
            norms.append(float(torch.linalg.vector_norm(torch.cat(grads))))

        def training_step(self, batch, batch_idx):
            return super().training_step(batch, batch_idx) * 1000

    fit(Probe(), max_steps=3, **kwargs)
    return norms


def test_gradient_clip_val_bounds_the_gradient_norm():
    assert min(_norm_after_clipping()) > 1.0
    assert max(_norm_after_clipping(gradient_clip_val=0.5)) == pytest.approx(0.5, rel=1e-4)


def test_gradient_clip_algorithm_value():
    seen = []

    class Probe(Counter):
        def configure_gradient_clipping(self, optimizer, gradient_clip_val=None, gradient_clip_algorithm=None):
            super().configure_gradient_clipping(optimizer, gradient_clip_val, gradient_clip_algorithm)
            seen.append(max(float(p.grad.abs().max()) for p in self.parameters() if p.grad is not None))

        def training_step(self, batch, batch_idx):
            return super().training_step(batch, batch_idx) * 1000

    fit(Probe(), max_steps=2, gradient_clip_val=0.01, gradient_clip_algorithm="value")
    assert max(seen) <= 0.01 + 1e-9


def test_fast_dev_run_runs_n_batches_and_writes_nothing(tmp_path):
    model = Counter()
    trainer = Trainer(fast_dev_run=2, default_root_dir=str(tmp_path), enable_progress_bar=False)
    trainer.fit(model, loader(), loader())
    assert model.counts["train"] == 2 and model.counts["val"] == 2
    assert not os.listdir(tmp_path)  # no logs, no checkpoints


def test_fast_dev_run_overrides_the_limits_it_sets_and_says_so(tmp_path, caplog):
    import logging

    model = Counter()
    with caplog.at_level(logging.INFO, logger="flashtrain.core"):
        trainer = Trainer(
            fast_dev_run=2,
            max_epochs=5,
            max_steps=100,
            limit_train_batches=10,
            default_root_dir=str(tmp_path),
            enable_progress_bar=False,
        )
    assert "ignoring max_steps, max_epochs, limit_train_batches" in caplog.text
    trainer.fit(model, loader(), loader())
    assert model.counts["train"] == 2 and model.counts["val"] == 2 and trainer.current_epoch == 1


def test_overfit_batches_reuses_the_same_batches():
    with pytest.warns(UserWarning, match="We are turning off the train dataloader shuffling for you"):
        _, model = fit(train=loader(n=64, batch_size=8, shuffle=True), max_epochs=3, overfit_batches=2)
    assert model.counts["train"] == 6
    assert model.first_values[0:2] == model.first_values[2:4] == model.first_values[4:6]


def test_deterministic_and_benchmark():
    quiet_trainer(deterministic=True)
    assert torch.are_deterministic_algorithms_enabled()
    quiet_trainer(deterministic=False, benchmark=True)
    assert not torch.are_deterministic_algorithms_enabled()
    assert torch.backends.cudnn.benchmark


def test_callbacks_are_called():
    calls = []

    class Probe(Callback):
        def on_train_epoch_end(self, trainer, pl_module):
            calls.append(trainer.current_epoch)

    fit(max_epochs=2, callbacks=[Probe()])
    assert calls == [0, 1]


def test_logger_and_log_every_n_steps(tmp_path):
    logger = CSVLogger(save_dir=str(tmp_path))
    fit(max_epochs=1, logger=logger, log_every_n_steps=3)
    with open(os.path.join(logger.log_dir, "metrics.csv")) as handle:
        lines = [line for line in handle.read().splitlines()[1:] if line]
    step_rows = [line for line in lines if line.split(",")[0] in {"2", "5"}]
    assert len(step_rows) >= 2  # steps 3 and 6 (0-based 2 and 5) were logged, the others not
    assert not any(line.split(",")[0] in {"0", "1", "3", "4"} for line in lines)


def test_logger_false_writes_no_logs(tmp_path):
    trainer = Trainer(
        max_epochs=1,
        logger=False,
        default_root_dir=str(tmp_path),
        enable_progress_bar=False,
        enable_model_summary=False,
    )
    trainer.fit(Counter(), loader())
    assert not os.path.exists(os.path.join(tmp_path, "lightning_logs"))
    assert glob.glob(os.path.join(tmp_path, "checkpoints", "*.ckpt"))  # checkpoints still written


def test_enable_checkpointing(tmp_path):
    Trainer(max_epochs=1, default_root_dir=str(tmp_path / "on"), enable_progress_bar=False).fit(Counter(), loader())
    Trainer(
        max_epochs=1, default_root_dir=str(tmp_path / "off"), enable_progress_bar=False, enable_checkpointing=False
    ).fit(Counter(), loader())
    assert glob.glob(str(tmp_path / "on" / "lightning_logs" / "version_0" / "checkpoints" / "epoch=0-step=8.ckpt"))
    assert not glob.glob(str(tmp_path / "off" / "**" / "*.ckpt"), recursive=True)


def test_enable_progress_bar_and_model_summary(capsys):
    fit(max_epochs=1, enable_progress_bar=True, enable_model_summary=True)
    captured = capsys.readouterr()
    assert "Epoch 0" in captured.err and "train_loss_step" in captured.err
    assert "Trainable params" in captured.out and "| net  | Net " in captured.out
    fit(max_epochs=1)
    captured = capsys.readouterr()
    assert "Epoch 0" not in captured.err and "Trainable params" not in captured.out


def test_default_root_dir(tmp_path):
    trainer = Trainer(max_epochs=1, default_root_dir=str(tmp_path / "root"), enable_progress_bar=False)
    trainer.fit(Counter(), loader())
    assert trainer.log_dir == str(tmp_path / "root" / "lightning_logs" / "version_0")
    assert glob.glob(str(tmp_path / "root" / "lightning_logs" / "version_0" / "events.out.tfevents.*"))


def test_detect_anomaly():
    seen = []

    class Probe(Counter):
        def training_step(self, batch, batch_idx):
            seen.append(torch.is_anomaly_enabled())
            return super().training_step(batch, batch_idx)

    fit(Probe(), max_steps=1, detect_anomaly=True)
    fit(Probe(), max_steps=1)
    assert seen == [True, False]


@pytest.mark.parametrize(
    ("precision", "dtype"),
    [("32-true", torch.float32), ("64-true", torch.float64), ("bf16-mixed", torch.bfloat16), (64, torch.float64)],
)
def test_precision(precision, dtype):
    seen = []

    class Probe(Counter):
        def training_step(self, batch, batch_idx):
            seen.append(self(batch[0]).dtype)
            return super().training_step(batch, batch_idx)

    trainer, model = fit(Probe(), max_steps=2, precision=precision)
    assert seen == [dtype, dtype]
    assert model.net.layers[0].weight.dtype == (torch.float64 if dtype == torch.float64 else torch.float32)


def test_inference_mode():
    seen = []

    class Probe(Counter):
        def validation_step(self, batch, batch_idx):
            seen.append((torch.is_inference_mode_enabled(), torch.is_grad_enabled()))

    quiet_trainer().validate(Probe(), loader(), verbose=False)
    quiet_trainer(inference_mode=False).validate(Probe(), loader(), verbose=False)
    assert seen[0] == (True, False) and seen[-1] == (False, False)


def test_gpus_shorthand():
    assert quiet_trainer(gpus=0).strategy.root_device.type == "cpu"
    if not torch.cuda.is_available():
        with pytest.raises(RuntimeError, match="accelerator='gpu' was requested but is not available"):
            quiet_trainer(gpus=1)


def test_accelerator_and_devices():
    trainer = quiet_trainer(accelerator="cpu", devices=1)
    assert trainer.strategy.root_device == torch.device("cpu")
    # Several devices or nodes mean DDP; the processes start only when a run begins.
    ddp = quiet_trainer(accelerator="cpu", devices=2).strategy
    assert (ddp.name, ddp.processes_per_node, ddp.num_nodes, ddp.world_size) == ("ddp", 2, 1, 1)
    assert quiet_trainer(accelerator="cpu", num_nodes=2).strategy.num_nodes == 2
    assert quiet_trainer(strategy="ddp_find_unused_parameters_true").strategy.find_unused_parameters
    with pytest.raises(ValueError, match="strategy='single_device' uses one device"):
        quiet_trainer(accelerator="cpu", devices=2, strategy="single_device")


def test_on_train_epoch_end_checkpoint_monitor_key_missing_is_explained(tmp_path):
    with pytest.raises(ValueError, match=r"could not find the monitored key in the returned metrics: \[.*train_loss"):
        fit(max_epochs=1, enable_checkpointing=True, callbacks=[ModelCheckpoint(dirpath=str(tmp_path), monitor="nope")])


class Stream(torch.utils.data.IterableDataset):
    """A dataset without a length: the trainer cannot know the last batch in advance."""

    def __init__(self, n=20):
        self.n = n

    def __iter__(self):
        generator = torch.Generator().manual_seed(0)
        for _ in range(self.n):
            yield torch.randn(8, generator=generator), torch.randn(1, generator=generator)


def test_unsized_loader_validates_at_epoch_end_and_steps_the_last_partial_window():
    model = Counter()
    data = torch.utils.data.DataLoader(Stream(20), batch_size=4)  # 5 batches per epoch
    trainer, _ = fit(
        model,
        train=data,
        val=torch.utils.data.DataLoader(Stream(8), batch_size=4),
        max_epochs=2,
        accumulate_grad_batches=2,
    )
    assert trainer.global_step == 6  # 3 steps per epoch: the 5th batch closes a partial window
    assert model.val_at == [(0, 5), (1, 5)]
    assert "val_loss" in trainer.callback_metrics


def test_lightnings_dataloader_and_callback_properties():
    train, val = loader(), loader(n=16)
    first, second = EarlyStopping("val_loss"), EarlyStopping("train_loss")
    trainer = quiet_trainer(max_epochs=1, callbacks=[first, second])
    assert trainer.train_dataloader is None and trainer.val_dataloaders is None
    trainer.fit(RegressionModule(), train, val)
    assert trainer.train_dataloader is train and trainer.val_dataloaders is val
    assert trainer.early_stopping_callbacks == [first, second] and trainer.early_stopping_callback is first
    test = loader(n=8)
    trainer.test(RegressionModule(), test, verbose=False)
    assert trainer.test_dataloaders is test
    predict = loader(n=8)
    trainer.predict(RegressionModule(), predict)
    assert trainer.predict_dataloaders is predict


@pytest.mark.parametrize(
    ("flags", "match"),
    [
        ({"max_epochs": -2}, "`max_epochs` must be a non-negative integer or -1"),
        ({"limit_train_batches": 1.5}, "You have passed invalid value 1.5 for limit_train_batches"),
        ({"accumulate_grad_batches": 0}, "accumulate_grad_batches must be an int >= 1"),
        (
            {"reload_dataloaders_every_n_epochs": -1},
            "reload_dataloaders_every_n_epochs` should be an int >= 0, got -1",
        ),
        ({"devices": 0}, "devices must be a positive int"),
    ],
)
def test_flag_errors_are_misconfiguration_exceptions_and_value_errors(flags, match):
    from flashtrain.core.exceptions import MisconfigurationException

    with pytest.raises(MisconfigurationException, match=match) as raised:
        Trainer(logger=False, **flags)
    assert isinstance(raised.value, ValueError)  # code catching ValueError keeps working


def test_a_flag_of_the_wrong_type_is_a_misconfiguration_and_a_type_error():
    from flashtrain.core.exceptions import MisconfigurationException

    with pytest.raises(MisconfigurationException, match="limit_val_batches must be an int") as raised:
        Trainer(logger=False, limit_val_batches="all")
    assert isinstance(raised.value, TypeError)


@pytest.mark.parametrize("interval", ["00:00:00:00", {"seconds": 0}, datetime.timedelta(0)])
def test_val_check_interval_as_a_duration_validates_by_the_clock(interval):
    # a zero duration: due after every batch (the clock has always moved on since the last validation)
    trainer, model = fit(val=loader(), max_epochs=1, val_check_interval=interval)
    assert model.val_at == [(0, batch) for batch in range(1, 9)]


def test_val_check_interval_as_a_long_duration_never_comes_due():
    trainer, model = fit(val=loader(), max_epochs=2, val_check_interval="01:00:00:00")
    assert model.val_at == []


def test_val_check_interval_as_a_bad_duration_is_explained():
    with pytest.raises(MisconfigurationException, match="val_check_interval must be a string in the format DD:HH"):
        Trainer(val_check_interval="1 hour")


def test_a_fraction_gives_exactly_that_many_validations_per_epoch():
    # 5 batches, 0.5: every int(5 * 0.5) = 2 batches, so after batches 2 and 4 and not again after the last one
    trainer, model = fit(train=loader(n=40, batch_size=8), val=loader(), max_epochs=1, val_check_interval=0.5)
    assert model.val_at == [(0, 2), (0, 4)]


def test_a_stop_request_mid_epoch_validates_before_the_fit_ends():
    class StopAtThree(Counter):
        def on_train_batch_end(self, outputs, batch, batch_idx):
            self.trainer.should_stop = batch_idx == 2

    trainer, model = fit(StopAtThree(), val=loader(), max_epochs=1)
    assert model.val_at == [(0, 3)] and trainer.global_step == 3


@pytest.mark.parametrize(
    ("flag", "value", "says"),
    [("limit_train_batches", 1, "1 batch per epoch"), ("limit_val_batches", 1.0, "100% of the batches")],
)
def test_unit_limits_say_which_meaning_was_chosen(caplog, flag, value, says):
    with caplog.at_level(logging.INFO):
        Trainer(**{flag: value}, logger=False)
    assert f"`Trainer({flag}={value})` was configured so {says}" in caplog.text
    caplog.clear()
    with caplog.at_level(logging.INFO):
        Trainer(logger=False)
    assert "was configured so" not in caplog.text


@pytest.mark.parametrize(
    ("name", "spawn", "find_unused"),
    [
        ("DDP", False, False),
        ("ddp_find_unused_parameters_false", False, False),
        ("ddp_spawn_find_unused_parameters_true", True, True),
        ("DDP_SPAWN_FIND_UNUSED_PARAMETERS_FALSE", True, False),
    ],
)
def test_ddp_strategy_names_in_any_case_with_their_unused_parameter_setting(name, spawn, find_unused):
    from flashtrain.core.strategies import DDPSpawnStrategy

    strategy = Trainer(strategy=name, accelerator="cpu", devices=2, logger=False).strategy
    assert isinstance(strategy, DDPSpawnStrategy) == spawn
    assert strategy.find_unused_parameters == find_unused


def test_an_unset_max_epochs_becomes_1000_with_a_notice_at_fit():
    from flashtrain.core.exceptions import PossibleUserWarning
    from tests.core.helpers import RegressionModule, loader

    class StopsAtOnce(RegressionModule):
        def training_step(self, batch, batch_idx):
            self.trainer.should_stop = True
            return super().training_step(batch, batch_idx)

    trainer = Trainer(logger=False, enable_checkpointing=False, enable_progress_bar=False, limit_train_batches=1)
    assert trainer.max_epochs is None  # as Lightning: resolved when a fit starts
    with pytest.warns(PossibleUserWarning, match="`max_epochs` was not set. Setting it to 1000 epochs"):
        trainer.fit(StopsAtOnce(), loader(16))
    assert trainer.max_epochs == 1000 and trainer.current_epoch == 1
    with warnings.catch_warnings():
        warnings.filterwarnings("error", message=".*max_epochs", category=PossibleUserWarning)
        quiet_steps = Trainer(max_steps=1, logger=False, enable_checkpointing=False, enable_progress_bar=False)
        quiet_steps.fit(RegressionModule(), loader(16))  # a step limit: no notice
    assert quiet_steps.max_epochs == -1


def test_detect_anomaly_lets_torch_name_the_operation_that_made_a_nan():
    class NaNLoss(Counter):
        def training_step(self, batch, batch_idx):
            return super().training_step(batch, batch_idx) * torch.tensor(float("nan"))

    with pytest.raises(FloatingPointError, match="Loss is nan"):  # without it: the loss check stops the run
        fit(NaNLoss(), max_steps=1)
    with pytest.raises(RuntimeError, match="returned nan values"), warnings.catch_warnings():
        warnings.simplefilter("ignore")  # torch's forward traceback of the culprit
        fit(NaNLoss(), max_steps=1, detect_anomaly=True)


def test_the_sanity_check_leaves_the_random_stream_as_it_found_it():
    drawn = []

    class DrawsInValidation(Counter):
        def validation_step(self, batch, batch_idx):
            torch.rand(3)  # a random augmentation or dropout in evaluation
            return super().validation_step(batch, batch_idx)

        def on_train_start(self):
            drawn.append(torch.rand(1).item())

    for sanity in (0, 2):
        torch.manual_seed(0)
        fit(DrawsInValidation(), loader(), loader(), max_steps=1, num_sanity_val_steps=sanity)
    assert drawn[0] == drawn[1]


@pytest.mark.parametrize("keep", [None, True])
def test_predict_keeps_its_outputs_unless_told_not_to(keep):
    trainer = quiet_trainer()
    assert len(trainer.predict(Counter(), loader(n=16), return_predictions=keep)) == 2
    assert trainer.predict(Counter(), loader(n=16), return_predictions=False) is None


def test_default_root_dir_expands_the_home_folder():
    import pathlib

    for given in ("~/runs", pathlib.Path("~/runs")):
        assert Trainer(default_root_dir=given, logger=False).default_root_dir == str(pathlib.Path.home() / "runs")
