"""A small regression run for the FSDP tests: started as a script (flashtrain launches the other ranks), under
torchrun, or with --devices 1. Rank 0 writes result.pt (full weights, metrics, what the parameters looked like)
into --out.

--strategy fsdp / fsdp_sharded (full / sharded checkpoints), ddp or auto; --kill-at-step N SIGKILLs every rank
before step N+1 (checkpoints are written every step, as with --every-step); --resume continues from ckpt_path="last"
or --ckpt.
"""

from __future__ import annotations

import argparse
import faulthandler
import os
import signal

import torch
from torch.utils.data import DataLoader, TensorDataset

from flashtrain.core import Callback, Module, Trainer, seed_everything
from flashtrain.core.callbacks import ModelCheckpoint
from flashtrain.core.loggers import CSVLogger
from flashtrain.core.strategies import FSDPStrategy


class Block(torch.nn.Module):
    def __init__(self, width: int) -> None:
        super().__init__()
        self.linear = torch.nn.Linear(width, width)
        self.training_forwards = 0  # twice per batch when activation checkpointing recomputes it in backward

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        self.training_forwards += int(self.training)
        return torch.tanh(self.linear(x))


class Regression(Module):
    def __init__(self, width: int = 16, build_in_configure_model: bool = False) -> None:
        super().__init__()
        self.save_hyperparameters()
        self.net: torch.nn.Module | None = None
        self.built_on = ""
        if not build_in_configure_model:
            self.net = self._build()

    def _build(self) -> torch.nn.Module:
        width = self.hparams.width
        return torch.nn.Sequential(torch.nn.Linear(8, width), Block(width), Block(width), torch.nn.Linear(width, 1))

    def configure_model(self) -> None:
        if self.net is None:
            self.net = self._build()
            self.built_on = self.net[0].weight.device.type

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.net(x)

    def training_step(self, batch, batch_idx):
        x, y = batch
        loss = torch.nn.functional.mse_loss(self.net(x), y)
        self.log("train_loss", loss, on_epoch=True, sync_dist=True)
        return loss

    def validation_step(self, batch, batch_idx):
        x, y = batch
        self.log("val_loss", torch.nn.functional.mse_loss(self(x), y), sync_dist=True)

    def predict_step(self, batch, batch_idx):
        return self(batch[0])

    def configure_optimizers(self):
        optimizer = torch.optim.AdamW(self.parameters(), lr=0.02, weight_decay=0.01)
        return {"optimizer": optimizer, "lr_scheduler": torch.optim.lr_scheduler.StepLR(optimizer, 4, gamma=0.5)}


class KillAtStep(Callback):
    def __init__(self, step: int) -> None:
        self.step = step

    def on_train_batch_start(self, trainer, pl_module, batch, batch_idx):
        if trainer.global_step == self.step:
            os.kill(os.getpid(), signal.SIGKILL)


def data(batch_size: int) -> tuple[DataLoader, DataLoader]:
    generator = torch.Generator().manual_seed(0)
    x = torch.randn(136, 8, generator=generator)
    y = torch.sin(x @ torch.randn(8, 1, generator=generator))
    # 96 training samples: 6 steps an epoch for 2 x 8 or 1 x 16; 40 validation samples: 2 batches per rank.
    train = DataLoader(TensorDataset(x[:96], y[:96]), batch_size=batch_size, shuffle=True)
    val = DataLoader(TensorDataset(x[96:], y[96:]), batch_size=10)
    return train, val


def build_strategy(name: str, activation_checkpointing: bool = False, reshard: bool = True):
    if name == "fsdp":
        return FSDPStrategy(
            auto_wrap_policy={Block},
            activation_checkpointing_policy={Block} if activation_checkpointing else None,
            reshard_after_forward=reshard,
        )
    if name == "fsdp_sharded":
        return FSDPStrategy(auto_wrap_policy={Block}, state_dict_type="sharded")
    return name


