"""Hyper-parameters: save_hyperparameters' refusals, the YAML helpers with OmegaConf configs, OmegaConf configs as
hyper-parameters through a checkpoint, unpicklable values, a run's hparams.yaml, and DataModule.load_from_checkpoint's
weights_only (Lightning 2.6's rules)."""

from __future__ import annotations

import os

import pytest
import torch
from torch.utils.data import DataLoader

from flashtrain.core import DataModule, Module
from flashtrain.core.hparams import load_hparams_from_yaml, save_hparams_to_yaml
from flashtrain.core.loggers import TensorBoardLogger
from tests.core.helpers import RegressionModule, loader, quiet_trainer, regression_data


@pytest.mark.parametrize("values", [(42,), (3.14, "name"), (True,)])
def test_save_hyperparameters_refuses_a_bare_value_where_a_name_or_config_belongs(values):
    class Model(Module):
        def __init__(self, name="x"):
            super().__init__()
            self.save_hyperparameters(*values)

    with pytest.raises(ValueError, match=r"Primitives \(<class 'bool'>, .*save_hyperparameters takes __init__"):
        Model()


def test_yaml_helpers_take_and_give_omegaconf_configs(tmp_path):
    omegaconf = pytest.importorskip("omegaconf")
    path = str(tmp_path / "hparams.yaml")
    config = omegaconf.OmegaConf.create({"lr": 0.1, "net": {"width": 8, "depth": "${lr}"}})
    save_hparams_to_yaml(path, config)  # nested config, interpolation resolved
    plain = load_hparams_from_yaml(path, use_omegaconf=False)
    assert type(plain) is dict and plain == {"lr": 0.1, "net": {"width": 8, "depth": 0.1}}
    loaded = load_hparams_from_yaml(path)  # as Lightning: a DictConfig by default when omegaconf is installed
    assert isinstance(loaded, omegaconf.DictConfig) and loaded.net.width == 8


def test_tensorboard_run_folder_always_gets_an_hparams_file_that_load_from_checkpoint_reads(tmp_path):
    class Unconfigured(RegressionModule):
        def __init__(self):
            super().__init__()
            self.save_hyperparameters(logger=False)  # nothing reaches the logger as hyper-parameters

    logger = TensorBoardLogger(tmp_path)
    trainer = quiet_trainer(max_epochs=1, logger=logger, enable_checkpointing=False)
    model = Unconfigured()
    trainer.fit(model, loader(16))
    hparams_file = os.path.join(logger.log_dir, "hparams.yaml")
    assert load_hparams_from_yaml(str(hparams_file), use_omegaconf=False) == {}
    trainer.save_checkpoint(str(tmp_path / "run.ckpt"))
    rebuilt = Unconfigured.load_from_checkpoint(str(tmp_path / "run.ckpt"), hparams_file=str(hparams_file))
    torch.testing.assert_close(rebuilt.state_dict(), model.state_dict())

    quiet_run = TensorBoardLogger(tmp_path / "quiet")  # a run that logged nothing: its folder gets the file too
    assert os.listdir(quiet_run.log_dir) == []  # asking for it claims the version folder
    quiet_run.finalize("success")
    assert os.listdir(quiet_run.log_dir) == ["hparams.yaml"]
    unstarted = TensorBoardLogger(tmp_path / "unstarted")  # no folder: none is made for it
    unstarted.finalize("success")
    assert not os.path.exists(tmp_path / "unstarted")


def test_datamodule_load_from_checkpoint_takes_lightnings_weights_only_and_never_unpickles(tmp_path):
    class Data(DataModule):
        def __init__(self, batch_size: int = 4) -> None:
            super().__init__()
            self.save_hyperparameters()

        def train_dataloader(self):
            return DataLoader(regression_data(16), batch_size=self.hparams.batch_size)

    trainer = quiet_trainer(max_epochs=1)
    trainer.fit(RegressionModule(), datamodule=Data(batch_size=8))
    trainer.save_checkpoint(str(tmp_path / "run.ckpt"))
    assert Data.load_from_checkpoint(str(tmp_path / "run.ckpt"), weights_only=True).hparams.batch_size == 8
    assert Data.load_from_checkpoint(str(tmp_path / "run.ckpt"), weights_only=False).hparams.batch_size == 8
    checkpoint = torch.load(tmp_path / "run.ckpt", weights_only=True)
    checkpoint["datamodule_hyper_parameters"]["batch_size"] = torch.nn.Linear(1, 1)  # an object: needs unpickling
    torch.save(checkpoint, tmp_path / "object.ckpt")
    with pytest.raises(Exception, match="Weights only load failed"):  # False does not make it unpickle code
        Data.load_from_checkpoint(str(tmp_path / "object.ckpt"), weights_only=False)


