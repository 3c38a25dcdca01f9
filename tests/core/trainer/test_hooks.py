"""Hooks run in the order documented in flashtrain/core/trainer/loop.py."""

from __future__ import annotations

import pytest
import torch

from flashtrain.core import Callback
from tests.core.helpers import RegressionModule, loader, quiet_trainer

CALLBACK_HOOKS = [name for name in dir(Callback) if name.startswith("on_") or name in ("setup", "teardown")]
MODULE_METHODS = [
    *CALLBACK_HOOKS,
    "configure_optimizers",
    "training_step",
    "validation_step",
    "test_step",
    "predict_step",
    "optimizer_step",
    "optimizer_zero_grad",
    "backward",
    "configure_gradient_clipping",
]


class RecordingCallback(Callback):
    def __init__(self, calls):
        self.calls = calls


class RecordingModule(RegressionModule):
    def __init__(self, calls):
        super().__init__()
        self.calls = calls


def _record_callback(name):
    def hook(self, *args, **kwargs):
        self.calls.append(f"Callback.{name}")

    return hook


def _record_module(name):
    base = getattr(RegressionModule, name, None)

    def hook(self, *args, **kwargs):
        self.calls.append(name)
        if base is not None:
            return base(self, *args, **kwargs)

    return hook


for _name in CALLBACK_HOOKS:
    setattr(RecordingCallback, _name, _record_callback(_name))
for _name in MODULE_METHODS:
    if hasattr(RegressionModule, _name) or _name in CALLBACK_HOOKS:
        setattr(RecordingModule, _name, _record_module(_name))

VAL_LOOP = [
    "Callback.on_validation_start",
    "on_validation_start",
    "Callback.on_validation_epoch_start",
    "on_validation_epoch_start",
    "Callback.on_validation_batch_start",
    "on_validation_batch_start",
    "validation_step",
    "Callback.on_validation_batch_end",
    "on_validation_batch_end",
    "Callback.on_validation_epoch_end",
    "on_validation_epoch_end",
    "Callback.on_validation_end",
    "on_validation_end",
]


def train_batch(window_start=True, window_end=True):
    calls = ["Callback.on_train_batch_start", "on_train_batch_start"]
    if window_end:
        calls.append("optimizer_step")  # it wraps the closure below through optimizer.step(closure)
    calls.append("training_step")
    if window_start:  # after training_step, as Lightning
        calls += ["Callback.on_before_zero_grad", "on_before_zero_grad", "optimizer_zero_grad"]
    calls += [
        "Callback.on_before_backward",
        "on_before_backward",
        "backward",
        "Callback.on_after_backward",
        "on_after_backward",
    ]
    if window_end:
        calls += ["Callback.on_before_optimizer_step", "on_before_optimizer_step", "configure_gradient_clipping"]
    return calls + ["Callback.on_train_batch_end", "on_train_batch_end"]


def test_fit_hook_order():
    calls = []
    trainer = quiet_trainer(
        max_epochs=1,
        limit_train_batches=2,
        limit_val_batches=1,
        num_sanity_val_steps=1,
        accumulate_grad_batches=2,
        callbacks=[RecordingCallback(calls)],
    )
    trainer.fit(RecordingModule(calls), loader(), loader())
    expected = [
        "Callback.setup",
        "setup",
        "configure_optimizers",
        "Callback.on_fit_start",
        "on_fit_start",
        "Callback.on_sanity_check_start",
        *VAL_LOOP,
        "Callback.on_sanity_check_end",
        "Callback.on_train_start",
        "on_train_start",
        "Callback.on_train_epoch_start",
        "on_train_epoch_start",
        *train_batch(window_start=True, window_end=False),
        *train_batch(window_start=False, window_end=True),
        *VAL_LOOP,
        "Callback.on_train_epoch_end",
        "on_train_epoch_end",
        "Callback.on_train_end",
        "on_train_end",
        "Callback.on_fit_end",
        "on_fit_end",
        "Callback.teardown",
        "teardown",
    ]
    assert calls == expected


