"""Bad input gets a ValueError/TypeError that names what was wrong and what is allowed."""

from __future__ import annotations

from collections.abc import Mapping

import pytest
import torch

from flashtrain.core import Trainer
from flashtrain.core.exceptions import MisconfigurationException
from tests.core.helpers import RegressionModule, loader, quiet_trainer


class _ReadOnlyMapping(Mapping):  # a Mapping that is not a dict: Lightning reads "loss" from any Mapping
    def __init__(self, **items):
        self.items_ = items

    def __getitem__(self, key):
        return self.items_[key]

    def __iter__(self):
        return iter(self.items_)

    def __len__(self):
        return len(self.items_)


@pytest.mark.parametrize(
    ("returned", "error", "match"),
    [
        ("a string", TypeError, r"`training_step` must return a Tensor, a dict, or None .*got str"),
        ({"los": 1}, ValueError, r"the 'loss' key needs to be present \(keys: \['los'\]\)"),
        (_ReadOnlyMapping(a=5), ValueError, r"the 'loss' key needs to be present \(keys: \['a'\]\)"),
        (3.0, TypeError, "got float"),
    ],
)
def test_wrong_return_from_training_step(returned, error, match):
    class Bad(RegressionModule):
        def training_step(self, batch, batch_idx):
            return returned

    with pytest.raises(error, match=match) as raised:
        quiet_trainer(max_steps=1).fit(Bad(), loader())
    assert isinstance(raised.value, MisconfigurationException)  # Lightning's type, also the built-in one


def test_wrong_return_from_a_manual_training_step():
    class Manual(RegressionModule):
        def __init__(self):
            super().__init__()
            self.automatic_optimization = False

        def training_step(self, batch, batch_idx):
            return 5

    with pytest.raises(MisconfigurationException, match="must either return a Tensor or have no return.*got int"):
        quiet_trainer(max_steps=1).fit(Manual(), loader())


def test_not_a_module():
    with pytest.raises(TypeError, match=r"must be a `LightningModule`.*`Linear` in trainer.fit"):
        quiet_trainer().fit(torch.nn.Linear(2, 2), loader())


@pytest.mark.parametrize(
    ("kwargs", "match"),
    [
        (
            dict(accelerator="tpuu"),
            "invalid accelerator name: `accelerator='tpuu'`. Allowed: 'auto', 'cpu', 'cuda', 'gpu', 'mps'",
        ),
        (dict(precision="17"), r"Precision '17' is invalid. Allowed: '32-true', '64-true', '16-mixed', 'bf16-mixed'"),
        (dict(strategy="fsdp9"), "strategy='fsdp9' is not supported. Allowed: 'auto'"),
        (dict(gpus=1, accelerator="cpu"), "gpus=1 is shorthand for accelerator='gpu'"),
        (dict(max_epochs=2.5), "`max_epochs` must be a non-negative integer or -1. You passed in 2.5"),
        (
            dict(max_steps=0.5),
            r"`max_steps` must be a non-negative integer or -1 \(infinite steps\). You passed in 0.5",
        ),
        (dict(check_val_every_n_epoch=1.5), "`check_val_every_n_epoch` should be an integer, found 1.5"),
        (dict(gradient_clip_val=(1, 2)), r"`gradient_clip_val` should be an int or a float. Got \(1, 2\)"),
        (
            dict(limit_train_batches=1.5),
            r"invalid value 1.5 for limit_train_batches, it has to be in \[0.0, 1.0\] or an int",
        ),
        (dict(limit_val_batches="all"), "limit_val_batches must be an int"),
        (dict(val_check_interval=0.0), r"invalid value 0.0 for val_check_interval, it has to be in \(0.0, 1.0\]"),
        (dict(accumulate_grad_batches=0), "accumulate_grad_batches must be an int >= 1"),
        (dict(gradient_clip_algorithm="l2"), r"`gradient_clip_algorithm` l2 is invalid. Allowed algorithms: \['value'"),
        (dict(gradient_clip_val=-1), "gradient_clip_val must be a number >= 0"),
        (dict(max_time="1 hour"), "max_time must be a string in the format DD:HH:MM:SS"),
        (dict(on_nan="ignore"), "on_nan='ignore' is not supported. Allowed: 'raise', 'skip_step', None"),
        (dict(devices=0), "devices must be a positive int"),
        # no device is a mistake whatever the accelerator: said before asking whether a GPU is there
        (dict(devices=[], accelerator="cuda"), r"`Trainer\(devices=\[\]\)` value is not a valid input using cuda"),
        (dict(devices="0", accelerator="mps"), r"`Trainer\(devices='0'\)` value is not a valid input using mps"),
        (dict(log_every_n_steps=-1), "log_every_n_steps must be an int >= 0"),
        (dict(deterministic="yes"), "deterministic='yes' is not supported"),
    ],
)
def test_bad_trainer_arguments(kwargs, match):
    with pytest.raises((ValueError, TypeError), match=match):
        Trainer(**kwargs)