def test_a_checkpoint_with_hyper_parameters_under_lightnings_old_key_still_rebuilds(tmp_path):
    trainer = quiet_trainer(max_steps=1)
    trainer.fit(RegressionModule(lr=0.3), loader(16))
    trainer.save_checkpoint(str(tmp_path / "run.ckpt"))
    checkpoint = torch.load(tmp_path / "run.ckpt", weights_only=True)
    checkpoint["module_arguments"] = {**checkpoint.pop("hyper_parameters"), "dropout": 0.0}  # pre-1.0 Lightning
    torch.save(checkpoint, tmp_path / "old.ckpt")
    rebuilt = RegressionModule.load_from_checkpoint(str(tmp_path / "old.ckpt"))
    assert (rebuilt.hparams.lr, rebuilt.hparams.dropout) == (0.3, 0.0)


def test_an_omegaconf_config_stays_one_through_save_hyperparameters_and_a_plain_data_checkpoint(tmp_path):
    omegaconf = pytest.importorskip("omegaconf")

    class Configured(RegressionModule):
        def __init__(self, config):
            super().__init__(lr=config.lr)
            self.save_hyperparameters(config)  # the whole hparams is the config (Lightning)

    class WithConfigValue(RegressionModule):
        def __init__(self, extra=None, **kwargs):
            super().__init__(**kwargs)
            self.save_hyperparameters()  # one value among the arguments is a config

    config = omegaconf.OmegaConf.create({"lr": 0.05, "optimizer": "sgd", "sizes": [1, {"a": 2}], "twice": "${lr}"})
    module = Configured(config)
    assert isinstance(module.hparams, omegaconf.DictConfig) and module.hparams.twice == 0.05
    trainer = quiet_trainer(max_steps=1)
    trainer.fit(module, loader(16))
    trainer.save_checkpoint(str(tmp_path / "whole.ckpt"))
    saved = torch.load(tmp_path / "whole.ckpt", weights_only=True)  # plain data, the interpolation as its text
    assert saved["hyper_parameters"] == {"lr": 0.05, "optimizer": "sgd", "sizes": [1, {"a": 2}], "twice": "${lr}"}
    rebuilt = Configured.load_from_checkpoint(str(tmp_path / "whole.ckpt"))
    assert isinstance(rebuilt.hparams, omegaconf.DictConfig) and rebuilt.hparams.sizes[1].a == 2
    assert rebuilt.hparams.twice == 0.05

    trainer = quiet_trainer(max_steps=1)
    trainer.fit(WithConfigValue(extra=omegaconf.OmegaConf.create({"depth": 3})), loader(16))
    trainer.save_checkpoint(str(tmp_path / "value.ckpt"))
    rebuilt = WithConfigValue.load_from_checkpoint(str(tmp_path / "value.ckpt"))
    assert isinstance(rebuilt.hparams.extra, omegaconf.DictConfig) and rebuilt.hparams.extra.depth == 3


def test_an_unpicklable_hyper_parameter_is_removed_when_a_run_starts_with_lightnings_warning():
    class WithFunction(RegressionModule):
        def __init__(self, transform=lambda x: x + 1, **kwargs):
            super().__init__(**kwargs)
            self.save_hyperparameters()

    module = WithFunction()
    assert "transform" in module.hparams
    with pytest.warns(UserWarning, match=r"Attribute 'transform' removed from hparams because it cannot be pickled"):
        quiet_trainer(max_steps=1).fit(module, loader(16))
    assert "transform" not in module.hparams and module.hparams.lr == RegressionModule().hparams.lr
