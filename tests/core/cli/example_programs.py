"""Example programs in the shapes of Lightning's LightningCLI examples (autoencoder, backbone classifier, profiler,
fine-tuning with a callback group and linked arguments, ImageNet's model-only CLI with its own loaders, the servable
module), on tiny regression data."""

from __future__ import annotations

import torch
import torch.nn.functional as F
from torch.utils.data import DataLoader, TensorDataset

from flashtrain.core import Callback, DataModule, Module
from flashtrain.core.callbacks import ModelCheckpoint
from flashtrain.core.cli import LightningCLI
from flashtrain.core.serve import ServableModule, ServableModuleValidator
from flashtrain.core.strategies import ParallelStrategy


class TinyRegressor(Module):
    """A two-layer regressor.

    Args:
        hidden: Width of the hidden layer.
        lr: Learning rate of the default optimizer.
        batch_size: Linked from the data's batch size in the fine-tuning shape.
    """

    def __init__(self, hidden: int = 8, lr: float = 0.05, batch_size: int = 8) -> None:
        super().__init__()
        self.save_hyperparameters()
        self.net = torch.nn.Sequential(torch.nn.Linear(4, hidden), torch.nn.ReLU(), torch.nn.Linear(hidden, 1))

    def forward(self, x):
        return self.net(x)

    def training_step(self, batch, batch_idx):
        loss = F.mse_loss(self(batch[0]), batch[1])
        self.log("train_loss", loss)
        return loss

    def validation_step(self, batch, batch_idx):
        self.log("val_loss", F.mse_loss(self(batch[0]), batch[1]))

    def test_step(self, batch, batch_idx):
        self.log("test_loss", F.mse_loss(self(batch[0]), batch[1]))

    def predict_step(self, batch, batch_idx, dataloader_idx=0):
        return self(batch[0])

    def configure_optimizers(self):
        return torch.optim.Adam(self.parameters(), lr=self.hparams.lr)


class InjectedRegressor(TinyRegressor):
    """A regressor whose first layer is given by the config (``--model.encoder`` class_path): dependency injection.

    Args:
        encoder: The first layer; its ``out_features`` sizes the rest.
        lr: Learning rate of the default optimizer.
    """

    def __init__(self, encoder: torch.nn.Linear, lr: float = 0.05) -> None:
        super().__init__(hidden=encoder.out_features, lr=lr)
        self.net[0] = encoder


class TinyData(DataModule):
    """Random linear-regression data.

    Args:
        batch_size: Samples per batch.
        samples: Samples per split.
    """

    def __init__(self, batch_size: int = 8, samples: int = 32) -> None:
        super().__init__()
        self.batch_size = batch_size
        generator = torch.Generator().manual_seed(0)
        x = torch.randn(samples, 4, generator=generator)
        self.dataset = TensorDataset(x, x.sum(dim=1, keepdim=True))

    def train_dataloader(self):
        return DataLoader(self.dataset, batch_size=self.batch_size)

    def val_dataloader(self):
        return DataLoader(self.dataset, batch_size=self.batch_size)

    def test_dataloader(self):
        return DataLoader(self.dataset, batch_size=self.batch_size)

    def predict_dataloader(self):
        return DataLoader(self.dataset, batch_size=self.batch_size)


class CountBatches(Callback):
    """A callback with its own options (the fine-tuning example's MilestonesFinetuning shape).

    Args:
        every: Count every N-th batch.
    """

    def __init__(self, every: int = 1) -> None:
        self.every = every
        self.counted = 0

    def on_train_batch_end(self, trainer, pl_module, outputs, batch, batch_idx):
        if batch_idx % self.every == 0:
            self.counted += 1


class FineTuningCLI(LightningCLI):
    """computer_vision_fine_tuning.py's shape: a callback group, a link and defaults set in the parser."""

    def add_arguments_to_parser(self, parser):
        parser.add_lightning_class_args(CountBatches, "counter")
        parser.link_arguments("data.batch_size", "model.batch_size")
        parser.set_defaults({"trainer.max_epochs": 1, "trainer.enable_progress_bar": False})

    def before_fit(self):
        self.events = ["before_fit"]

    def after_fit(self):
        self.events.append("after_fit")


