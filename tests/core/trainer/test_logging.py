"""self.log semantics (Lightning 2.x): keys, epoch reductions, torchmetrics, and what reaches the loggers."""

from __future__ import annotations

import csv
import glob
import os
import tempfile
import threading
from concurrent.futures import ThreadPoolExecutor

import pytest
import torch
import torchmetrics
from torch.utils.data import DataLoader, TensorDataset

from flashtrain.core import Callback
from flashtrain.core.exceptions import MisconfigurationException
from flashtrain.core.loggers import CSVLogger, TensorBoardLogger
from tests.core.helpers import RegressionModule, loader, quiet_trainer


def ten_samples_in_batches_of_four() -> DataLoader:
    """Batches of 4, 4 and 2 samples: a plain mean and a batch-size-weighted mean differ."""
    return DataLoader(TensorDataset(torch.arange(80.0).reshape(10, 8) / 80, torch.zeros(10, 1)), batch_size=4)


class ValueLogger(RegressionModule):
    """Logs the batch index as a value, so every reduction has a known answer."""

    def training_step(self, batch, batch_idx):
        self.log("idx", float(batch_idx), on_step=True, on_epoch=True, prog_bar=True)
        self.log("idx_sum", float(batch_idx), on_epoch=True, reduce_fx="sum")
        self.log("idx_max", torch.tensor(float(batch_idx)), on_step=False, on_epoch=True, reduce_fx=torch.max)
        self.log("hidden", 1.0, logger=False)
        return super().training_step(batch, batch_idx)

    def validation_step(self, batch, batch_idx):
        self.log("val_idx", float(batch_idx))  # default in validation: on_epoch, batch-size weighted
        self.log("val_idx_explicit", float(batch_idx), batch_size=1)  # explicit sizes: a plain mean


def test_step_and_epoch_keys_and_weighted_means(tmp_path):
    csv_logger = CSVLogger(save_dir=str(tmp_path))
    trainer = quiet_trainer(max_epochs=1, logger=csv_logger, log_every_n_steps=1)
    trainer.fit(ValueLogger(), ten_samples_in_batches_of_four(), ten_samples_in_batches_of_four())
    metrics = trainer.callback_metrics

    assert metrics["idx_step"] == 2.0  # last step's value
    assert metrics["idx_epoch"] == pytest.approx((0 * 4 + 1 * 4 + 2 * 2) / 10)  # weighted by batch size
    assert metrics["idx"] == metrics["idx_epoch"]  # the plain name holds the epoch value after the epoch
    assert metrics["idx_sum"] == 3.0
    assert metrics["idx_max"] == 2.0
    assert metrics["val_idx"] == pytest.approx(0.8)
    assert metrics["val_idx_explicit"] == pytest.approx(1.0)
    assert "hidden" in metrics and "hidden" not in trainer.logged_metrics  # logger=False: callbacks only
    assert set(trainer.progress_bar_metrics) >= {"idx_step", "idx_epoch"}

    with open(os.path.join(csv_logger.log_dir, "metrics.csv")) as handle:
        rows = list(csv.DictReader(handle))
    step_values = [float(r["idx_step"]) for r in rows if r.get("idx_step")]
    assert step_values == [0.0, 1.0, 2.0]
    assert [float(r["idx_epoch"]) for r in rows if r.get("idx_epoch")] == pytest.approx([0.8])
    assert "hidden" not in rows[0]


def test_step_values_during_the_epoch_reach_callbacks():
    seen = []

    class Probe(ValueLogger):
        def on_train_batch_end(self, outputs, batch, batch_idx):
            seen.append(float(self.trainer.callback_metrics["idx"]))

    quiet_trainer(max_epochs=1).fit(Probe(), ten_samples_in_batches_of_four())
    assert seen == [0.0, 1.0, 2.0]


