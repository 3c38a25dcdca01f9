"""The training run every task command shares: the checks and the seed before anything is built, the trainer from
flags, finetune (or resume), the config written when training starts, the summary line."""

from __future__ import annotations

import argparse
import math
import os
import sys
from typing import Any

import yaml

from flashtrain.cli.errors import unknown_name
from flashtrain.cli.options import NOT_IN_CONFIG, PATH_OPTIONS, UserError, default_output_dir, parse_finetune_strategy
from flashtrain.cli.recipe import TASK_CLASSES, given, record_recipe
from flashtrain.core import Callback

METRIC_NAMES = {"val_acc": "accuracy", "val_rmse": "RMSE"}
# Points per training curve to aim for: Lightning's fixed log_every_n_steps=50 gives a short run 3 or none.
LOG_POINTS = 25


def start(task: str, args: argparse.Namespace) -> Any:
    """Before data or model are built: flags checked (a typo fails at once, not after seconds of loading), the
    output folder usable, and the seed set, so that weights, data split and order repeat exactly. Returns the
    finetuning strategy."""
    from flashtrain.core import seed_everything

    strategy = parse_finetune_strategy(args.finetune_strategy)
    check_names(task, args)
    check_choices(args)
    args.output_dir = os.path.abspath(args.output_dir or default_output_dir(task))
    check_output_dir(args.output_dir)
    seed_everything(args.seed)
    return strategy


def check_names(task: str, args: argparse.Namespace) -> None:
    """The flags that name something in one of the task's registries (optimizer, schedule, backbone, metrics): a
    typo is refused with the nearest valid names before any data is read or model built."""
    import flashtrain.tasks

    task_class = getattr(flashtrain.tasks, TASK_CLASSES[task][1])
    if given(args, "optimizer") and args.optimizer.lower() not in task_class.available_optimizers():
        raise unknown_name("--optimizer", args.optimizer, task_class.available_optimizers())
    schedules = ["none", *task_class.available_lr_schedulers()]
    if given(args, "lr_scheduler") and args.lr_scheduler.lower() not in schedules:
        raise unknown_name("--lr-scheduler", args.lr_scheduler, schedules)
    if given(args, "backbone") and task != "text_classification":  # text: any Hugging Face name or folder
        backbones = task_class.available_backbones()
        if not known_backbone(args.backbone, backbones):
            listing = f"flash-train backbones {task} --filter {args.backbone[:4]}" if len(backbones) > 20 else None
            raise unknown_name("--backbone", args.backbone, backbones, listing)
    for metric in (args.metrics or "").split(","):
        if metric.strip() and metric.strip() not in task_class.available_metrics():
            raise unknown_name("--metrics", metric.strip(), task_class.available_metrics())


def known_backbone(name: str, backbones: list[str]) -> bool:
    """``name`` is listed, also as timm spells it with a ``timm/`` prefix or a pretrained tag (resnet18.a1_in1k)."""
    plain = name.removeprefix("timm/")
    return name in backbones or plain.split(".")[0] in backbones and not plain.startswith("torchvision/")


def check_choices(args: argparse.Namespace) -> None:
    """``--precision``, ``--accelerator``/``--gpus`` and ``--weight-averaging``, checked by the code that uses
    them."""
    from flashtrain.core.accelerators import resolve_accelerator
    from flashtrain.core.precision import canonical_precision
    from flashtrain.tasks.task import check_weight_averaging

    check_weight_averaging(args.weight_averaging)

    try:
        canonical_precision(args.precision)
    except ValueError:
        raise UserError(
            f"--precision {args.precision!r} is not known; use 32-true, 64-true, bf16-mixed or 16-mixed"
        ) from None
    if args.gpus:
        resolve_accelerator("gpu")
    elif args.accelerator != "auto":
        resolve_accelerator(args.accelerator)


def check_output_dir(path: str) -> None:
    if os.path.exists(path) and not os.path.isdir(path):
        raise UserError(f"--output-dir {path} is a file; pass a folder (it is created if it does not exist)")
    try:
        os.makedirs(path, exist_ok=True)
    except NotADirectoryError:
        raise UserError(
            f"--output-dir {path}: part of this path is a file, not a folder; pass another folder"
        ) from None
    except PermissionError:
        raise UserError(
            f"--output-dir {path} cannot be created (permission denied); pass a folder you can write to"
        ) from None
    if not os.access(path, os.W_OK | os.X_OK):
        raise UserError(f"--output-dir {path} is not writable; pass a folder you can write to")


