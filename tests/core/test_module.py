"""Module features a Lightning user relies on: hparams, optimizer forms, manual optimization, 1.x epoch_end hooks,
DataModule stages, multiple eval loaders."""

from __future__ import annotations

import pytest
import torch
import torch.nn.functional as F

from flashtrain.core import DataModule, Module
from tests.core.helpers import RegressionModule, loader, quiet_trainer


def test_save_hyperparameters_collects_init_arguments_through_subclasses():
    class Base(Module):
        def __init__(self, width=4, **kwargs):
            super().__init__()
            self.save_hyperparameters(ignore=["skip"])

    class Child(Base):
        def __init__(self, depth=2, width=8, skip=None, **kwargs):
            super().__init__(width=width, **kwargs)

    model = Child(depth=3, extra="yes", skip=torch.nn.Linear(1, 1))
    assert dict(model.hparams) == {"width": 8, "depth": 3, "extra": "yes"}
    assert model.hparams.depth == 3
    with pytest.raises(AttributeError, match="hyper-parameter 'nope' is not set"):
        _ = model.hparams.nope


def test_save_hyperparameters_by_name():
    class Named(Module):
        def __init__(self, lr=0.1, width=3):
            super().__init__()
            self.save_hyperparameters("lr")

    assert dict(Named().hparams) == {"lr": 0.1}

    class Wrong(Module):
        def __init__(self, lr=0.1):
            super().__init__()
            self.save_hyperparameters("learning_rate")

    with pytest.raises(ValueError, match=r"not __init__ arguments: \['learning_rate'\]"):
        Wrong()


@pytest.mark.parametrize("form", ["list", "tuple_of_lists", "dict", "dict_with_config", "list_of_dicts"])
def test_configure_optimizers_forms_step_the_scheduler(form):
    class Scheduled(RegressionModule):
        def configure_optimizers(self):
            optimizer = torch.optim.SGD(self.parameters(), lr=0.01)
            scheduler = torch.optim.lr_scheduler.StepLR(optimizer, step_size=1, gamma=0.5)
            return {
                "list": [optimizer],
                "tuple_of_lists": ([optimizer], [scheduler]),
                "dict": {"optimizer": optimizer, "lr_scheduler": scheduler},
                "dict_with_config": {
                    "optimizer": optimizer,
                    "lr_scheduler": {"scheduler": scheduler, "interval": "step", "frequency": 2},
                },
                "list_of_dicts": [{"optimizer": optimizer, "lr_scheduler": scheduler}],
            }[form]

    trainer = quiet_trainer(max_epochs=2)
    trainer.fit(Scheduled(lr=1.0), loader(n=64, batch_size=8))
    lr = trainer.optimizers[0].param_groups[0]["lr"] / 0.01
    expected = {"list": 1.0, "tuple_of_lists": 0.25, "dict": 0.25, "dict_with_config": 0.5**8, "list_of_dicts": 0.25}[
        form
    ]
    assert lr == pytest.approx(expected)


def test_plateau_scheduler_reads_the_monitored_metric():
    class Plateau(RegressionModule):
        def validation_step(self, batch, batch_idx):
            self.log("val_loss", 1.0)  # never improves

        def configure_optimizers(self):
            optimizer = torch.optim.SGD(self.parameters(), lr=0.01)
            scheduler = torch.optim.lr_scheduler.ReduceLROnPlateau(optimizer, patience=0, factor=0.1)
            return {"optimizer": optimizer, "lr_scheduler": {"scheduler": scheduler, "monitor": "val_loss"}}

    trainer = quiet_trainer(max_epochs=3)
    trainer.fit(Plateau(), loader(), loader())
    assert trainer.optimizers[0].param_groups[0]["lr"] == pytest.approx(0.0001)  # reduced after epochs 2 and 3


class GAN(Module):
    """Manual optimization with two optimizers, the way Lightning 2 requires for GANs."""

    def __init__(self):
        super().__init__()
        self.automatic_optimization = False
        self.a = torch.nn.Linear(8, 1)
        self.b = torch.nn.Linear(8, 1)

    def training_step(self, batch, batch_idx):
        x, y = batch
        opt_a, opt_b = self.optimizers()
        for layer, opt in ((self.a, opt_a), (self.b, opt_b)):
            opt.zero_grad()
            loss = F.mse_loss(layer(x), y)
            self.manual_backward(loss)
            self.clip_gradients(opt, gradient_clip_val=1.0)
            opt.step()
        self.log("loss", loss)
        sched = self.lr_schedulers()
        sched.step()

    def configure_optimizers(self):
        opt_a = torch.optim.SGD(self.a.parameters(), lr=0.1)
        opt_b = torch.optim.SGD(self.b.parameters(), lr=0.1)
        return [opt_a, opt_b], [torch.optim.lr_scheduler.StepLR(opt_a, step_size=1, gamma=0.5)]