class MetricObjectModule(RegressionModule):
    def __init__(self):
        super().__init__()
        self.batches_seen = torchmetrics.SumMetric()
        self.train_count = torchmetrics.SumMetric()

    def training_step(self, batch, batch_idx):
        self.train_count(torch.tensor(1.0))
        self.log("train_count", self.train_count, on_step=True, on_epoch=True)
        return super().training_step(batch, batch_idx)

    def validation_step(self, batch, batch_idx):
        self.batches_seen.update(torch.tensor(1.0))
        self.log("val_batches", self.batches_seen)


def test_torchmetrics_are_computed_and_reset_each_epoch(tmp_path):
    logger = CSVLogger(save_dir=str(tmp_path))
    trainer = quiet_trainer(max_epochs=3, logger=logger, num_sanity_val_steps=2)
    trainer.fit(MetricObjectModule(), loader(n=64, batch_size=8), loader(n=40, batch_size=8))
    with open(os.path.join(logger.log_dir, "metrics.csv")) as handle:
        rows = list(csv.DictReader(handle))
    per_epoch = [float(r["val_batches"]) for r in rows if r.get("val_batches")]
    # 5 validation batches each epoch: not cumulative, and the 2 sanity-check batches are not counted.
    assert per_epoch == [5.0, 5.0, 5.0]
    assert [float(r["train_count_epoch"]) for r in rows if r.get("train_count_epoch")] == [8.0, 8.0, 8.0]
    assert trainer.callback_metrics["train_count_step"] == 1.0  # the metric's forward value of the last batch


def test_tensorboard_event_files_hold_the_logged_scalars(tmp_path):
    from tensorboard.backend.event_processing.event_accumulator import EventAccumulator

    logger = TensorBoardLogger(save_dir=str(tmp_path))
    trainer = quiet_trainer(max_epochs=2, logger=logger, log_every_n_steps=2)
    trainer.fit(ValueLogger(), ten_samples_in_batches_of_four(), ten_samples_in_batches_of_four())

    assert logger.log_dir == os.path.join(str(tmp_path), "lightning_logs", "version_0")
    assert glob.glob(os.path.join(logger.log_dir, "events.out.tfevents.*"))
    events = EventAccumulator(logger.log_dir)
    events.Reload()
    tags = events.Tags()["scalars"]
    assert {"idx_step", "idx_epoch", "val_idx", "idx_sum_epoch", "idx_max", "epoch"} <= set(tags)
    assert [e.value for e in events.Scalars("idx_step")] == [1.0, 0.0, 2.0]  # every 2nd of 6 steps
    assert [e.step for e in events.Scalars("idx_step")] == [1, 3, 5]
    assert [e.value for e in events.Scalars("idx_epoch")] == pytest.approx([0.8, 0.8])
    assert [e.value for e in events.Scalars("val_idx")] == pytest.approx([0.8, 0.8])
    assert os.path.exists(os.path.join(logger.log_dir, "hparams.yaml"))


def test_a_second_run_gets_the_next_version(tmp_path):
    for expected in ("version_0", "version_1"):
        trainer = quiet_trainer(max_epochs=1, logger=TensorBoardLogger(save_dir=str(tmp_path)))
        trainer.fit(RegressionModule(), loader())
        assert trainer.log_dir.endswith(expected)


def test_runs_started_together_in_one_folder_get_different_versions(tmp_path):
    loggers = [TensorBoardLogger(save_dir=str(tmp_path)) for _ in range(6)]
    start = threading.Barrier(len(loggers))

    def version(logger):
        start.wait()
        return logger.version

    with ThreadPoolExecutor(len(loggers)) as pool:
        versions = list(pool.map(version, loggers))
    assert sorted(versions) == list(range(6))  # each run its own version_N, claimed by creating the folder
    assert sorted(os.listdir(tmp_path / "lightning_logs")) == [f"version_{n}" for n in range(6)]