def test_val_check_interval_longer_than_the_epoch():
    message = r"`val_check_interval` \(20\) must be less than or equal to the number of the training batches \(8\)"
    with pytest.raises(ValueError, match=message):
        quiet_trainer(max_epochs=1, val_check_interval=20).fit(RegressionModule(), loader(), loader())


def test_several_optimizers_need_manual_optimization():
    class Two(RegressionModule):
        def configure_optimizers(self):
            return [torch.optim.SGD(self.parameters(), lr=0.1), torch.optim.SGD(self.parameters(), lr=0.1)]

    with pytest.raises(ValueError, match="returned 2 optimizers.*self.automatic_optimization = False"):
        quiet_trainer(max_steps=1).fit(Two(), loader())


def test_configure_optimizers_returning_junk():
    class Junk(RegressionModule):
        def configure_optimizers(self):
            return "adam"

    with pytest.raises(TypeError, match="Unknown configuration for model optimizers.*found str"):
        quiet_trainer(max_steps=1).fit(Junk(), loader())


def test_plateau_scheduler_needs_a_monitor():
    class Plateau(RegressionModule):
        def configure_optimizers(self):
            optimizer = torch.optim.SGD(self.parameters(), lr=0.1)
            return {"optimizer": optimizer, "lr_scheduler": torch.optim.lr_scheduler.ReduceLROnPlateau(optimizer)}

    with pytest.raises(ValueError, match="`configure_optimizers` must include a monitor when a `ReduceLROnPlateau`"):
        quiet_trainer(max_steps=1).fit(Plateau(), loader())


def test_plateau_scheduler_monitor_not_logged():
    class Plateau(RegressionModule):
        def configure_optimizers(self):
            optimizer = torch.optim.SGD(self.parameters(), lr=0.1)
            scheduler = torch.optim.lr_scheduler.ReduceLROnPlateau(optimizer)
            return {"optimizer": optimizer, "lr_scheduler": {"scheduler": scheduler, "monitor": "val_acc"}}

    with pytest.raises(ValueError, match=r"conditioned on metric val_acc which is not available.*train_loss"):
        quiet_trainer(max_epochs=1).fit(Plateau(), loader())


@pytest.mark.parametrize(
    ("scheduler_config", "match"),
    [
        ({"interval": "epoch"}, 'The lr scheduler dict must have the key "scheduler"'),
        ({"scheduler": "S", "interval": "batch"}, 'The "interval" key in lr scheduler dict must be "step" or "epoch"'),
        ({"scheduler": "S", "moniter": "val_loss"}, r"Found unsupported keys in the lr scheduler dict: \['moniter'\]"),
        ({"scheduler": "other"}, "Some schedulers are attached with an optimizer that wasn't returned"),
    ],
)
def test_bad_scheduler_configurations_name_the_problem(scheduler_config, match):
    class Scheduled(RegressionModule):
        def configure_optimizers(self):
            optimizer = torch.optim.SGD(self.parameters(), lr=0.1)
            other = torch.optim.SGD(self.parameters(), lr=0.1)
            chosen = {"S": optimizer, "other": other}
            config = dict(scheduler_config)
            if "scheduler" in config:
                config["scheduler"] = torch.optim.lr_scheduler.StepLR(chosen[config["scheduler"]], 1)
            return {"optimizer": optimizer, "lr_scheduler": config}

    with pytest.raises(MisconfigurationException, match=match):
        quiet_trainer(max_steps=1).fit(Scheduled(), loader())


def test_fraction_limit_needs_a_sized_loader():
    class Stream(torch.utils.data.IterableDataset):
        def __iter__(self):
            for _ in range(4):
                yield torch.randn(8), torch.randn(1)

    with pytest.raises(MisconfigurationException, match=r"IterableDataset`, `Trainer\(limit_train_batches\)` must be"):
        quiet_trainer(max_epochs=1, limit_train_batches=0.5).fit(
            RegressionModule(), torch.utils.data.DataLoader(Stream(), batch_size=2)
        )


def test_a_compiled_non_module_is_still_refused():
    with pytest.raises(TypeError, match="must be a `LightningModule`.*got `OptimizedModule`"):
        quiet_trainer().fit(torch.compile(torch.nn.Linear(2, 2)), loader())