def test_test_and_predict_hook_order():
    calls = []
    trainer = quiet_trainer(limit_test_batches=1, limit_predict_batches=1, callbacks=[RecordingCallback(calls)])
    model = RecordingModule(calls)
    trainer.test(model, loader(), verbose=False)
    assert calls == [
        "Callback.setup",
        "setup",
        "Callback.on_test_start",
        "on_test_start",
        "Callback.on_test_epoch_start",
        "on_test_epoch_start",
        "Callback.on_test_batch_start",
        "on_test_batch_start",
        "test_step",
        "Callback.on_test_batch_end",
        "on_test_batch_end",
        "Callback.on_test_epoch_end",
        "on_test_epoch_end",
        "Callback.on_test_end",
        "on_test_end",
        "Callback.teardown",
        "teardown",
    ]
    calls.clear()
    trainer.predict(model, loader())
    assert calls == [
        "Callback.setup",
        "setup",
        "Callback.on_predict_start",
        "on_predict_start",
        "Callback.on_predict_epoch_start",
        "on_predict_epoch_start",
        "Callback.on_predict_batch_start",
        "on_predict_batch_start",
        "predict_step",
        "Callback.on_predict_batch_end",
        "on_predict_batch_end",
        "Callback.on_predict_epoch_end",
        "on_predict_epoch_end",
        "Callback.on_predict_end",
        "on_predict_end",
        "Callback.teardown",
        "teardown",
    ]


def test_on_train_batch_start_returning_minus_one_ends_the_epoch():
    class Stopper(RegressionModule):
        def on_train_batch_start(self, batch, batch_idx):
            return -1 if batch_idx == 3 else None

    trainer = quiet_trainer(max_epochs=2)
    trainer.fit(Stopper(), loader(n=64, batch_size=8))
    assert trainer.global_step == 6  # 3 batches in each of the 2 epochs


def test_self_log_inside_callback_hooks_logs_through_the_module():
    from flashtrain.core import Callback, Trainer
    from tests.core.helpers import RegressionModule, loader

    class Logs(Callback):
        def on_train_start(self, trainer, pl_module):
            self.log("from_train_start", 1.0)

        def on_train_batch_end(self, trainer, pl_module, outputs, batch, batch_idx):
            self.log_dict({"from_batch_end": float(batch_idx)})

    trainer = Trainer(
        max_epochs=1, callbacks=[Logs()], logger=False, enable_checkpointing=False, enable_progress_bar=False
    )
    trainer.fit(RegressionModule(), loader(16, batch_size=8))
    assert float(trainer.callback_metrics["from_train_start"]) == 1.0
    assert float(trainer.callback_metrics["from_batch_end"]) == 1.0  # on_step default: the last batch's value


def test_a_hook_set_to_none_on_the_instance_is_switched_off():
    from flashtrain.core import Trainer
    from tests.core.helpers import RegressionModule, loader

    model = RegressionModule()
    model.validation_step = None  # Lightning's idiom to turn validation off
    trainer = Trainer(max_epochs=1, logger=False, enable_checkpointing=False, enable_progress_bar=False)
    trainer.fit(model, loader(16, batch_size=8), loader(8))
    assert trainer.num_val_batches == [] and "val_loss" not in trainer.callback_metrics