@pytest.mark.parametrize(
    ("value", "error", "match"),
    [
        (
            torch.ones(3),
            ValueError,
            r"`self.log\(bad, tensor.*\)` was called, but the tensor must have a single element",
        ),
        ("high", TypeError, r"`self.log\(bad, high\)` was called, but `str` values cannot be logged"),
        ({"a": 1}, ValueError, r"`self.log\(bad, \{'a': 1\}\)` was called, but `dict` values cannot be logged"),
    ],
)
def test_bad_values_are_refused_with_the_name(value, error, match):
    class Bad(RegressionModule):
        def training_step(self, batch, batch_idx):
            self.log("bad", value)
            return super().training_step(batch, batch_idx)

    with pytest.raises(error, match=match):
        quiet_trainer(max_steps=1).fit(Bad(), loader())


def test_logging_from_a_hook_without_steps_is_refused():
    class Bad(RegressionModule):
        def on_train_epoch_end(self):
            self.log("x", 1.0, on_step=True)

    with pytest.raises(ValueError, match=r"on_step=True\) is not allowed in on_train_epoch_end"):
        quiet_trainer(max_steps=1).fit(Bad(), loader())


def test_logging_in_predict_step_is_refused():
    class Bad(RegressionModule):
        def predict_step(self, batch, batch_idx, dataloader_idx=0):
            self.log("x", 1.0)

    with pytest.raises(ValueError, match="`predict_step` runs in `predict`, and prediction doesn.t support logging"):
        quiet_trainer().predict(Bad(), loader())


@pytest.mark.parametrize("reduce_fx", ["avg", "MEAN", "SUM", "Max"])
def test_reduce_fx_accepts_lightnings_spellings(reduce_fx):
    seen = {}

    class Reduced(RegressionModule):
        def training_step(self, batch, batch_idx):
            self.log("v", float(batch_idx + 1), on_step=False, on_epoch=True, reduce_fx=reduce_fx)
            return super().training_step(batch, batch_idx)

        def on_train_end(self):
            seen["v"] = float(self.trainer.callback_metrics["v"])

    quiet_trainer(max_epochs=1).fit(Reduced(), loader(n=32, batch_size=8))  # batch_idx 0..3 -> values 1..4
    assert seen["v"] == {"avg": 2.5, "MEAN": 2.5, "SUM": 10.0, "Max": 4.0}[reduce_fx]


def test_an_unknown_reduce_fx_is_a_misconfiguration():
    from flashtrain.core.exceptions import MisconfigurationException

    class Bad(RegressionModule):
        def training_step(self, batch, batch_idx):
            self.log("v", 1.0, reduce_fx="median")
            return super().training_step(batch, batch_idx)

    supported = r"reduce_fx='median'. Only `self.log\(..., reduce_fx=\{min,max,mean,sum\}\)` are supported"
    with pytest.raises(MisconfigurationException, match=supported):
        quiet_trainer(max_steps=1).fit(Bad(), loader())


class _TwoLoaderTest(RegressionModule):
    def test_step(self, batch, batch_idx, dataloader_idx=0):
        x, y = batch
        self.log("loss", torch.nn.functional.mse_loss(self(x), y), on_step=True, on_epoch=True)
        self.log(f"only_{dataloader_idx}", float(dataloader_idx + 1), add_dataloader_idx=False)

    def on_test_epoch_end(self):
        self.log("shared", 7.0)


def test_results_per_dataloader_are_suffixed_and_shared_epoch_end_values_go_to_every_loader():
    results = quiet_trainer().test(_TwoLoaderTest(), [loader(n=16), loader(n=16)], verbose=False)
    assert [set(r) for r in results] == [
        {"loss_epoch/dataloader_idx_0", "only_0", "shared"},
        {"loss_epoch/dataloader_idx_1", "only_1", "shared"},
    ]
    assert results[1]["only_1"] == 2.0 and results[0]["shared"] == results[1]["shared"] == 7.0


def test_evaluation_end_values_reach_the_loggers_in_one_call(tmp_path):
    logger = CSVLogger(str(tmp_path))
    calls = []
    logger.log_metrics = lambda metrics, step=None: calls.append(set(metrics))
    quiet_trainer(logger=logger).test(_TwoLoaderTest(), [loader(n=16), loader(n=16)], verbose=False)
    epoch_end = [keys for keys in calls if "shared" in keys]
    assert epoch_end == [
        {"loss_epoch/dataloader_idx_0", "loss_epoch/dataloader_idx_1", "only_0", "only_1", "shared", "epoch"}
    ]


