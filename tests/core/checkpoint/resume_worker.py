"""A training run for the kill-and-resume tests, started as a subprocess.

    python resume_worker.py ROOT MODE STEP WORKERS OUT

MODE: "full" trains uninterrupted; "kill" SIGKILLs itself right after optimizer step STEP; "term" and "int"
send themselves SIGTERM / SIGINT (Ctrl-C) there; "resume" continues from ckpt_path="last". The final weights
go to OUT.
"""

from __future__ import annotations

import os
import signal
import sys

import torch
import torch.nn.functional as F
from torch.utils.data import DataLoader, Dataset

from flashtrain.core import Callback, Module, Trainer, seed_everything
from flashtrain.core.callbacks import ModelCheckpoint


class NoisyData(Dataset):
    """Random augmentation in __getitem__: exactness needs the same noise on resume, in workers too."""

    def __init__(self, n: int = 40) -> None:
        generator = torch.Generator().manual_seed(1)
        self.x = torch.randn(n, 8, generator=generator)
        self.y = self.x.sum(dim=1, keepdim=True)

    def __len__(self) -> int:
        return len(self.x)

    def __getitem__(self, index: int):
        return self.x[index] + 0.1 * torch.randn(8), self.y[index]


class Model(Module):
    def __init__(self) -> None:
        super().__init__()
        self.net = torch.nn.Sequential(
            torch.nn.Linear(8, 32), torch.nn.ReLU(), torch.nn.Dropout(0.3), torch.nn.Linear(32, 1)
        )

    def training_step(self, batch, batch_idx):
        x, y = batch
        loss = F.mse_loss(self.net(x), y)
        self.log("train_loss", loss, on_epoch=True)
        return loss

    def validation_step(self, batch, batch_idx):
        x, y = batch
        self.log("val_loss", F.mse_loss(self.net(x), y))

    def configure_optimizers(self):
        optimizer = torch.optim.Adam(self.parameters(), lr=0.01)
        scheduler = torch.optim.lr_scheduler.StepLR(optimizer, step_size=3, gamma=0.7)
        return {"optimizer": optimizer, "lr_scheduler": {"scheduler": scheduler, "interval": "step"}}


class SignalAtStep(Callback):
    def __init__(self, step: int, signum: int) -> None:
        self.step = step
        self.signum = signum

    def on_train_batch_end(self, trainer, pl_module, outputs, batch, batch_idx):
        if trainer.global_step == self.step and trainer.progress.batches_done % trainer.accumulate_grad_batches == 0:
            os.kill(os.getpid(), self.signum)


def main() -> None:
    root, mode, step, workers, out = sys.argv[1], sys.argv[2], int(sys.argv[3]), int(sys.argv[4]), sys.argv[5]
    seed_everything(0)
    callbacks = [
        ModelCheckpoint(dirpath=os.path.join(root, "ckpts"), every_n_train_steps=2, save_top_k=-1, save_last=True)
    ]
    signals = {"kill": signal.SIGKILL, "term": signal.SIGTERM, "int": signal.SIGINT}
    if mode in signals:
        callbacks.insert(0, SignalAtStep(step, signals[mode]))
    trainer = Trainer(
        max_epochs=3,
        accumulate_grad_batches=2,
        callbacks=callbacks,
        default_root_dir=root,
        enable_progress_bar=False,
        enable_model_summary=False,
        log_every_n_steps=1,
    )
    loader = DataLoader(NoisyData(), batch_size=4, shuffle=True, num_workers=workers)
    val_loader = DataLoader(NoisyData(12), batch_size=4)
    model = Model()
    trainer.fit(model, loader, val_loader, ckpt_path="last" if mode == "resume" else None)
    torch.save(model.state_dict(), out)


if __name__ == "__main__":
    main()
