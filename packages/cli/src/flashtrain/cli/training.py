"""The training run every task command shares: the checks and the seed before anything is built, the trainer from
flags, finetune (or resume), the config written when training starts, the summary line."""

from __future__ import annotations

import math
import os
import statistics
import sys
import time
from dataclasses import asdict
from typing import Any

import yaml

from flashtrain.cli import command_clock
from flashtrain.cli.backbone import check_backbone
from flashtrain.cli.commands.check import check_before_fit
from flashtrain.cli.errors import unknown_name
from flashtrain.cli.options import (
    PLAN_KEY,
    RUNS_FOLDER,
    RunOptions,
    UserError,
    default_output_dir,
    parse_finetune_strategy,
)
from flashtrain.cli.recipe import given, record_recipe
from flashtrain.core import Callback
from flashtrain.core.utilities import disk
from flashtrain.tasks import registry

METRIC_NAMES = {"val_acc": "accuracy", "val_rmse": "RMSE"}
# Points per training curve to aim for: Lightning's fixed log_every_n_steps=50 gives a short run 3 or none.
LOG_POINTS = 25


def start(options: RunOptions) -> tuple[RunOptions, Any]:
    """Before data or model are built: flags checked (a typo fails at once, not after seconds of loading), the
    output folder usable, and the seed set, so that weights, data split and order repeat exactly. Returns the
    options with the output folder settled, and the finetuning strategy."""
    from flashtrain.core import seed_everything

    strategy = parse_finetune_strategy(options.finetune_strategy)
    check_names(options)
    check_choices(options)
    options = options.replace(output_dir=os.path.abspath(options.output_dir or default_output_dir(options.task)))
    check_output_dir(options.output_dir)
    seed_everything(options.seed)
    return options, strategy


def check_names(options: RunOptions) -> None:
    """The flags that name something in one of the task's registries (optimizer, schedule, backbone, metrics): a
    typo is refused with the nearest valid names before any data is read or model built."""
    spec = registry.get(options.task)
    task_class = spec.load("model")
    if given(options, "optimizer") and options.optimizer.lower() not in task_class.available_optimizers():
        raise unknown_name("--optimizer", options.optimizer, task_class.available_optimizers())
    schedules = ["none", *task_class.available_lr_schedulers()]
    if given(options, "lr_scheduler") and options.lr_scheduler.lower() not in schedules:
        raise unknown_name("--lr-scheduler", options.lr_scheduler, schedules)
    check_backbone(options)
    for metric in (options.metrics or "").split(","):
        if metric.strip() and metric.strip() not in task_class.available_metrics():
            raise unknown_name("--metrics", metric.strip(), task_class.available_metrics())


def check_choices(options: RunOptions) -> None:
    """``--precision``, ``--accelerator``/``--gpus`` and ``--weight-averaging``, checked by the code that uses
    them."""
    from flashtrain.core.accelerators import resolve_accelerator
    from flashtrain.core.precision import canonical_precision
    from flashtrain.tasks.task import check_weight_averaging

    check_weight_averaging(options.weight_averaging)

    try:
        canonical_precision(options.precision)
    except ValueError:
        raise UserError(
            f"--precision {options.precision!r} is not known; use 32-true, 64-true, bf16-mixed or 16-mixed"
        ) from None
    if options.gpus:
        resolve_accelerator("gpu")
    elif options.accelerator != "auto":
        resolve_accelerator(options.accelerator)


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

    def __init__(self, options: RunOptions) -> None:
        self.options = options
        self.task = options.task
        self.path: str | None = None

    def settle(self, **values: Any) -> None:
        """Options the run settled after this record was made (the machine's "auto" values)."""
        self.options = self.options.replace(**values)

    def config(self, pl_module: Any) -> dict[str, Any]:
        """The options with the recipe as the model holds it now (e.g. after --auto-lr chose the learning rate)."""
        return {"task": self.task, **record_recipe(self.options, pl_module).as_config()}

    def on_fit_start(self, trainer: Any, pl_module: Any) -> None:
        self.path = os.path.join(trainer.log_dir, "config.yaml")
        if trainer.is_global_zero:
            os.makedirs(trainer.log_dir, exist_ok=True)
            with disk.writing(self.path), open(self.path, "w") as handle:
                yaml.safe_dump(self.config(pl_module), handle, sort_keys=False)

    def on_train_end(self, trainer: Any, pl_module: Any) -> None:
        budget = trainer.time_budget
        if budget is not None and trainer.is_global_zero and self.path:  # the plan joins the options it was made for
            with disk.writing(self.path), open(self.path, "w") as handle:
                yaml.safe_dump({**self.config(pl_module), PLAN_KEY: asdict(budget.plan)}, handle, sort_keys=False)

    def on_exception(self, trainer: Any, pl_module: Any, exception: BaseException) -> None:
        if isinstance(exception, (KeyboardInterrupt, SystemExit)) and trainer.is_global_zero and self.path:
            run_folder = os.path.dirname(self.path)
            print(f"flash-train: to continue this run: flash-train {self.task} --resume {run_folder}", file=sys.stderr)


