"""Lightning 1.x code runs: each 1.x Trainer argument does what it meant, with one FutureWarning naming the 2.x
spelling (or a clear error where nothing carries over); the 1.x ``*_step_end`` / ``*_epoch_end(outputs)`` hooks;
``trainer.tune``; and a 1.x-style tutorial program from start to end."""

from __future__ import annotations

import warnings

import pytest
import torch
import torch.nn.functional as F
from torch.utils.data import DataLoader, TensorDataset

from flashtrain.core import Module, Trainer
from flashtrain.core.callbacks import ModelSummary, ProgressBar
from flashtrain.core.loggers import CSVLogger
from tests.core.helpers import RegressionModule, loader, quiet_trainer

QUIET = {"logger": False, "enable_progress_bar": False, "enable_model_summary": False}


def build(**kwargs):
    """A Trainer from 1.x arguments, and the FutureWarnings it raised."""
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        trainer = Trainer(**kwargs)
    return trainer, [str(w.message) for w in caught if issubclass(w.category, FutureWarning)]


def test_progress_bar_refresh_rate_refreshes_every_n_batches(tmp_path):
    trainer, warned = build(progress_bar_refresh_rate=20, default_root_dir=tmp_path, logger=False)
    bars = [cb for cb in trainer.callbacks if isinstance(cb, ProgressBar)]
    assert len(bars) == 1 and bars[0].refresh_rate == 20
    assert warned == [
        "Trainer(progress_bar_refresh_rate=20) is Lightning 1.x; in 2.x write "
        "callbacks=[TQDMProgressBar(refresh_rate=20)]. flashtrain runs it that way."
    ]


def test_progress_bar_refresh_rate_zero_disables_the_bar():
    trainer, warned = build(
        progress_bar_refresh_rate=0, **{k: v for k, v in QUIET.items() if k != "enable_progress_bar"}
    )
    assert trainer.progress_bar_callback is None
    assert len(warned) == 1 and "enable_progress_bar=False" in warned[0]


def test_checkpoint_callback_false_means_enable_checkpointing_false():
    trainer, warned = build(checkpoint_callback=False, **QUIET)
    assert trainer.checkpoint_callback is None
    assert len(warned) == 1 and "in 2.x write enable_checkpointing=False" in warned[0]


def test_checkpoint_callback_refuses_what_is_not_a_bool():
    with pytest.raises(TypeError, match="checkpoint_callback must be True or False, got 'yes'"):
        Trainer(checkpoint_callback="yes", **QUIET)


def test_resume_from_checkpoint_resumes_fit(tmp_path):
    first = quiet_trainer(max_epochs=1)
    model = RegressionModule()
    first.fit(model, loader())
    path = str(tmp_path / "one.ckpt")
    first.save_checkpoint(path)
    trainer, warned = build(resume_from_checkpoint=path, max_epochs=2, enable_checkpointing=False, **QUIET)
    assert len(warned) == 1 and f"trainer.fit(model, ckpt_path='{path}')" in warned[0]
    trainer.fit(RegressionModule(), loader())
    assert trainer.current_epoch == 2 and trainer.global_step == 2 * first.global_step  # continued, not restarted


def test_tpu_cores_means_the_tpu_accelerator():
    with warnings.catch_warnings(record=True) as caught, pytest.raises(RuntimeError, match="accelerator='tpu'"):
        warnings.simplefilter("always")
        Trainer(tpu_cores=8, **QUIET)  # no TPU on the test machine: the 2.x flags it became are refused
    assert ["accelerator='tpu', devices=8" in str(w.message) for w in caught] == [True]


def test_num_processes_means_cpu_devices():
    trainer, warned = build(num_processes=1, **QUIET)
    assert trainer.accelerator.name == "cpu" and trainer.num_devices == 1
    assert len(warned) == 1 and "accelerator='cpu', devices=1" in warned[0]


@pytest.mark.parametrize(("value", "depth"), [("top", 1), ("full", -1)])
def test_weights_summary_chooses_the_summary_depth(value, depth):
    trainer, warned = build(weights_summary=value, logger=False, enable_progress_bar=False)
    summaries = [cb for cb in trainer.callbacks if isinstance(cb, ModelSummary)]
    assert [s.max_depth for s in summaries] == [depth]
    assert len(warned) == 1 and f"ModelSummary(max_depth={depth})" in warned[0]


