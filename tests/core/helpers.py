"""Small models and data shared by the core tests."""

from __future__ import annotations

import torch
import torch.nn.functional as F
from torch.utils.data import DataLoader, TensorDataset

from flashtrain.core import Module, Trainer


def regression_data(n: int = 64, features: int = 8, seed: int = 0) -> TensorDataset:
    generator = torch.Generator().manual_seed(seed)
    x = torch.randn(n, features, generator=generator)
    y = x @ torch.randn(features, 1, generator=generator) + 0.1 * torch.randn(n, 1, generator=generator)
    return TensorDataset(x, y)


def loader(n: int = 64, batch_size: int = 8, shuffle: bool = False, **kwargs) -> DataLoader:
    return DataLoader(regression_data(n), batch_size=batch_size, shuffle=shuffle, **kwargs)


class Net(torch.nn.Module):
    def __init__(self, features: int = 8, dropout: float = 0.2) -> None:
        super().__init__()
        self.layers = torch.nn.Sequential(
            torch.nn.Linear(features, 16), torch.nn.ReLU(), torch.nn.Dropout(dropout), torch.nn.Linear(16, 1)
        )

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.layers(x)


class RegressionModule(Module):
    """MSE regression with validation/test/predict steps; logs train_loss (step+epoch) and val_loss."""

    def __init__(self, lr: float = 0.05, dropout: float = 0.2, optimizer: str = "adam") -> None:
        super().__init__()
        self.save_hyperparameters()
        self.net = Net(dropout=dropout)

    def forward(self, x):
        return self.net(x)

    def training_step(self, batch, batch_idx):
        x, y = batch
        loss = F.mse_loss(self(x), y)
        self.log("train_loss", loss, on_step=True, on_epoch=True, prog_bar=True)
        return loss

    def validation_step(self, batch, batch_idx):
        x, y = batch
        self.log("val_loss", F.mse_loss(self(x), y), prog_bar=True)

    def test_step(self, batch, batch_idx):
        x, y = batch
        self.log("test_loss", F.mse_loss(self(x), y))

    def predict_step(self, batch, batch_idx, dataloader_idx=0):
        return self(batch[0])

    def configure_optimizers(self):
        if self.hparams.optimizer == "sgd":
            return torch.optim.SGD(self.parameters(), lr=self.hparams.lr, momentum=0.9)
        return torch.optim.Adam(self.parameters(), lr=self.hparams.lr)


def silent_trainer(root, **kwargs) -> Trainer:
    """A Trainer that logs and checkpoints under ``root`` as by default, without progress bar or summary."""
    return Trainer(default_root_dir=str(root), enable_progress_bar=False, enable_model_summary=False, **kwargs)


def quiet_trainer(**kwargs) -> Trainer:
    """A Trainer with logger, checkpointing, progress bar and summary off unless asked for."""
    defaults = dict(
        logger=False,
        enable_checkpointing=False,
        enable_progress_bar=False,
        enable_model_summary=False,
        num_sanity_val_steps=0,
    )
    defaults.update(kwargs)
    return Trainer(**defaults)