def test_manual_optimization_with_two_optimizers():
    model = GAN()
    before = (model.a.weight.clone(), model.b.weight.clone())
    trainer = quiet_trainer(max_epochs=1)
    trainer.fit(model, loader(n=32, batch_size=8))
    assert trainer.global_step == 8  # every optimizer step counts, like Lightning
    assert not torch.equal(before[0], model.a.weight) and not torch.equal(before[1], model.b.weight)
    assert trainer.optimizers[0].param_groups[0]["lr"] == pytest.approx(0.1 * 0.5**4)  # stepped by the user only
    assert trainer.optimizers[1].param_groups[0]["lr"] == pytest.approx(0.1)


def test_lightning_1x_epoch_end_hooks_receive_step_outputs():
    seen = {}

    class Legacy(RegressionModule):
        def training_step(self, batch, batch_idx):
            return {"loss": super().training_step(batch, batch_idx), "idx": batch_idx}

        def training_epoch_end(self, outputs):
            seen["train"] = [o["idx"] for o in outputs]
            seen["grad"] = any(o["loss"].requires_grad for o in outputs)

        def validation_step(self, batch, batch_idx):
            return batch_idx * 10

        def validation_epoch_end(self, outputs):
            seen["val"] = outputs

    quiet_trainer(max_epochs=1).fit(Legacy(), loader(n=32, batch_size=8), loader(n=16, batch_size=8))
    assert seen == {"train": [0, 1, 2, 3], "grad": False, "val": [0, 10]}


def test_lightning_1x_training_epoch_end_gets_a_bare_loss_as_a_loss_dict():
    seen = {}

    class Legacy(RegressionModule):
        def training_epoch_end(self, outputs):
            seen["total"] = float(sum(o["loss"] for o in outputs))
            seen["count"] = len(outputs)

    quiet_trainer(max_epochs=1).fit(Legacy(), loader(n=32, batch_size=8))
    assert seen["count"] == 4 and seen["total"] > 0


def test_no_outputs_are_kept_without_epoch_end_hooks():
    class Probe(RegressionModule):
        def on_train_epoch_end(self):
            assert not self.trainer.hooks.module_overrides("training_epoch_end")

    quiet_trainer(max_epochs=1).fit(Probe(), loader())


class Stages(DataModule):
    def __init__(self):
        super().__init__()
        self.calls = []

    def prepare_data(self):
        self.calls.append("prepare_data")

    def setup(self, stage):
        self.calls.append(f"setup:{stage}")

    def teardown(self, stage):
        self.calls.append(f"teardown:{stage}")

    def train_dataloader(self):
        return loader()

    def val_dataloader(self):
        return loader(n=16)

    def test_dataloader(self):
        return loader(n=24)

    def predict_dataloader(self):
        return loader(n=8, batch_size=4)


def test_datamodule_stages_and_loaders():
    dm = Stages()
    trainer = quiet_trainer(max_epochs=1)
    model = RegressionModule()
    trainer.fit(model, datamodule=dm)
    (val,) = trainer.validate(model, datamodule=dm, verbose=False)
    (test,) = trainer.test(model, datamodule=dm, verbose=False)
    predictions = trainer.predict(model, datamodule=dm)
    assert dm.calls == [
        "prepare_data",
        "setup:fit",
        "teardown:fit",
        "prepare_data",
        "setup:validate",
        "teardown:validate",
        "prepare_data",
        "setup:test",
        "teardown:test",
        "prepare_data",
        "setup:predict",
        "teardown:predict",
    ]
    assert set(val) == {"val_loss"} and set(test) == {"test_loss"}
    assert [p.shape for p in predictions] == [torch.Size([4, 1]), torch.Size([4, 1])]


def test_several_validation_loaders_are_suffixed():
    class Two(RegressionModule):
        def validation_step(self, batch, batch_idx, dataloader_idx=0):
            self.log("val_idx", float(dataloader_idx))

    results = quiet_trainer().validate(Two(), [loader(n=16), loader(n=16)], verbose=False)
    assert results == [{"val_idx/dataloader_idx_0": 0.0}, {"val_idx/dataloader_idx_1": 1.0}]


def test_validate_prints_a_results_table(capsys):
    quiet_trainer().validate(RegressionModule(), loader(n=16))
    out = capsys.readouterr().out
    assert "Validate metric" in out and "val_loss" in out


def test_module_properties_outside_and_inside_a_run():
    model = RegressionModule()
    assert (model.current_epoch, model.global_step, model.device.type) == (0, 0, "cpu")
    with pytest.raises(RuntimeError, match="not attached to a Trainer"):
        _ = model.trainer
    with pytest.warns(UserWarning, match="the `self.trainer` reference is not registered"):
        model.log("x", 1.0)
    trainer = quiet_trainer(max_epochs=2)
    trainer.fit(model, loader())
    assert (model.current_epoch, model.global_step, model.trainer) == (2, 16, trainer)