def test_weights_summary_none_disables_the_summary():
    trainer, warned = build(weights_summary=None, logger=False, enable_progress_bar=False)
    assert not any(isinstance(cb, ModelSummary) for cb in trainer.callbacks)
    assert len(warned) == 1 and "enable_model_summary=False" in warned[0]
    with pytest.raises(ValueError, match="weights_summary must be 'top', 'full' or None, got 'all'"):
        Trainer(weights_summary="all")


def test_flush_logs_every_n_steps_reaches_the_csv_logger(tmp_path):
    logger = CSVLogger(str(tmp_path))
    trainer, warned = build(flush_logs_every_n_steps=7, logger=logger, enable_progress_bar=False)
    assert logger.flush_logs_every_n_steps == 7
    assert len(warned) == 1 and "CSVLogger(..., flush_logs_every_n_steps=7)" in warned[0]
    assert trainer.logger is logger


def test_distributed_backend_is_the_strategy():
    trainer, warned = build(distributed_backend="ddp", devices=1, **QUIET)
    assert trainer.strategy.name == "ddp"
    assert len(warned) == 1 and "in 2.x write strategy='ddp'" in warned[0]


def test_strategy_names_given_as_accelerator_in_early_1x_are_the_strategy():
    trainer, warned = build(accelerator="ddp", devices=1, **QUIET)
    assert trainer.strategy.name == "ddp" and trainer.accelerator.name == "cpu"
    assert len(warned) == 1 and "Trainer(accelerator='ddp')" in warned[0]


@pytest.mark.parametrize(
    ("name", "message"),
    [("dp", "DataParallel is gone in 2.x .*use strategy='ddp'"), ("horovod", "Horovod is not supported")],
)
def test_distributed_backends_without_an_equivalent_are_refused(name, message):
    with pytest.raises(ValueError, match=message):
        Trainer(distributed_backend=name, **QUIET)


def test_auto_select_gpus_is_ignored_with_the_reason():
    trainer, warned = build(auto_select_gpus=True, **QUIET)
    assert trainer.accelerator.name == "cpu"
    assert len(warned) == 1 and "flashtrain ignores it: the first N visible GPUs are used" in warned[0]


class Tunable(RegressionModule):
    def __init__(self, lr: float = 0.05, batch_size: int = 4) -> None:
        super().__init__(lr=lr)
        self.lr = lr
        self.batch_size = batch_size

    def train_dataloader(self):
        return loader(n=64, batch_size=self.batch_size)


def test_auto_lr_find_runs_the_learning_rate_finder_before_fit():
    model = Tunable(lr=1e-6)
    trainer, warned = build(auto_lr_find=True, max_epochs=1, enable_checkpointing=False, **QUIET)
    assert len(warned) == 1 and "Tuner(trainer).lr_find(model) before fit" in warned[0]
    trainer.fit(model)
    assert model.lr != 1e-6 and model.hparams.lr == model.lr  # the suggestion was set, then fit trained with it
    assert trainer.current_epoch == 1


def test_auto_scale_batch_size_runs_the_batch_size_finder_in_tune():
    model = Tunable(batch_size=2)
    trainer, warned = build(auto_scale_batch_size="binsearch", max_epochs=1, enable_checkpointing=False, **QUIET)
    assert len(warned) == 1 and "scale_batch_size(model, mode='binsearch')" in warned[0]
    with pytest.warns(FutureWarning, match=r"trainer.tune\(model\) is Lightning 1.x"):
        result = trainer.tune(model, scale_batch_size_kwargs={"max_trials": 2})
    assert result["scale_batch_size"] == model.batch_size and model.batch_size > 2
    assert result["lr_find"] is None


@pytest.mark.parametrize("name", ["amp_backend", "amp_level"])
def test_amp_backend_and_level_are_ignored_with_the_reason(name):
    value = "native" if name == "amp_backend" else "O2"
    trainer, warned = build(**{name: value}, **QUIET)
    assert trainer.precision == "32-true"
    assert len(warned) == 1 and "flashtrain ignores it" in warned[0] and "precision='16-mixed'" in warned[0]


