"""A small regression run for the DDP tests: started as a script (flashtrain launches the other ranks), under
torchrun, or with --devices 1 as the single-process reference. Rank 0 writes result.pt into --out."""

from __future__ import annotations

import argparse
import os
import time
from typing import Any

import torch
import torchmetrics
from torch.utils.data import DataLoader, TensorDataset

from flashtrain.core import Module, Trainer, seed_everything
from flashtrain.core.callbacks import ModelCheckpoint
from flashtrain.core.loggers import CSVLogger


def mark_failure_time(out: str) -> None:
    """Writes when this rank fails, so a test can time how fast every rank ends after it (start-up is not counted:
    it depends on how busy the machine is)."""
    with open(os.path.join(out, "failed_at"), "w") as file:
        file.write(repr(time.time()))


class Regression(Module):
    def __init__(self, fail_on_rank: int = -1) -> None:
        super().__init__()
        self.net = torch.nn.Sequential(torch.nn.Linear(8, 16), torch.nn.Tanh(), torch.nn.Linear(16, 1))
        self.fail_on_rank = fail_on_rank
        self.val_mse = torchmetrics.MeanSquaredError()  # syncs its own state over ranks at compute()

    def training_step(self, batch, batch_idx):
        if self.global_rank == self.fail_on_rank and self.global_step == 3:
            mark_failure_time(self.trainer.default_root_dir)
            raise ValueError(f"boom on rank {self.global_rank} at step 3")
        x, y = batch
        loss = torch.nn.functional.mse_loss(self.net(x), y)
        self.log("train_loss", loss, on_epoch=True, sync_dist=True)
        return loss

    def validation_step(self, batch, batch_idx):
        x, y = batch
        error = self.net(x) - y
        self.log("val_loss", error.pow(2).mean(), sync_dist=True)
        self.log("val_max_error", error.abs().max(), reduce_fx="max", sync_dist=True)
        self.log("val_count", float(len(x)), reduce_fx="sum", sync_dist=True)
        self.val_mse(self.net(x), y)
        self.log("val_mse", self.val_mse)

    def configure_optimizers(self):
        return torch.optim.SGD(self.parameters(), lr=0.1, momentum=0.9)


def data(batch_size: int) -> tuple[DataLoader, DataLoader]:
    generator = torch.Generator().manual_seed(0)
    x = torch.randn(150, 8, generator=generator)
    y = x @ torch.randn(8, 1, generator=generator) + 0.1 * torch.randn(150, 1, generator=generator)
    # 96 training samples divide evenly; 54 validation samples give the ranks 27 each: batches 10, 10, 7.
    train = DataLoader(TensorDataset(x[:96], y[:96]), batch_size=batch_size, shuffle=True)
    val = DataLoader(TensorDataset(x[96:], y[96:]), batch_size=10)
    return train, val


def make_logger(name: str, out: str) -> Any:
    if name == "mlflow":
        from flashtrain.core.loggers import MLFlowLogger

        return MLFlowLogger("ddp", tracking_uri=f"sqlite:///{out}/mlflow.db", save_dir=out)
    if name == "wandb":
        from flashtrain.core.loggers import WandbLogger

        return WandbLogger(save_dir=out, offline=True, project="ddp")
    return CSVLogger(out)


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--out", required=True)
    parser.add_argument("--devices", type=int, default=2)
    parser.add_argument("--num-nodes", type=int, default=1)
    parser.add_argument("--strategy", default="auto")
    parser.add_argument("--batch-size", type=int, default=8)
    parser.add_argument("--max-epochs", type=int, default=3)
    parser.add_argument("--accumulate", type=int, default=1)
    parser.add_argument("--resume", action="store_true")
    parser.add_argument("--fail-on-rank", type=int, default=-1)
    parser.add_argument("--fail-before-fit", type=int, default=-1)
    parser.add_argument("--loggers", default="csv", help="comma-separated: csv, mlflow, wandb")
    args = parser.parse_args()

    seed_everything(7)
    if int(os.environ.get("RANK", 0)) == args.fail_before_fit:
        mark_failure_time(args.out)
        raise RuntimeError(f"rank {args.fail_before_fit} could not read its data")
    train, val = data(args.batch_size)
    loggers = [make_logger(name, args.out) for name in args.loggers.split(",")]
    trainer = Trainer(
        accelerator="cpu",
        devices=args.devices,
        num_nodes=args.num_nodes,
        strategy=args.strategy,
        max_epochs=args.max_epochs,
        accumulate_grad_batches=args.accumulate,
        default_root_dir=args.out,
        logger=loggers[0] if len(loggers) == 1 else loggers,
        callbacks=[ModelCheckpoint(monitor="val_loss", save_last=True)],
        enable_progress_bar=False,
        enable_model_summary=False,
        log_every_n_steps=1,
    )
    model = Regression(args.fail_on_rank)
    trainer.fit(model, train, val, ckpt_path="last" if args.resume else None)
    weights = {name: value.clone() for name, value in model.state_dict().items()}
    everyone = [None] * trainer.world_size
    if trainer.world_size > 1:
        torch.distributed.all_gather_object(everyone, weights)
    if trainer.is_global_zero:
        torch.save(
            {
                "weights": weights,
                "all_ranks_weights": everyone if trainer.world_size > 1 else [weights],
                "metrics": {name: float(value) for name, value in trainer.callback_metrics.items()},
                "world_size": trainer.world_size,
                "global_step": trainer.global_step,
                "best_model_path": trainer.checkpoint_callback.best_model_path,
            },
            os.path.join(args.out, "result.pt"),
        )


if __name__ == "__main__":
    main()