def full_weights(model: torch.nn.Module) -> dict[str, torch.Tensor]:
    from torch.distributed.tensor import DTensor

    return {
        name: (value.full_tensor() if isinstance(value, DTensor) else value).detach().clone()
        for name, value in model.state_dict().items()
    }


def main() -> None:
    faulthandler.enable()  # a native abort (see test_fsdp.TEARDOWN_ABORT) prints where each thread was
    parser = argparse.ArgumentParser()
    parser.add_argument("--out", required=True)
    parser.add_argument("--devices", type=int, default=2)
    parser.add_argument("--strategy", default="fsdp")
    parser.add_argument("--batch-size", type=int, default=8)
    parser.add_argument("--max-epochs", type=int, default=3)
    parser.add_argument("--accumulate", type=int, default=1)
    parser.add_argument("--kill-at-step", type=int, default=-1)
    parser.add_argument("--every-step", action="store_true")
    parser.add_argument("--resume", action="store_true")
    parser.add_argument("--ckpt", default=None)
    parser.add_argument("--configure-model", action="store_true")
    parser.add_argument("--activation-checkpointing", action="store_true")
    parser.add_argument("--no-reshard", action="store_true")
    parser.add_argument("--validate-uneven", action="store_true")
    args = parser.parse_args()

    seed_everything(7)
    train, val = data(args.batch_size)
    callbacks = [ModelCheckpoint(save_top_k=-1, save_last=True)]
    if args.every_step or args.kill_at_step >= 0:
        # The two newest: top-k needs a monitor (Lightning's rule), and "step" ranks by recency. A resumed run passes
        # --every-step so its callback has the killed run's state_key: it takes over last.ckpt (not last-v1.ckpt).
        callbacks = [ModelCheckpoint(every_n_train_steps=1, save_top_k=2, monitor="step", mode="max", save_last=True)]
    if args.kill_at_step >= 0:
        callbacks.append(KillAtStep(args.kill_at_step))
    trainer = Trainer(
        accelerator="cpu",
        devices=args.devices,
        strategy=build_strategy(args.strategy, args.activation_checkpointing, not args.no_reshard),
        max_epochs=args.max_epochs,
        accumulate_grad_batches=args.accumulate,
        gradient_clip_val=0.1,  # below the gradient norm of most steps: clipping is active
        default_root_dir=args.out,
        logger=CSVLogger(args.out),
        callbacks=callbacks,
        enable_progress_bar=False,
        enable_model_summary=False,
        log_every_n_steps=1,
    )
    model = Regression(build_in_configure_model=args.configure_model)
    trainer.fit(model, train, val, ckpt_path=args.ckpt or ("last" if args.resume else None))
    # Read before validate: each entry point starts with empty metrics, as in Lightning.
    fit_metrics = {name: float(value) for name, value in trainer.callback_metrics.items()}
    uneven_error = ""
    if args.validate_uneven:  # 21 samples: 11 for rank 0 (2 batches of 10), 10 for rank 1 (1 batch)
        x = torch.randn(21, 8)
        try:
            trainer.validate(model, DataLoader(TensorDataset(x, x[:, :1]), batch_size=10), verbose=False)
        except ValueError as error:
            uneven_error = str(error)
    weights = full_weights(model)
    parameter = model.net[1].linear.weight
    local = parameter.to_local() if hasattr(parameter, "to_local") else parameter
    if trainer.is_global_zero:
        torch.save(
            {
                "weights": weights,
                "metrics": fit_metrics,
                "world_size": trainer.world_size,
                "global_step": trainer.global_step,
                "parameter_type": type(parameter).__name__,
                "local_shape": tuple(local.shape),
                "built_on": model.built_on,
                "block_training_forwards": model.net[1].training_forwards,
                "uneven_error": uneven_error,
                "last_model_path": trainer.checkpoint_callback.last_model_path,
            },
            os.path.join(args.out, "result.pt"),
        )


if __name__ == "__main__":
    main()