def test_plugins_naming_a_strategy_are_the_strategy_and_others_are_refused():
    trainer, warned = build(plugins=["ddp_find_unused_parameters_true"], devices=1, **QUIET)
    assert trainer.strategy.find_unused_parameters and len(warned) == 1
    with pytest.raises(ValueError, match="sharded DDP is gone in 2.x; use strategy='fsdp'"):
        Trainer(plugins=["ddp_sharded"], **QUIET)
    with pytest.raises(TypeError, match=r"Trainer\(plugins=\[object\(\)\]\) is not supported|is not supported"):
        Trainer(plugins=[object()], **QUIET)


def test_automatic_optimization_false_switches_the_module_to_manual_optimization():
    class Manual(RegressionModule):
        def training_step(self, batch, batch_idx):
            optimizer = self.optimizers()
            loss = F.mse_loss(self(batch[0]), batch[1])
            optimizer.zero_grad()
            self.manual_backward(loss)
            optimizer.step()

    trainer, warned = build(automatic_optimization=False, max_epochs=1, enable_checkpointing=False, **QUIET)
    assert len(warned) == 1 and "self.automatic_optimization = False" in warned[0]
    model = Manual()
    trainer.fit(model, loader(n=32))
    assert model.automatic_optimization is False and trainer.global_step == 4


def test_gpus_and_precision_32_are_accepted_as_before():
    trainer, warned = build(gpus=0, precision=32, **QUIET)
    assert trainer.accelerator.name == "cpu" and trainer.precision == "32-true" and warned == []


@pytest.mark.parametrize(
    ("name", "message"),
    [
        ("track_grad_norm", "on_before_optimizer_step"),
        ("truncated_bptt_steps", "manual optimization"),
    ],
)
def test_arguments_without_an_equivalent_are_refused_with_what_to_do(name, message):
    with pytest.raises(TypeError, match=rf"Trainer\({name}=...\) was removed after Lightning 1.x .*{message}"):
        Trainer(**{name: 2})


def test_a_misspelt_argument_names_the_closest_one():
    with pytest.raises(TypeError, match="unexpected keyword argument 'max_epoch'; did you mean 'max_epochs'"):
        Trainer(max_epoch=3)
    with pytest.raises(TypeError, match="keyword arguments only"):
        Trainer(3)


def test_a_1x_argument_conflicting_with_its_2x_flag_is_refused():
    with warnings.catch_warnings():
        warnings.simplefilter("error", FutureWarning)  # refused before any "flashtrain runs it that way"
        with pytest.raises(ValueError, match="checkpoint_callback=True.* means enable_checkpointing=True, but"):
            Trainer(checkpoint_callback=True, enable_checkpointing=False)


# -- hooks ---------------------------------------------------------------------------------------------------
def test_step_end_hooks_receive_the_step_output_and_replace_it():
    seen: dict[str, list] = {"train_end": [], "val_batch_end": [], "val_epoch": [], "test_epoch": []}

    class Legacy(RegressionModule):
        def training_step(self, batch, batch_idx):
            return {"loss": F.mse_loss(self(batch[0]), batch[1]), "batch_idx": batch_idx}

        def training_step_end(self, output):
            seen["train_end"].append(output["batch_idx"])
            return output["loss"] * 0.0 + output["loss"]  # what backward sees

        def validation_step(self, batch, batch_idx):
            return batch_idx

        def validation_step_end(self, output):
            return output * 10

        def on_validation_batch_end(self, outputs, batch, batch_idx, dataloader_idx=0):
            seen["val_batch_end"].append(outputs)

        def validation_epoch_end(self, outputs):
            seen["val_epoch"].append(list(outputs))

        def test_step(self, batch, batch_idx):
            return batch_idx

        def test_step_end(self, output):
            return output + 100

        def test_epoch_end(self, outputs):
            seen["test_epoch"].append(list(outputs))

    trainer = quiet_trainer(max_epochs=1)
    model = Legacy()
    before = [p.clone() for p in model.parameters()]
    trainer.fit(model, loader(n=32), loader(n=16))
    trainer.test(model, loader(n=16))
    assert seen["train_end"] == [0, 1, 2, 3]
    assert any(not torch.equal(a, b) for a, b in zip(before, model.parameters()))  # the returned loss trained
    assert seen["val_batch_end"] == [0, 10] and seen["val_epoch"] == [[0, 10]]
    assert seen["test_epoch"] == [[100, 101]]