def test_a_name_with_dataloader_idx_is_refused_with_lightnings_message():
    from flashtrain.core.exceptions import MisconfigurationException

    class Named(RegressionModule):
        def training_step(self, batch, batch_idx):
            self.log("foo/dataloader_idx_0", 1.0)
            return super().training_step(batch, batch_idx)

    with pytest.raises(MisconfigurationException, match="`self.log` with the key `foo/dataloader_idx_0`"):
        quiet_trainer(max_steps=1).fit(Named(), loader())


def test_the_same_name_logged_twice_in_a_hook_with_other_arguments_is_refused():
    from flashtrain.core.exceptions import MisconfigurationException

    class Twice(RegressionModule):
        def training_step(self, batch, batch_idx):
            self.log("foo", 1.0, prog_bar=False)
            self.log("foo", 1.0, prog_bar=True)
            return super().training_step(batch, batch_idx)

    with pytest.raises(MisconfigurationException, match=r"self.log\(foo, ...\)` twice in `training_step`"):
        quiet_trainer(max_steps=1).fit(Twice(), loader())


def test_a_logged_metric_must_be_a_module_attribute():
    from flashtrain.core.exceptions import MisconfigurationException

    class Stray(RegressionModule):
        def training_step(self, batch, batch_idx):
            self.log("acc", torchmetrics.MeanMetric())
            return super().training_step(batch, batch_idx)

    with pytest.raises(MisconfigurationException, match="setting an attribute for the metric"):
        quiet_trainer(max_steps=1).fit(Stray(), loader())


def test_a_metric_whose_compute_is_not_a_tensor_is_refused_with_its_logged_name():
    class PairMetric(torchmetrics.Metric):
        def update(self) -> None:
            pass

        def compute(self):
            return torch.tensor(1.0), torch.tensor(2.0)

    class LogsPair(RegressionModule):
        def __init__(self):
            super().__init__()
            self.pair = PairMetric()

        def training_step(self, batch, batch_idx):
            self.log("pair", self.pair, on_step=False, on_epoch=True)
            return super().training_step(batch, batch_idx)

    with pytest.raises(ValueError, match=r"`.compute\(\)` return of the metric logged as 'pair' must be a tensor"):
        quiet_trainer(max_steps=1).fit(LogsPair(), loader(8))


def test_on_step_and_on_epoch_both_false_is_refused_as_lightning_does():
    from flashtrain.core.exceptions import MisconfigurationException

    class Nothing(RegressionModule):
        def training_step(self, batch, batch_idx):
            self.log("x", 1.0, on_step=False, on_epoch=False)
            return super().training_step(batch, batch_idx)

    with pytest.raises(MisconfigurationException, match="is not useful"):
        quiet_trainer(max_steps=1).fit(Nothing(), loader())


def test_a_dict_batch_is_sized_by_its_first_tensor_and_fast_dev_run_keeps_logged_metrics():
    class Dicts(RegressionModule):
        def training_step(self, batch, batch_idx):
            self.log("a", float(len(batch["x"])), on_step=True, on_epoch=True)
            return torch.nn.functional.mse_loss(self(batch["x"]), batch["y"])

    data = [{"x": x, "y": y} for x, y in loader(n=12, batch_size=4)]  # three batches of 4 rows
    data[-1] = {"x": data[-1]["x"][:2], "y": data[-1]["y"][:2]}  # a last batch of 2
    trainer = quiet_trainer(logger=None, fast_dev_run=3)  # a DummyLogger, as Lightning: no files written
    trainer.fit(Dicts(), DataLoader(data, batch_size=None))
    assert set(trainer.logged_metrics) == {"a_step", "a_epoch"}
    assert float(trainer.logged_metrics["a_epoch"]) == pytest.approx((4 * 4 + 4 * 4 + 2 * 2) / 10)