class _ManualWithScheduler(RegressionModule):
    """Manual optimization; the scheduler is whatever ``make`` builds, stepped by the user at each epoch end."""

    def __init__(self, make):
        super().__init__()
        self.automatic_optimization = False
        self.make = make
        self.stepped = 0

    def training_step(self, batch, batch_idx):
        optimizer = self.optimizers()
        optimizer.zero_grad()
        loss = super().training_step(batch, batch_idx)
        self.manual_backward(loss)
        optimizer.step()

    def on_train_epoch_end(self):
        self.lr_schedulers().step(torch.tensor(0.0))
        self.stepped += 1

    def configure_optimizers(self):
        optimizer = torch.optim.SGD(self.parameters(), lr=0.1)
        return [optimizer], [self.make(optimizer)]


def test_manual_optimization_takes_reduce_on_plateau_without_monitor_and_warns_about_ignored_keys():
    from torch.optim.lr_scheduler import ReduceLROnPlateau

    model = _ManualWithScheduler(ReduceLROnPlateau)
    quiet_trainer(max_epochs=2).fit(model, loader())
    assert model.stepped == 2

    as_dict = _ManualWithScheduler(
        lambda opt: {"scheduler": ReduceLROnPlateau(opt), "monitor": "x", "interval": "step"}
    )
    with pytest.warns(RuntimeWarning, match=r"\['monitor'\], but the keys will be ignored"):
        trainer = quiet_trainer(max_epochs=1)
        trainer.fit(as_dict, loader())
    assert trainer.lr_scheduler_configs[0].interval == "step" and trainer.lr_scheduler_configs[0].monitor is None


class _OwnScheduler:
    """Not a torch scheduler: the user steps it (manual optimization) or lr_scheduler_step does."""

    def __init__(self, optimizer):
        self.optimizer = optimizer
        self.calls = 0

    def step(self, *args):
        self.calls += 1

    def state_dict(self):
        return {"calls": self.calls}

    def load_state_dict(self, state):
        self.calls = state["calls"]


def test_a_scheduler_that_is_not_torchs_needs_manual_optimization_or_lr_scheduler_step():
    from flashtrain.core.exceptions import MisconfigurationException

    class Automatic(RegressionModule):
        def configure_optimizers(self):
            optimizer = torch.optim.SGD(self.parameters(), lr=0.1)
            return [optimizer], [_OwnScheduler(optimizer)]

    with pytest.raises(MisconfigurationException, match="doesn't follow PyTorch's LRScheduler API"):
        quiet_trainer(max_epochs=1).fit(Automatic(), loader())

    class Stepping(Automatic):
        def lr_scheduler_step(self, scheduler, metric):
            scheduler.step()

    trainer = quiet_trainer(max_epochs=2)
    trainer.fit(Stepping(), loader())
    assert trainer.lr_scheduler_configs[0].scheduler.calls == 2  # once per epoch, through the override

    manual = _ManualWithScheduler(_OwnScheduler)
    quiet_trainer(max_epochs=2).fit(manual, loader())
    assert manual.lr_schedulers().calls == 2


@pytest.mark.parametrize("stage", ["validate", "test", "predict"])
def test_an_entry_point_without_a_model_before_any_fit(stage):
    with pytest.raises(TypeError, match=rf"`Trainer.{stage}\(\)` requires a `LightningModule`.*trainer.{stage}\(model"):
        getattr(quiet_trainer(), stage)()


def test_save_checkpoint_needs_an_attached_model(tmp_path):
    with pytest.raises(AttributeError, match="Saving a checkpoint is only possible if a model is attached"):
        quiet_trainer().save_checkpoint(str(tmp_path / "x.ckpt"))
    assert not (tmp_path / "x.ckpt").exists()


def test_a_trainer_subclass_passes_unknown_arguments_on_as_an_error():
    class Custom(Trainer):
        def __init__(self, **kwargs):
            self.custom = kwargs.pop("custom", 0)
            super().__init__(**kwargs)

    assert Custom(custom=3, logger=False).custom == 3
    with pytest.raises(TypeError, match=r"__init__\(\) got an unexpected keyword argument 'abcdefg'"):
        Custom(abcdefg=1)


def test_skipping_a_step_is_refused_when_other_processes_would_wait_for_its_gradients():
    class Skips(RegressionModule):
        def training_step(self, batch, batch_idx):
            return None

    trainer = quiet_trainer(max_steps=1)
    trainer.strategy.world_size = 2  # one rank of two, as far as the loop can tell
    with pytest.raises(RuntimeError, match="Skipping the `training_step` by returning None in distributed training"):
        trainer.fit(Skips(), loader())