def machine_defaults(options: RunOptions, trainer: Any, data: Any, model: Any) -> tuple[str, dict[str, Any]]:
    """The defaults that depend on this machine, as this run resolved them: the line that says so, and the "auto"
    options with the values they took (config.yaml records those)."""
    from flashtrain.tasks.loading import resolve_pin_memory, usable_cores

    device = trainer.strategy.root_device
    parts = [f"device {device.type}"]
    settled: dict[str, Any] = {}
    if options.precision == "auto":
        settled["precision"] = trainer.precision
    parts.append(f"precision {trainer.precision}")
    if options.num_workers == "auto":
        settled["num_workers"] = data.num_workers
    parts.append(f"num_workers {data.num_workers} (of {usable_cores()} usable cores)")
    parts.append(f"pin_memory {'on' if resolve_pin_memory(data.pin_memory, trainer) else 'off'}")
    if hasattr(model, "channels_last"):
        from flashtrain.tasks.image.acceleration import wants_channels_last

        parts.append(f"channels_last {'on' if wants_channels_last(model.channels_last, model, device) else 'off'}")
    parts.append(f"compile {'on' if model.compile_backbone else 'off'}")  # channels-last: conv image backbones only
    return "defaults for this machine: " + ", ".join(parts), settled


class CompileTime(Callback):
    """Reports what ``--compile`` cost: the first training step (which compiles) against the median of the rest."""

    def __init__(self) -> None:
        self.durations: list[float] = []
        self._started = 0.0

    def on_train_batch_start(self, trainer: Any, pl_module: Any, batch: Any, batch_idx: int) -> None:
        self._started = time.perf_counter()

    def on_train_batch_end(self, trainer: Any, pl_module: Any, outputs: Any, batch: Any, batch_idx: int) -> None:
        self.durations.append(time.perf_counter() - self._started)

    def on_fit_end(self, trainer: Any, pl_module: Any) -> None:
        if len(self.durations) > 1 and trainer.is_global_zero:
            rest = statistics.median(self.durations[1:])
            print(f"compile: first step {self.durations[0]:.1f} s, later steps {rest * 1000:.0f} ms (median)")


def train(model: Any, data: Any, options: RunOptions, strategy: Any) -> dict[str, Any]:
    from flashtrain.core import Trainer
    from flashtrain.core.callbacks import EarlyStopping, ModelCheckpoint

    task = options.task
    validates = data.datasets.get("val") is not None
    metric, mode = model.monitor  # e.g. ("val_acc", "max") or ("val_rmse", "min")
    checkpoint = ModelCheckpoint(filename="best", monitor=metric if validates else None, mode=mode)
    # last.ckpt is the state after every epoch, what --resume continues from. Lightning's save_last only copies a
    # checkpoint that was saved, so with a monitor it would stay at the best epoch: a second callback writes it.
    latest = ModelCheckpoint(filename=ModelCheckpoint.CHECKPOINT_NAME_LAST, enable_version_counter=False)
    record = RunRecord(options)
    callbacks = [checkpoint, latest, record]
    if options.compile:
        callbacks.append(CompileTime())
    if options.early_stopping:
        if not validates:
            raise UserError("--early-stopping needs validation data: pass --val-split 0.2 or a validation folder/file")
        callbacks.append(EarlyStopping(monitor=metric, mode=mode, patience=options.early_stopping))
    devices = (
        options.devices if options.devices == "auto" or not str(options.devices).isdigit() else int(options.devices)
    )
    trainer = Trainer(
        max_epochs=None if options.time_budget else options.max_epochs,  # a budget plans the run's length itself
        time_budget=options.time_budget,
        accelerator=options.accelerator,
        devices=devices,
        gpus=options.gpus,
        strategy=options.strategy,
        precision=options.precision,
        default_root_dir=options.output_dir,
        callbacks=callbacks,
        logger=build_logger(options.logger, task, options.output_dir),
        log_every_n_steps=log_every_n_steps(len(data.datasets["train"]), data.batch_size, options.max_epochs),
    )

    command_started = command_clock.started()
    if trainer.time_budget is not None and command_started is not None:  # the budget bounds the whole command
        trainer.time_budget.count_from(command_started)
    if trainer.time_budget is not None and validates:  # the budget covers the summary's passes after fit too
        test = data.datasets.get("test")
        trainer.time_budget.reserve_after_fit(1 + (len(test) / len(data.datasets["val"]) if test is not None else 0))

    def say(*parts: Any) -> None:
        # Asked at each call: under DDP a process knows its rank only once fit has started the ranks.
        if trainer.is_global_zero:
            print(*parts)

    # Before fit (--strict refuses here), once the options are known to be right; its warning is printed with the
    # summary, beside the figures it puts in doubt, so that an error during fit stays the one line shown.
    data_warning = check_before_fit(task, options)
    message, settled = machine_defaults(options, trainer, data, model)
    say(message)
    record.settle(**settled)  # before config.yaml is written: it records these values

    finder = find_learning_rate(trainer, model, data, options, say) if options.auto_lr is not None else None
    data.strict_resume = bool(options.values.get("strict_resume", False))
    trainer.finetune(model, datamodule=data, strategy=strategy, ckpt_path=options.resume_checkpoint)
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
        score = checkpoint.best_model_score  # a tensor, as Lightning's
        summary[f"best_{metric}"] = best = float(score) if score is not None else float("nan")
        say(f"final validation {name}: {summary[shown]:.4f} (best {'' if shown == metric else metric + ' '}{best:.4f})")
    if validates:  # every rank runs the model (a sharded model's forward is collective); rank 0 writes
        issues = rank_label_issues(model, data, trainer.log_dir, say, write=trainer.is_global_zero)
        if trainer.is_global_zero:
            summary.update(issues)
    calibration = getattr(model, "calibration", None)
    if calibration is not None and calibration.summary():
        say(calibration.summary())
    if data.datasets.get("test") is not None:
        (result,) = trainer.test(model, datamodule=data, ckpt_path=summary["checkpoint"], verbose=False)
        test_metric = shown.replace("val_", "test_", 1)
        summary[test_metric] = result[test_metric]
        say(f"test {name}: {summary[test_metric]:.4f}")
    say(f"checkpoint: {summary['checkpoint']}\nresolved config: {record.path}")
    if data_warning and trainer.is_global_zero:
        print(data_warning, file=sys.stderr)
    return summary