def log_every_n_steps(train_samples: int, batch_size: int, max_epochs: int) -> int:
    """Steps between logged training points, so that a run has about ``LOG_POINTS`` of them (at most 50 apart)."""
    steps = math.ceil(train_samples / batch_size) * max_epochs
    return max(1, min(50, steps // LOG_POINTS))


class RunRecord(Callback):
    """Writes the run's ``config.yaml`` (the options actually used) when training starts, so that an interrupted
    run has one too, and says how to resume from the command line when the run is interrupted."""

    def __init__(self, task: str, args: argparse.Namespace) -> None:
        self.task = task
        self.args = args
        self.path: str | None = None

    def on_fit_start(self, trainer: Any, pl_module: Any) -> None:
        self.path = os.path.join(trainer.log_dir, "config.yaml")
        if trainer.is_global_zero:  # the options as they are now (e.g. after --auto-lr chose the learning rate)
            os.makedirs(trainer.log_dir, exist_ok=True)
            with open(self.path, "w") as handle:
                yaml.safe_dump({"task": self.task, **run_options(self.args)}, handle, sort_keys=False)

    def on_exception(self, trainer: Any, pl_module: Any, exception: BaseException) -> None:
        if isinstance(exception, (KeyboardInterrupt, SystemExit)) and trainer.is_global_zero and self.path:
            run_folder = os.path.dirname(self.path)
            print(f"flash-train: to continue this run: flash-train {self.task} --resume {run_folder}", file=sys.stderr)


def run_options(args: argparse.Namespace) -> dict[str, Any]:
    """The options of a run as ``--config`` reads them back: file and folder paths absolute."""
    values = {key: value for key, value in sorted(vars(args).items()) if key not in NOT_IN_CONFIG}
    for key in PATH_OPTIONS:
        if values.get(key):
            values[key] = os.path.abspath(values[key])
    return values


def train(task: str, model: Any, data: Any, args: argparse.Namespace, strategy: Any) -> dict[str, Any]:
    from flashtrain.core import Trainer
    from flashtrain.core.callbacks import EarlyStopping, ModelCheckpoint

    record_recipe(args, model)  # from here on every option holds the value this run uses
    validates = data.datasets.get("val") is not None
    metric, mode = model.monitor  # e.g. ("val_acc", "max") or ("val_rmse", "min")
    checkpoint = ModelCheckpoint(filename="best", monitor=metric if validates else None, mode=mode, save_last=True)
    record = RunRecord(task, args)
    callbacks = [checkpoint, record]
    if args.early_stopping:
        if not validates:
            raise UserError("--early-stopping needs validation data: pass --val-split 0.2 or a validation folder/file")
        callbacks.append(EarlyStopping(monitor=metric, mode=mode, patience=args.early_stopping))
    devices = args.devices if args.devices == "auto" or not str(args.devices).isdigit() else int(args.devices)
    trainer = Trainer(
        max_epochs=args.max_epochs,
        accelerator=args.accelerator,
        devices=devices,
        gpus=args.gpus,
        strategy=args.strategy,
        precision=args.precision,
        default_root_dir=args.output_dir,
        callbacks=callbacks,
        logger=build_logger(args.logger, task, args.output_dir),
        log_every_n_steps=log_every_n_steps(len(data.datasets["train"]), data.batch_size, args.max_epochs),
    )

    def say(*parts: Any) -> None:
        # Asked at each call: under DDP a process knows its rank only once fit has started the ranks.
        if trainer.is_global_zero:
            print(*parts)

    finder = find_learning_rate(trainer, model, data, args, say) if args.auto_lr is not None else None
    trainer.finetune(model, datamodule=data, strategy=strategy, ckpt_path=getattr(args, "resume_checkpoint", None))
    if finder is not None and trainer.is_global_zero:
        write_lr_find(finder, trainer.log_dir, say)
    summary: dict[str, Any] = {
        "checkpoint": checkpoint.best_model_path or checkpoint.last_model_path,
        "config": record.path,
    }
    # A task whose best checkpoint has the lowest loss (tabular classifiers) is still reported by its accuracy.
    shown = "val_acc" if metric == "val_loss" and "val_acc" in trainer.callback_metrics else metric
    name = METRIC_NAMES.get(shown, shown)
    if validates:
        summary[shown] = float(trainer.callback_metrics[shown])
        summary[f"best_{metric}"] = best = checkpoint.best_model_score
        say(f"final validation {name}: {summary[shown]:.4f} (best {'' if shown == metric else metric + ' '}{best:.4f})")
    calibration = getattr(model, "calibration", None)
    if calibration is not None and calibration.summary():
        say(calibration.summary())
    if data.datasets.get("test") is not None:
        (result,) = trainer.test(model, datamodule=data, ckpt_path=summary["checkpoint"], verbose=False)
        test_metric = shown.replace("val_", "test_", 1)
        summary[test_metric] = result[test_metric]
        say(f"test {name}: {summary[test_metric]:.4f}")
    say(f"checkpoint: {summary['checkpoint']}\nresolved config: {record.path}")
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