def test_training_step_end_output_is_what_training_epoch_end_receives():
    collected = {}

    class Legacy(RegressionModule):
        def training_step_end(self, output):
            return {"loss": output, "doubled": output.detach() * 2}

        def training_epoch_end(self, outputs):
            collected["keys"] = sorted(outputs[0])
            collected["n"] = len(outputs)

    quiet_trainer(max_epochs=1).fit(Legacy(), loader(n=32))
    assert collected == {"keys": ["doubled", "loss"], "n": 4}


def test_training_step_end_under_manual_optimization():
    calls = []

    class Manual(RegressionModule):
        def __init__(self):
            super().__init__()
            self.automatic_optimization = False

        def training_step(self, batch, batch_idx):
            optimizer = self.optimizers()
            loss = F.mse_loss(self(batch[0]), batch[1])
            optimizer.zero_grad()
            self.manual_backward(loss)
            optimizer.step()
            return loss

        def training_step_end(self, output):
            calls.append(float(output.detach()))
            return output

    quiet_trainer(max_epochs=1).fit(Manual(), loader(n=16))
    assert len(calls) == 2


# -- a 1.x tutorial, start to end ----------------------------------------------------------------------------
def test_a_lightning_1x_tutorial_program_runs_start_to_end(tmp_path):
    pytest.importorskip("torchmetrics")
    from flashtrain.core import metrics

    generator = torch.Generator().manual_seed(0)
    x = torch.randn(96, 6, generator=generator)
    y = (x[:, 0] + x[:, 1] > 0).long() + (x[:, 2] > 1).long()  # three classes
    train = DataLoader(TensorDataset(x[:64], y[:64]), batch_size=16)
    val = DataLoader(TensorDataset(x[64:], y[64:]), batch_size=16)

    class LitClassifier(Module):  # as the 1.x tutorials wrote it
        def __init__(self, lr=0.05):
            super().__init__()
            self.save_hyperparameters()
            self.layer = torch.nn.Linear(6, 3)
            self.train_acc = metrics.Accuracy()
            self.val_acc = metrics.Accuracy()
            self.val_outputs = None

        def forward(self, x):
            return self.layer(x)

        def training_step(self, batch, batch_idx):
            x, y = batch
            logits = self(x)
            loss = F.cross_entropy(logits, y)
            self.log("train_acc", self.train_acc(logits.softmax(-1), y), on_epoch=True)
            return {"loss": loss, "preds": logits.argmax(-1), "target": y}

        def training_step_end(self, outputs):
            return outputs

        def training_epoch_end(self, outputs):
            self.log("train_seen", float(sum(len(o["preds"]) for o in outputs)))

        def validation_step(self, batch, batch_idx):
            x, y = batch
            logits = self(x)
            self.val_acc(logits.argmax(-1), y)
            self.log("val_acc", self.val_acc, prog_bar=True)
            return F.cross_entropy(logits, y)

        def validation_epoch_end(self, outputs):
            self.log("val_loss", torch.stack(outputs).mean())

        def configure_optimizers(self):
            return torch.optim.SGD(self.parameters(), lr=self.hparams.lr)

    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        trainer = Trainer(
            max_epochs=2,
            gpus=0,
            progress_bar_refresh_rate=0,
            weights_summary=None,
            checkpoint_callback=True,
            default_root_dir=str(tmp_path),
            logger=CSVLogger(str(tmp_path)),
            num_sanity_val_steps=0,
        )
        model = LitClassifier()
        trainer.fit(model, train, val)
    future = sorted({str(w.message).split(")")[0] for w in caught if issubclass(w.category, FutureWarning)})
    assert future == [
        "Accuracy(",
        "Trainer(checkpoint_callback=True",
        "Trainer(progress_bar_refresh_rate=0",
        "Trainer(weights_summary=None",
    ]
    metrics_now = trainer.callback_metrics
    assert float(metrics_now["train_seen"]) == 64.0
    assert 0.0 <= float(metrics_now["val_acc"]) <= 1.0 and "val_loss" in metrics_now
    assert trainer.checkpoint_callback is not None and trainer.checkpoint_callback.best_model_path