def autoencoder_main(args=None):
    """autoencoder.py's shape: run=False, then fit, test and predict with ckpt_path="best"."""
    cli = LightningCLI(
        TinyRegressor,
        TinyData,
        seed_everything_default=1234,
        run=False,
        trainer_defaults={"callbacks": CountBatches(), "max_epochs": 2, "enable_progress_bar": False},
        save_config_kwargs={"overwrite": True},
        args=args,
    )
    cli.trainer.fit(cli.model, datamodule=cli.datamodule)
    tested = cli.trainer.test(ckpt_path="best", datamodule=cli.datamodule)
    predictions = cli.trainer.predict(ckpt_path="best", datamodule=cli.datamodule)
    return cli, tested, predictions


class SelfLoadingRegressor(TinyRegressor):
    """imagenet.py's shape: the model reads its own data (``--model.data_path``, required) and divides its batch
    over the processes of a ParallelStrategy in ``setup``.

    Args:
        data_path: Where the data is (a required option).
        batch_size: Samples per batch over all processes.
    """

    def __init__(self, data_path: str, hidden: int = 8, batch_size: int = 8) -> None:
        super().__init__(hidden=hidden, batch_size=batch_size)
        self.data_path = data_path
        self.batch_size = batch_size

    def setup(self, stage: str) -> None:
        if isinstance(self.trainer.strategy, ParallelStrategy):
            self.batch_size = self.batch_size // max(1, self.trainer.strategy.num_processes)
        self.dataset = TinyData().dataset

    def train_dataloader(self):
        return DataLoader(self.dataset, batch_size=self.batch_size, shuffle=True)

    def val_dataloader(self):
        return DataLoader(self.dataset, batch_size=self.batch_size)

    def test_dataloader(self):
        return self.val_dataloader()


def imagenet_main(args=None):
    """imagenet.py's shape: a model-only CLI with subcommands and callback instances in trainer_defaults."""
    return LightningCLI(
        SelfLoadingRegressor,
        trainer_defaults={
            "max_epochs": 1,
            "logger": False,
            "enable_progress_bar": False,
            "callbacks": [ModelCheckpoint(monitor="val_loss", mode="min")],
        },
        seed_everything_default=42,
        save_config_kwargs={"overwrite": True},
        args=args,
    )


class ServableRegressor(TinyRegressor, ServableModule):
    """production.py's shape: a module that says how it is served, checked by ServableModuleValidator."""

    def configure_payload(self):
        return {"body": {"x": [[1.0, 2.0, 3.0, 4.0]]}}

    def configure_serialization(self):
        return {"x": torch.tensor}, {"output": lambda tensor: tensor.round(decimals=3).tolist()}

    def serve_step(self, x):
        return {"output": self(x)}

    def configure_response(self):
        with torch.no_grad():  # what the module answers in process, before any training step
            return {"output": self(torch.tensor([[1.0, 2.0, 3.0, 4.0]])).round(decimals=3).tolist()}


def production_main(args=None):
    """production.py's shape: run=False, a ServableModuleValidator in trainer_defaults, then fit."""
    cli = LightningCLI(
        ServableRegressor,
        TinyData,
        seed_everything_default=42,
        save_config_kwargs={"overwrite": True},
        run=False,
        trainer_defaults={
            "accelerator": "cpu",
            "callbacks": [ServableModuleValidator(port=0)],
            "max_epochs": 1,
            "limit_train_batches": 2,
            "limit_val_batches": 2,
            "enable_progress_bar": False,
        },
        args=args,
    )
    cli.trainer.fit(cli.model, cli.datamodule)
    return cli


if __name__ == "__main__":
    FineTuningCLI(TinyRegressor, TinyData, seed_everything_default=1234)
