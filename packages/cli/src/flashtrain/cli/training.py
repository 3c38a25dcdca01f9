"""The training run every task command shares: trainer from flags, finetune, resolved config, summary line."""

from __future__ import annotations

import argparse
import os
from typing import Any

METRIC_NAMES = {"val_acc": "accuracy", "val_rmse": "RMSE"}


def train(task: str, model: Any, data: Any, args: argparse.Namespace, output_dir: str, strategy: Any) -> dict[str, Any]:
    import yaml

    from flashtrain.core import Trainer, seed_everything
    from flashtrain.core.callbacks import ModelCheckpoint

    seed_everything(args.seed)
    validates = data.datasets.get("val") is not None
    metric, mode = model.monitor  # e.g. ("val_acc", "max") or ("val_rmse", "min")
    checkpoint = ModelCheckpoint(filename="best", monitor=metric if validates else None, mode=mode, save_last=True)
    devices = args.devices if args.devices == "auto" or not str(args.devices).isdigit() else int(args.devices)
    trainer = Trainer(
        max_epochs=args.max_epochs,
        accelerator=args.accelerator,
        devices=devices,
        gpus=args.gpus,
        strategy=args.strategy,
        precision=args.precision,
        default_root_dir=output_dir,
        callbacks=[checkpoint],
        logger=build_logger(args.logger, task, output_dir),
    )
    say = print if trainer.is_global_zero else _silent
    finder = find_learning_rate(trainer, model, data, args, say) if args.auto_lr is not None else None
    trainer.finetune(model, datamodule=data, strategy=strategy)
    # Written after fit: under DDP the ranks agree on the log folder only once the run has started.
    resolved = {key: value for key, value in sorted(vars(args).items()) if key not in ("run", "config", "command")}
    config_path = os.path.join(trainer.log_dir, "config.yaml")
    if trainer.is_global_zero:
        os.makedirs(trainer.log_dir, exist_ok=True)
        with open(config_path, "w") as handle:
            yaml.safe_dump({"task": task, **resolved}, handle, sort_keys=False)
        if finder is not None:
            write_lr_find(finder, trainer.log_dir, say)
    summary = {"checkpoint": checkpoint.best_model_path or checkpoint.last_model_path, "config": config_path}
    name = METRIC_NAMES.get(metric, metric)
    if validates:
        summary[metric] = float(trainer.callback_metrics[metric])
        summary[f"best_{metric}"] = checkpoint.best_model_score
        say(f"final validation {name}: {summary[metric]:.4f} (best {summary[f'best_{metric}']:.4f})")
    if data.datasets.get("test") is not None:
        (result,) = trainer.test(model, datamodule=data, ckpt_path=summary["checkpoint"], verbose=False)
        test_metric = metric.replace("val_", "test_", 1)
        summary[test_metric] = result[test_metric]
        say(f"test {name}: {summary[test_metric]:.4f}")
    say(f"checkpoint: {summary['checkpoint']}\nresolved config: {config_path}")
    return summary


def build_logger(name: str, task: str, output_dir: str) -> Any:
    """The logger ``--logger`` names; None means the trainer's default (TensorBoard)."""
    if name == "tensorboard":
        return None
    if name == "none":
        return False
    if name == "csv":
        from flashtrain.core.loggers import CSVLogger

        return CSVLogger(save_dir=output_dir)
    if name == "mlflow":
        from flashtrain.core.loggers import MLFlowLogger

        return MLFlowLogger(experiment_name=task, save_dir=output_dir)
    from flashtrain.core.loggers import WandbLogger

    # Offline unless asked otherwise: a first run needs no account; `wandb sync` uploads it later.
    return WandbLogger(project=task, save_dir=output_dir, offline=os.environ.get("WANDB_MODE") != "online")


def find_learning_rate(trainer: Any, model: Any, data: Any, args: argparse.Namespace, say: Any) -> Any:
    """--auto-lr: the range test on the training data; the model (and the resolved config) take the suggestion."""
    from flashtrain.core.tuner import Tuner

    before = model.learning_rate
    finder = Tuner(trainer).lr_find(model, datamodule=data, num_training=args.auto_lr)
    if finder.suggestion() is None:
        say(f"learning-rate finder: no suggestion (too few steps); keeping --learning-rate {before:g}")
    else:
        args.learning_rate = model.learning_rate
        say(f"learning-rate finder: suggested {model.learning_rate:.3g} (instead of {before:g})")
    return finder


def write_lr_find(finder: Any, folder: str, say: Any) -> None:
    """The finder's curve as lr_find.csv, and as lr_find.png where matplotlib is installed."""
    import csv

    with open(os.path.join(folder, "lr_find.csv"), "w", newline="") as handle:
        writer = csv.writer(handle)
        writer.writerow(["lr", "loss"])
        writer.writerows(zip(finder.results["lr"], finder.results["loss"]))
    try:
        import matplotlib
    except ImportError:
        say(f"learning-rate finder curve: {os.path.join(folder, 'lr_find.csv')} (pip install matplotlib for a plot)")
        return
    matplotlib.use("Agg")
    figure = finder.plot(suggest=True)
    figure.savefig(os.path.join(folder, "lr_find.png"))
    say(f"learning-rate finder plot: {os.path.join(folder, 'lr_find.png')}")


def _silent(*args: Any) -> None:
    """Ranks other than 0 print nothing (their summary would repeat rank 0's)."""