def test_manual_backward_runs_the_backward_hooks_through_the_strategy():
    from unittest import mock

    from flashtrain.core import Callback, Trainer
    from flashtrain.core.strategies import Strategy
    from tests.core.helpers import RegressionModule, loader

    calls = []

    class Manual(RegressionModule):
        def __init__(self):
            super().__init__()
            self.automatic_optimization = False

        def training_step(self, batch, batch_idx):
            optimizer = self.optimizers()
            optimizer.zero_grad()
            loss = super().training_step(batch, batch_idx)
            self.manual_backward(loss)
            self.log("after", 1.0)  # still training_step's defaults (on_step=True)
            optimizer.step()

        def on_after_backward(self):
            calls.append("module.on_after_backward")

    class Spy(Callback):
        def on_before_backward(self, trainer, pl_module, loss):
            calls.append("callback.on_before_backward")

    trainer = Trainer(
        max_epochs=1, callbacks=[Spy()], logger=False, enable_checkpointing=False, enable_progress_bar=False
    )
    with mock.patch.object(Strategy, "backward", wraps=trainer.strategy.backward) as backward:
        trainer.fit(Manual(), loader(16, batch_size=8))
    assert backward.call_count == 2 and trainer.global_step == 2
    assert calls == ["callback.on_before_backward", "module.on_after_backward"] * 2
    assert "after" in trainer.callback_metrics


def test_manual_backward_and_step_pass_their_extra_arguments_on():
    import torch

    from flashtrain.core import Trainer
    from tests.core.helpers import RegressionModule, loader

    seen = {}

    class Recording(torch.optim.SGD):
        def step(self, closure=None, **kwargs):
            seen.update(kwargs)
            return super().step(closure)

    class Twice(RegressionModule):
        def __init__(self):
            super().__init__()
            self.automatic_optimization = False

        def training_step(self, batch, batch_idx):
            optimizer = self.optimizers()
            optimizer.zero_grad()
            loss = super().training_step(batch, batch_idx)
            self.manual_backward(loss, retain_graph=True)  # the graph stays for a second backward
            self.manual_backward(loss)
            optimizer.step(lambda: None, note="passed")

        def configure_optimizers(self):
            return Recording(self.parameters(), lr=0.01)

    trainer = Trainer(max_epochs=1, logger=False, enable_checkpointing=False, enable_progress_bar=False)
    trainer.fit(Twice(), loader(16, batch_size=8))
    assert trainer.global_step == 2 and seen == {"note": "passed"}


class _BatchTransferRecorder(RegressionModule):
    """Records the batch-transfer hooks and turns each batch into a dict on the way (as a user's hook might)."""

    def __init__(self):
        super().__init__()
        self.transfers = []

    def on_before_batch_transfer(self, batch, dataloader_idx):
        self.transfers.append(("before", dataloader_idx))
        x, y = batch
        return {"x": x, "y": y}

    def transfer_batch_to_device(self, batch, device, dataloader_idx):
        self.transfers.append(("transfer", device.type, dataloader_idx))
        return super().transfer_batch_to_device(batch, device, dataloader_idx)

    def on_after_batch_transfer(self, batch, dataloader_idx):
        self.transfers.append(("after", dataloader_idx))
        return batch["x"] * 0 + 1.0, batch["y"]  # the step sees what this hook returned

    def training_step(self, batch, batch_idx):
        assert torch.equal(batch[0], torch.ones_like(batch[0]))
        return super().training_step(batch, batch_idx)

    def validation_step(self, batch, batch_idx, dataloader_idx=0):
        assert torch.equal(batch[0], torch.ones_like(batch[0]))


def test_batch_transfer_hooks_run_in_order_on_every_batch_with_the_dataloader_index():
    model = _BatchTransferRecorder()
    trainer = quiet_trainer(max_epochs=1, limit_train_batches=2, limit_val_batches=1)
    trainer.fit(model, loader(), loader())
    per_batch = [("before", 0), ("transfer", "cpu", 0), ("after", 0)]
    assert model.transfers == per_batch * 3  # 2 training batches, then 1 validation batch

    model.transfers.clear()
    trainer.validate(model, [loader(n=8), loader(n=8)], verbose=False)
    assert model.transfers == per_batch + [("before", 1), ("transfer", "cpu", 1), ("after", 1)]


def test_batch_transfer_hooks_also_run_in_predict():
    model = _BatchTransferRecorder()
    model.predict_step = lambda batch, batch_idx, dataloader_idx=0: batch[0].sum()
    predictions = quiet_trainer().predict(model, loader(n=16))
    assert [float(p) for p in predictions] == [64.0, 64.0]  # 8 rows x 8 features of ones, per batch
    assert model.transfers[:3] == [("before", 0), ("transfer", "cpu", 0), ("after", 0)]