def build_logger(name: str, task: str, output_dir: str) -> Any:
    """The logger ``--logger`` names: ``tensorboard`` is core's default logger (CSV where TensorBoard is not
    installed), written under ``<output_dir>/logs/version_N`` as the CSV logger is."""
    if name == "tensorboard":
        from flashtrain.core.loggers import default_logger

        return default_logger(output_dir, name=RUNS_FOLDER)
    if name == "none":
        return False
    if name == "csv":
        from flashtrain.core.loggers import CSVLogger

        return CSVLogger(save_dir=output_dir, name=RUNS_FOLDER)
    if name == "mlflow":
        from flashtrain.core.loggers import MLFlowLogger

        return MLFlowLogger(experiment_name=task, save_dir=output_dir)
    from flashtrain.core.loggers import WandbLogger

    # Offline unless asked otherwise: a first run needs no account; `wandb sync` uploads it later.
    return WandbLogger(project=task, save_dir=output_dir, offline=os.environ.get("WANDB_MODE") != "online")


def find_learning_rate(trainer: Any, model: Any, data: Any, options: RunOptions, say: Any) -> Any:
    """--auto-lr: the range test on the training data; the model (and so the config.yaml written when training
    starts) take the suggestion."""
    from flashtrain.core.tuner import Tuner

    before = model.learning_rate
    finder = Tuner(trainer).lr_find(model, datamodule=data, num_training=options.auto_lr)
    if finder is None:  # a fast_dev_run trainer skips the search (as Lightning)
        say(f"learning-rate finder: skipped (fast_dev_run); keeping --learning-rate {before:g}")
    elif finder.suggestion() is None:
        say(f"learning-rate finder: no suggestion (too few steps); keeping --learning-rate {before:g}")
    else:
        say(f"learning-rate finder: suggested {model.learning_rate:.3g} (instead of {before:g})")
    return finder


def rank_label_issues(model: Any, data: Any, folder: str, say: Any, write: bool = True) -> dict[str, str | None]:
    """label_issues.csv beside config.yaml: the validation items whose label the trained model doubts most
    (``write=False``: the ranking only, on the other ranks of a multi-process run), and for images
    label_issues.png, a grid of the most doubtful ones. Returns the summary's entries for them."""
    from flashtrain.tasks.label_issues import FILE_NAME, write_label_issue_grid, write_label_issues

    path = os.path.join(folder, FILE_NAME)
    counted = write_label_issues(model, data, path if write else None)
    if counted is None:  # a regressor, multi-label targets
        return {"label_issues": None}
    say(f"label issues: {counted[0]} of {counted[1]} validation items may be mislabelled, most doubtful first: {path}")
    if not write or not counted[0]:
        return {"label_issues": path}
    try:
        grid = write_label_issue_grid(data, path)
    except ImportError as error:  # matplotlib missing: the CSV says it all, the picture is a convenience
        say(f"label issues: no picture ({error})")
        grid = None
    if grid is not None:
        say(f"label issues, the most doubtful images: {grid}")
        return {"label_issues": path, "label_issues_grid": grid}
    return {"label_issues": path}


def write_lr_find(finder: Any, folder: str, say: Any) -> None:
    """The finder's curve as lr_find.csv, and as lr_find.png where matplotlib is installed."""
    import csv

    path = os.path.join(folder, "lr_find.csv")
    with disk.writing(path), open(path, "w", newline="") as handle:
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
    with disk.writing(os.path.join(folder, "lr_find.png")):
        figure.savefig(os.path.join(folder, "lr_find.png"))
    say(f"learning-rate finder plot: {os.path.join(folder, 'lr_find.png')}")
