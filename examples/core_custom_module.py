"""A custom flashtrain Module on real data: scikit-learn's handwritten digits (8x8 images, 10 classes).

    python examples/core_custom_module.py --max-epochs 5

Shows the Lightning-style API: a Module with training/validation/test steps, torchmetrics, a
DataModule, the Trainer with checkpointing and TensorBoard logs, then test and predict.
"""

from __future__ import annotations

import argparse

import torch
import torch.nn.functional as F
import torchmetrics
from sklearn.datasets import load_digits
from sklearn.model_selection import train_test_split
from torch.utils.data import DataLoader, TensorDataset

from flashtrain.core import DataModule, Module, Trainer, seed_everything
from flashtrain.core.callbacks import EarlyStopping, ModelCheckpoint


class DigitsDataModule(DataModule):
    """The 1,797 digits, split 70/15/15 with stratification; pixels scaled to [0, 1]."""

    def __init__(self, batch_size: int = 64, seed: int = 0) -> None:
        super().__init__()
        self.batch_size = batch_size
        self.seed = seed

    def setup(self, stage: str) -> None:
        digits = load_digits()
        x = torch.tensor(digits.data, dtype=torch.float32) / 16.0
        y = torch.tensor(digits.target)
        x_train, x_rest, y_train, y_rest = train_test_split(x, y, test_size=0.3, stratify=y, random_state=self.seed)
        x_val, x_test, y_val, y_test = train_test_split(
            x_rest, y_rest, test_size=0.5, stratify=y_rest, random_state=self.seed
        )
        self.train_set = TensorDataset(x_train, y_train)
        self.val_set = TensorDataset(x_val, y_val)
        self.test_set = TensorDataset(x_test, y_test)

    def train_dataloader(self) -> DataLoader:
        return DataLoader(self.train_set, batch_size=self.batch_size, shuffle=True)

    def val_dataloader(self) -> DataLoader:
        return DataLoader(self.val_set, batch_size=256)

    def test_dataloader(self) -> DataLoader:
        return DataLoader(self.test_set, batch_size=256)

    def predict_dataloader(self) -> DataLoader:
        return DataLoader(self.test_set, batch_size=256)


class DigitsClassifier(Module):
    """A small MLP: 64 pixels -> hidden -> 10 classes."""

    def __init__(self, hidden: int = 128, lr: float = 1e-3, dropout: float = 0.1) -> None:
        super().__init__()
        self.save_hyperparameters()
        self.net = torch.nn.Sequential(
            torch.nn.Linear(64, hidden), torch.nn.ReLU(), torch.nn.Dropout(dropout), torch.nn.Linear(hidden, 10)
        )
        self.val_acc = torchmetrics.classification.MulticlassAccuracy(num_classes=10)
        self.test_acc = torchmetrics.classification.MulticlassAccuracy(num_classes=10)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.net(x)

    def training_step(self, batch, batch_idx):
        x, y = batch
        loss = F.cross_entropy(self(x), y)
        self.log("train_loss", loss, on_epoch=True, prog_bar=True)
        return loss

    def validation_step(self, batch, batch_idx):
        x, y = batch
        logits = self(x)
        self.log("val_loss", F.cross_entropy(logits, y), prog_bar=True)
        self.val_acc(logits, y)
        self.log("val_acc", self.val_acc, prog_bar=True)

    def test_step(self, batch, batch_idx):
        x, y = batch
        self.test_acc(self(x), y)
        self.log("test_acc", self.test_acc)

    def predict_step(self, batch, batch_idx, dataloader_idx=0):
        x, _ = batch
        return self(x).argmax(dim=1)

    def configure_optimizers(self):
        optimizer = torch.optim.Adam(self.parameters(), lr=self.hparams.lr)
        scheduler = torch.optim.lr_scheduler.ReduceLROnPlateau(optimizer, factor=0.5, patience=2)
        return {"optimizer": optimizer, "lr_scheduler": {"scheduler": scheduler, "monitor": "val_loss"}}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--max-epochs", type=int, default=10)
    parser.add_argument("--output-dir", default="runs/digits")
    parser.add_argument("--seed", type=int, default=0)
    args = parser.parse_args()

    seed_everything(args.seed)
    datamodule = DigitsDataModule(seed=args.seed)
    model = DigitsClassifier()
    checkpoint = ModelCheckpoint(monitor="val_acc", mode="max", save_last=True, filename="{epoch}-{val_acc:.3f}")
    trainer = Trainer(
        max_epochs=args.max_epochs,
        default_root_dir=args.output_dir,
        callbacks=[checkpoint, EarlyStopping(monitor="val_loss", patience=5)],
    )
    trainer.fit(model, datamodule=datamodule)
    print(f"best checkpoint: {checkpoint.best_model_path} (val_acc {checkpoint.best_model_score:.4f})")

    restored = DigitsClassifier.load_from_checkpoint(checkpoint.best_model_path)
    (result,) = trainer.test(restored, datamodule=datamodule)
    predictions = torch.cat(trainer.predict(restored, datamodule=datamodule))
    print(f"test accuracy {result['test_acc']:.4f}; first predictions {predictions[:10].tolist()}")


if __name__ == "__main__":
    main()