def test_loaders_are_requested_in_lightnings_order_validation_first_for_the_sanity_check():
    requested = []

    class OwnData(RegressionModule):
        def train_dataloader(self):
            requested.append("train_dataloader")
            return loader()

        def val_dataloader(self):
            requested.append("val_dataloader")
            return loader(n=16)

        def on_train_start(self):
            requested.append("on_train_start")

    class Sanity(Callback):
        def on_sanity_check_start(self, trainer, pl_module):
            requested.append("on_sanity_check_start")

    quiet_trainer(max_epochs=1, num_sanity_val_steps=1, callbacks=[Sanity()]).fit(OwnData())
    assert requested == ["on_sanity_check_start", "val_dataloader", "train_dataloader", "on_train_start"]

    requested.clear()
    quiet_trainer(max_epochs=1, limit_val_batches=0).fit(OwnData())
    assert requested == ["train_dataloader", "on_train_start"]  # no validation: its loader is never asked for


def test_reload_dataloaders_every_n_epochs_asks_for_new_loaders():
    requested = []

    class OwnData(RegressionModule):
        def train_dataloader(self):
            requested.append(("train", self.current_epoch))
            return loader(n=16)

        def val_dataloader(self):
            requested.append(("val", self.current_epoch))
            return loader(n=8)

    quiet_trainer(max_epochs=4, reload_dataloaders_every_n_epochs=2).fit(OwnData())
    assert requested == [("train", 0), ("val", 0), ("train", 2), ("val", 2)]
    requested.clear()
    quiet_trainer(max_epochs=3).fit(OwnData())
    assert requested == [("train", 0), ("val", 0)]


def test_module_zero_grad_and_on_validation_model_zero_grad_free_gradients_before_evaluation():
    seen = []

    class Probe(RegressionModule):
        def on_validation_start(self):
            seen.append(all(p.grad is None for p in self.parameters()))

    quiet_trainer(max_epochs=1, limit_train_batches=2, limit_val_batches=1).fit(Probe(), loader(), loader())
    assert seen == [True]  # the step's gradients were released before validation, as Lightning does


def test_setup_and_teardown_get_the_stage_as_a_keyword():
    stages = []

    class Keywords(RegressionModule):
        def setup(self, *args, **kwargs):
            stages.append(("setup", args, kwargs))

        def teardown(self, *args, **kwargs):
            stages.append(("teardown", args, kwargs))

    quiet_trainer(max_steps=1).fit(Keywords(), loader())
    assert stages == [("setup", (), {"stage": "fit"}), ("teardown", (), {"stage": "fit"})]


def test_steps_without_batch_idx_and_dataloader_idx_signatures_checked_before_the_first_batch():
    class NoBatchIdx(RegressionModule):
        def validation_step(self, batch):  # Lightning calls it without batch_idx
            self.seen += 1

        def predict_step(self, batch):
            return batch[0].shape[0]

    model = NoBatchIdx()
    model.seen = 0
    trainer = quiet_trainer()
    trainer.validate(model, loader(16), verbose=False)
    assert model.seen == 2 and trainer.predict(model, loader(16)) == [8, 8]

    class NeedsIndex(RegressionModule):
        def test_step(self, batch, batch_idx, dataloader_idx):
            pass

    with pytest.raises(RuntimeError, match=r"only a single `test_dataloader`, but have included `dataloader_idx` in"):
        trainer.test(NeedsIndex(), loader(16), verbose=False)

    class NoIndex(RegressionModule):
        def on_validation_batch_end(self, outputs, batch, batch_idx):
            pass

    with pytest.raises(RuntimeError, match=r"multiple `val_dataloader`, but no `dataloader_idx` argument in `NoIndex"):
        trainer.validate(NoIndex(), [loader(8), loader(8)], verbose=False)