def test_logged_metrics_are_kept_without_a_logger_and_a_logged_epoch_is_not_replaced():
    class LogsEpoch(RegressionModule):
        def training_step(self, batch, batch_idx):
            self.log("epoch", -batch_idx, logger=True)  # logger=True with no logger: a warning, as Lightning
            return super().training_step(batch, batch_idx)

    trainer = quiet_trainer(max_epochs=1, limit_train_batches=2)
    with pytest.warns(UserWarning, match=r"log\('epoch', ..., logger=True\)` but have no logger configured"):
        trainer.fit(LogsEpoch(), loader())
    assert trainer.logged_metrics["epoch"] == -1 and "train_loss_step" in trainer.logged_metrics


def test_a_metric_collection_with_compute_groups_is_logged_without_copying_states():
    calls = []

    class Recording(torchmetrics.MetricCollection):
        def items(self, keep_base=False, copy_state=True):
            calls.append((keep_base, copy_state))
            return super().items(keep_base=keep_base, copy_state=copy_state)

    class LogsCollection(RegressionModule):
        def __init__(self):
            super().__init__()
            self.metrics = Recording([torchmetrics.MeanSquaredError(), torchmetrics.MeanAbsoluteError()], prefix="t_")

        def training_step(self, batch, batch_idx):
            self.metrics(self(batch[0]), batch[1])
            self.log_dict(self.metrics, on_step=False, on_epoch=True)
            return super().training_step(batch, batch_idx)

    trainer = quiet_trainer(max_epochs=1, limit_train_batches=2)
    trainer.fit(LogsCollection(), loader())
    assert (False, False) in calls and (False, True) not in calls  # torchmetrics itself reads with keep_base=True
    assert {"t_MeanSquaredError", "t_MeanAbsoluteError"} <= set(trainer.callback_metrics)


@pytest.mark.parametrize("hook", ["lr_scheduler_step", "on_exception"])
def test_logging_where_lightning_refuses_it_is_refused(hook):
    seen = []

    class LogsThere(RegressionModule):
        def configure_optimizers(self):
            optimizer = torch.optim.SGD(self.parameters(), lr=0.1)
            return [optimizer], [torch.optim.lr_scheduler.StepLR(optimizer, 1)]

        def lr_scheduler_step(self, scheduler, metric):
            if hook == "lr_scheduler_step":
                self.log("x", 1.0)
            scheduler.step()

        def training_step(self, batch, batch_idx):
            if hook == "on_exception":
                raise KeyError("boom")
            return super().training_step(batch, batch_idx)

    class LogsOnException(Callback):
        def on_exception(self, trainer, module, exception):
            with pytest.raises(ValueError, match="You can't `self.log\\('y'\\)` inside `on_exception`"):
                module.log("y", 1.0)
            seen.append(type(exception))

    trainer = quiet_trainer(max_epochs=1, limit_train_batches=2, callbacks=[LogsOnException()])
    with pytest.raises((ValueError, KeyError), match="inside `lr_scheduler_step`|boom"):
        trainer.fit(LogsThere(), loader())
    assert seen == ([KeyError] if hook == "on_exception" else [MisconfigurationException])


def test_loggers_are_finalized_after_every_entry_point_and_can_be_removed():
    class Counting(CSVLogger):
        finalized: list[str] = []

        def finalize(self, status):
            self.finalized.append(status)
            super().finalize(status)

    with tempfile.TemporaryDirectory() as root:
        logger = Counting(root)
        trainer = quiet_trainer(max_epochs=1, limit_train_batches=2, logger=logger)
        module = RegressionModule()
        trainer.fit(module, loader(), loader())
        trainer.test(module, loader(), verbose=False)
        trainer.predict(module, loader())
        assert logger.finalized == ["success"] * 3
    trainer.logger = None
    assert trainer.loggers == [] and trainer.logger is None
    trainer.loggers = None
    assert trainer.loggers == []