def test_a_datamodule_passed_where_the_loaders_go():
    dm = Stages()
    trainer = quiet_trainer(max_epochs=1)
    model = RegressionModule()
    trainer.fit(model, dm)  # Lightning allows trainer.fit(model, datamodule) positionally
    (result,) = trainer.validate(model, dm, verbose=False)
    assert trainer.global_step == 8 and set(result) == {"val_loss"}
    assert dm.calls[:2] == ["prepare_data", "setup:fit"]


def test_hparams_initial_keeps_what_save_hyperparameters_recorded():
    class Recorded(Module):
        def __init__(self, lr=0.1, layers=2):
            super().__init__()
            self.save_hyperparameters()

    module = Recorded(lr=0.5)
    module.hparams.lr = 0.01
    assert module.hparams_initial == {"lr": 0.5, "layers": 2}
    assert Recorded.CHECKPOINT_HYPER_PARAMS_KEY == "hyper_parameters"


def test_hyperparameters_from_a_subclass_add_to_the_base_and_rebuild_from_a_config_or_a_yaml(tmp_path):
    from tests.core.helpers import RegressionModule, quiet_trainer

    class Widened(RegressionModule):
        def __init__(self, width: int = 3, **kwargs) -> None:
            super().__init__(**kwargs)  # the base records lr, dropout, optimizer
            self.save_hyperparameters(ignore=["dropout"])  # adds width, drops what the base recorded

    model = Widened(width=5, lr=0.01)
    assert dict(model.hparams) == {"lr": 0.01, "optimizer": "adam", "width": 5}

    class FromConfig(RegressionModule):
        def __init__(self, config: dict) -> None:
            super().__init__(lr=config["lr"])
            self.save_hyperparameters(config)  # rebuilt as FromConfig(config={...})

    trainer = quiet_trainer(max_epochs=1)
    trainer.fit(FromConfig({"lr": 0.02}), loader(16))
    trainer.save_checkpoint(str(tmp_path / "c.ckpt"))
    (tmp_path / "hparams.yaml").write_text("lr: 0.5\n")
    assert FromConfig.load_from_checkpoint(str(tmp_path / "c.ckpt")).hparams.lr == 0.02
    rebuilt = FromConfig.load_from_checkpoint(str(tmp_path / "c.ckpt"), hparams_file=str(tmp_path / "hparams.yaml"))
    assert rebuilt.hparams.lr == 0.5
    # weights_only=False (Lightning's argument) loads the same plain file the same safe way
    assert FromConfig.load_from_checkpoint(str(tmp_path / "c.ckpt"), weights_only=False).hparams.lr == 0.02
    with pytest.raises(TypeError, match=r"weights_only must be None, True or False, got 'no'"):
        FromConfig.load_from_checkpoint(str(tmp_path / "c.ckpt"), weights_only="no")


def test_hyperparameters_round_trip_through_yaml_and_unsafe_values_are_skipped(tmp_path):
    import argparse

    from flashtrain.core.hparams import load_hparams_from_yaml, save_hparams_to_yaml

    path = str(tmp_path / "hparams.yaml")
    with pytest.warns(UserWarning, match="Skipping 'layer' parameter because it is not possible to safely dump"):
        save_hparams_to_yaml(path, argparse.Namespace(lr=0.1, sizes=[1, 2], layer=torch.nn.Linear(1, 1)))
    assert load_hparams_from_yaml(path) == {"lr": 0.1, "sizes": [1, 2]}
    with pytest.warns(RuntimeWarning, match="Missing Tags"):
        assert load_hparams_from_yaml(str(tmp_path / "none.yaml")) == {}
    with pytest.raises(RuntimeError, match="Missing folder"):
        save_hparams_to_yaml(str(tmp_path / "no" / "h.yaml"), {"a": 1})


def test_freeze_and_unfreeze_return_the_module_for_chaining():
    model = RegressionModule()
    assert model.freeze() is model and not model.training
    assert not any(p.requires_grad for p in model.parameters())
    assert model.unfreeze() is model and model.training
    assert all(p.requires_grad for p in model.parameters())


def test_clip_gradients_takes_the_algorithm_as_an_enum_member_or_in_any_case():
    from flashtrain.core.exceptions import MisconfigurationException
    from flashtrain.core.utilities.enums import GradClipAlgorithmType

    module = Module()
    module.layer = torch.nn.Linear(2, 1)
    optimizer = torch.optim.SGD(module.parameters(), lr=0.1)
    module.layer.weight.grad = torch.full_like(module.layer.weight, 10.0)
    module.clip_gradients(optimizer, gradient_clip_val=1.0, gradient_clip_algorithm=GradClipAlgorithmType.VALUE)
    assert module.layer.weight.grad.tolist() == [[1.0, 1.0]]
    module.clip_gradients(optimizer, gradient_clip_val=0.5, gradient_clip_algorithm="VALUE")
    assert module.layer.weight.grad.tolist() == [[0.5, 0.5]]
    with pytest.raises(MisconfigurationException, match="gradient_clip_algorithm must be one of"):
        module.clip_gradients(optimizer, gradient_clip_val=0.5, gradient_clip_algorithm="foo")
