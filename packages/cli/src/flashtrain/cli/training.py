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
    )
    trainer.finetune(model, datamodule=data, strategy=strategy)
    # Written after fit: under DDP the ranks agree on the log folder only once the run has started.
    resolved = {key: value for key, value in sorted(vars(args).items()) if key not in ("run", "config", "command")}
    config_path = os.path.join(trainer.log_dir, "config.yaml")
    if trainer.is_global_zero:
        os.makedirs(trainer.log_dir, exist_ok=True)
        with open(config_path, "w") as handle:
            yaml.safe_dump({"task": task, **resolved}, handle, sort_keys=False)
    say = print if trainer.is_global_zero else _silent
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


def _silent(*args: Any) -> None:
    """Ranks other than 0 print nothing (their summary would repeat rank 0's)."""
