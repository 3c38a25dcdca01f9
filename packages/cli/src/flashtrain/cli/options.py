"""Flags shared by every task command, the ``--config`` file, ``--resume``, and the help layout.

Nothing here imports torch: ``flash-train --help`` must stay instant.
"""

from __future__ import annotations

import argparse
import dataclasses
import glob
import math
import os
import sys
from collections.abc import Callable, Mapping
from types import MappingProxyType
from typing import Any, NoReturn

from flashtrain.cli.recipe import TaskDefault, task_default

MAX_SEED = 2**32 - 1
# Options that name files or folders: the config a run writes holds them as absolute paths, so that
# ``--config``/``--resume`` work from any working folder.
PATH_OPTIONS = (
    "train_folder",
    "val_folder",
    "test_folder",
    "train_file",
    "val_file",
    "test_file",
    "images_root",
    "output_dir",
)
# Not options of a run: left out of the config a run writes, and not accepted from one.
PLAN_KEY = "time_budget_plan"
NOT_IN_CONFIG = ("run", "config", "command", "resume", "resume_checkpoint", "strict_resume", "task")


@dataclasses.dataclass(frozen=True)
class RunOptions:
    """A command's options, resolved once: the flags, the ``--config`` file (or the resumed run's config.yaml) and
    the task's declared defaults (a flag not given holds the task's value). Read them as attributes
    (``options.max_epochs``). Frozen: a step that settles an option (the sample data's folders, the resolved
    recipe) returns a new ``RunOptions`` with :meth:`replace`; the run's config.yaml is :meth:`as_config` of the
    last one.

    ``given``: the options set by the user (flags, config) or settled by the command, rather than left to the task's
    defaults; only those are passed to the task, so that the CLI trains the recipe ``ImageClassifier(...)`` would.
    """

    command: str
    values: Mapping[str, Any]
    run: Callable[[RunOptions], Any] = dataclasses.field(compare=False, repr=False)  # the command's
    given_names: frozenset[str] = frozenset()
    resume_checkpoint: str | None = None

    @classmethod
    def from_namespace(cls, args: argparse.Namespace, resume_checkpoint: str | None = None) -> RunOptions:
        """The options argparse parsed; each :class:`TaskDefault` (a flag not given) becomes the task's value."""
        parsed = {key: value for key, value in vars(args).items() if key not in ("run", "command")}
        given = frozenset(key for key, value in parsed.items() if not isinstance(value, TaskDefault))
        values = {key: value.value() if isinstance(value, TaskDefault) else value for key, value in parsed.items()}
        return cls(
            command=getattr(args, "command", None) or str(parsed.get("task", "")),
            values=MappingProxyType(values),
            given_names=given,
            resume_checkpoint=resume_checkpoint,
            run=args.run,
        )

    def __getattr__(self, name: str) -> Any:
        if name.startswith("__") or name == "values":  # copy/pickle probes, and no recursion before __init__
            raise AttributeError(name)
        try:
            return self.values[name]
        except KeyError:
            raise AttributeError(f"flash-train {self.command} has no option {name!r}") from None

    def given(self, name: str) -> bool:
        """Whether ``name`` was given (flag, config) or settled by the command, rather than left to the task."""
        return name in self.given_names

    def replace(self, **settled: Any) -> RunOptions:
        """A copy with ``settled`` options changed (they count as given: the task receives them)."""
        unknown = sorted(set(settled) - set(self.values))
        if unknown:
            raise KeyError(f"flash-train {self.command} has no options {unknown}")
        return dataclasses.replace(
            self, values=MappingProxyType({**self.values, **settled}), given_names=self.given_names | set(settled)
        )

    def as_config(self) -> dict[str, Any]:
        """The options as ``--config`` reads them back (config.yaml): file and folder paths absolute."""
        values = {key: value for key, value in sorted(self.values.items()) if key not in NOT_IN_CONFIG}
        for key in PATH_OPTIONS:
            if values.get(key):
                values[key] = os.path.abspath(values[key])
        return values


class UserError(Exception):
    """A mistake in the command line, a config file or the data: reported in one line, exit status 2."""


class HelpFormatter(argparse.ArgumentDefaultsHelpFormatter, argparse.RawDescriptionHelpFormatter):
    """Defaults after each flag's help, and descriptions/examples printed as written."""


class Parser(argparse.ArgumentParser):
    """argparse, but errors are one line that says where to look."""

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        kwargs.setdefault("formatter_class", HelpFormatter)
        super().__init__(*args, **kwargs)

    def error(self, message: str) -> NoReturn:
        print(f"{self.prog}: error: {message} (see {self.prog} --help)", file=sys.stderr)
        raise SystemExit(2)


def plain(docstring: str | None) -> str:
    """A module docstring as help text: without the reStructuredText ``double backticks``."""
    return (docstring or "").replace("``", "").strip()


def positive_float(text: str) -> float:
    value = float(text)  # argparse turns the ValueError into "invalid positive_float value: 'x'"
    if not math.isfinite(value) or value <= 0:
        raise argparse.ArgumentTypeError(f"must be a finite number > 0 (e.g. 1e-3), got {text}")
    return value


def positive_int(text: str) -> int:
    value = int(text)  # argparse turns the ValueError into "invalid positive_int value: 'x'"
    if value < 1:
        raise argparse.ArgumentTypeError(f"must be a whole number >= 1, got {text}")
    return value


def non_negative_int(text: str) -> int:
    value = int(text)
    if value < 0:
        raise argparse.ArgumentTypeError(f"must be a whole number >= 0, got {text}")
    return value


def workers(text: str) -> int | str:
    """``--num-workers``: ``auto`` or a whole number >= 0."""
    if text == "auto":
        return text
    if not text.isdigit():
        raise argparse.ArgumentTypeError(f"must be auto or a whole number >= 0, got {text}")
    return int(text)


def lr_find_steps(text: str) -> int:
    """``--auto-lr STEPS``: the range test needs two optimizer steps at the least (a first and a last rate)."""
    if not text.isdigit() or int(text) < 2:
        raise argparse.ArgumentTypeError(f"must be a whole number >= 2 (optimizer steps), got {text}")
    return int(text)


def seed(text: str) -> int:
    value = int(text)
    if not 0 <= value <= MAX_SEED:
        raise argparse.ArgumentTypeError(f"must be between 0 and {MAX_SEED}, got {text}")
    return value


def time_budget(text: str) -> str:
    """A ``--time-budget`` duration, checked now (``10m``, ``90s``, ``1h30m``, ``DD:HH:MM:SS`` or seconds)."""
    from flashtrain.core.callbacks.time_budget import parse_time_budget

    try:
        parse_time_budget(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"{text!r} is not a duration; use e.g. 10m, 90s, 1h30m or 600") from None
    return text


VAL_SPLIT_BY_HELP = (
    "a column of the training table naming each row's group (patient, author, site): the validation split holds out "
    "whole groups, so no group is both trained and validated on"
)


def add_trainer_flags(parser: argparse.ArgumentParser, command: str, batch_size: int | None) -> None:
    """The flags every task command shares; those of the task's recipe default to the task class's own values.
    ``batch_size``: the task data class's default (a literal here: --help must not import the data class, which
    imports torch; tests/cli/test_recipe.py checks that they agree); None: the data class chooses from the data (the
    help says how)."""
    group = parser.add_argument_group("training")
    group.add_argument("--config", help="YAML file with any of these options, e.g. a run's config.yaml (flags win)")
    group.add_argument(
        "--resume",
        metavar="RUN_DIR|CKPT|last",
        help="continue an interrupted run: its folder (.../logs/version_N), a .ckpt file, or 'last' (the newest run "
        "under --output-dir); the run's config.yaml supplies the other options",
    )
    group.add_argument(
        "--strict-resume",
        action="store_true",
        help="with --resume: refuse a checkpoint trained on other data (files, sizes, rows, labels) instead of warning",
    )
    group.add_argument(
        "--max-epochs", type=positive_int, default=task_default(command, "max_epochs"), help="epochs to train"
    )
    group.add_argument(
        "--time-budget",
        type=time_budget,
        default=None,
        metavar="DURATION",
        help="train for this long (e.g. 10m, 90s, 1h30m): the pace is measured and the learning-rate schedule "
        "planned to end on time (--max-epochs is then not used)",
    )
    group.add_argument(
        "--strict", action="store_true", help="refuse to train when the data check finds a problem (it warns)"
    )
    batch_help = "samples per batch" if batch_size else "rows per batch (default None: 64, fewer on small tables)"
    group.add_argument("--batch-size", type=positive_int, default=batch_size, help=batch_help)
    group.add_argument(
        "--learning-rate",
        type=positive_float,
        default=task_default(command, "learning_rate"),
        help="the head's learning rate",
    )
    group.add_argument(
        "--optimizer",
        default=task_default(command, "optimizer", "name"),
        help="any torch.optim name: adam, adamw, sgd, rmsprop, ...",
    )
    group.add_argument(
        "--weight-decay",
        type=float,
        default=task_default(command, "optimizer", "weight_decay"),
        help="the optimizer's weight decay (not given: the task's with the task's optimizer, else the optimizer's "
        "own default)",
    )
    group.add_argument(
        "--lr-scheduler",
        default=task_default(command, "lr_scheduler"),
        help="onecycle, cosine, step, linear_warmup, none, or any torch / transformers schedule name that needs "
        "no other arguments",
    )
    group.add_argument("--class-weights", choices=["balanced"], default=None, help="weight classes by their counts")
    group.add_argument(
        "--calibrate",
        choices=["temperature"],
        default=None,
        help="classifiers: fit a temperature on the validation split (calibrated probabilities, same labels)",
    )
    group.add_argument(
        "--decision-threshold",
        type=decision_threshold,
        default=None,
        help="binary / multi-label classifiers: f1 or balanced_accuracy (tuned on the validation split), or a number",
    )
    group.add_argument("--metrics", default=None, help="extra metrics, comma-separated (e.g. f1,precision / mae,r2)")
    group.add_argument(
        "--finetune-strategy",
        default="no_freeze",
        help="no_freeze, freeze, freeze_unfreeze:EPOCH or unfreeze_milestones:E1,E2,N",
    )
    group.add_argument(
        "--early-stopping",
        type=positive_int,
        default=None,
        metavar="PATIENCE",
        help="stop when the validation metric has not improved for PATIENCE epochs (needs validation data)",
    )
    group.add_argument(
        "--gpus", type=positive_int, default=None, help="number of GPUs (shorthand for --accelerator gpu)"
    )
    group.add_argument("--accelerator", default="auto", help="auto, cpu, gpu, mps or tpu")
    group.add_argument(
        "--devices",
        default="auto",
        help="device count, list of indices (0,1), -1 (every GPU; on the CPU one process per core) or auto",
    )
    group.add_argument("--strategy", default="auto", help="auto or a distributed strategy such as ddp")
    group.add_argument(
        "--precision",
        default="auto",
        help="auto (bf16-mixed on GPUs with bfloat16, else 16-mixed with gradient scaling on CUDA; 32-true on CPU), "
        "32-true, 64-true, bf16-mixed or 16-mixed",
    )
    group.add_argument(
        "--num-workers",
        type=workers,
        default="auto",
        help="DataLoader worker processes; auto: the usable cores minus one for image files (at most 8), 0 for data "
        "held in memory (text, tables)",
    )
    group.add_argument(
        "--seed", type=seed, default=0, help="seed for weights, data split and order: same seed, same run"
    )
    group.add_argument(
        "--output-dir", default=None, help="where logs, checkpoints and config.yaml go (default: runs/<command>)"
    )
    group.add_argument(
        "--logger",
        default="tensorboard",
        choices=["tensorboard", "csv", "mlflow", "wandb", "none"],
        help="where metrics go (mlflow: $MLFLOW_TRACKING_URI or OUTPUT_DIR/mlflow.db; wandb: offline unless "
        "WANDB_MODE=online)",
    )
    group.add_argument(
        "--auto-lr",
        nargs="?",
        type=lr_find_steps,
        const=100,
        default=None,
        metavar="STEPS",
        help="run the learning-rate finder first (STEPS optimizer steps, default 100) and train at its suggestion; "
        "its curve goes to lr_find.csv / lr_find.png in the log folder",
    )
    group.add_argument(
        "--weight-averaging",
        default=None,
        help="ema, ema:DECAY, swa or swa:SWA_LR: validate, checkpoint and finish on averaged weights",
    )
    group.add_argument(
        "--compile",
        action="store_true",
        help="torch.compile the backbone (every task; the first step compiles and is reported apart)",
    )


def resolve_options(parser: argparse.ArgumentParser, argv: list[str]) -> RunOptions:
    """``argv`` resolved once: values from ``--config`` (or, with ``--resume``, the run's config.yaml) become
    defaults that explicit flags override, and flags left out take the task's declared defaults. With ``--resume``,
    ``resume_checkpoint`` is the checkpoint to continue."""
    args = parser.parse_args(argv)
    resume = getattr(args, "resume", None)
    checkpoint, run_config = (
        resolve_resume(resume, args.output_dir or default_output_dir(args.task)) if resume else (None, None)
    )
    config = getattr(args, "config", None) or run_config
    if config:
        command_parser = _command_parser(parser, args.command)
        command_parser.set_defaults(**read_config(config, command_parser, args.command))
        args = parser.parse_args(argv)
    return RunOptions.from_namespace(args, resume_checkpoint=checkpoint)


def require_checkpoint(path: str) -> None:
    """Refuse a ``--checkpoint`` that is neither a checkpoint file nor a pretrained folder / ``hf://`` name."""
    from flashtrain.tasks.pretrained import is_pretrained_reference

    if os.path.isfile(path) or is_pretrained_reference(path):
        return
    kind = "no such file" if not os.path.exists(path) else "not a regular file (a folder, FIFO or device)"
    raise UserError(f"--checkpoint {path}: {kind}")


def default_output_dir(task: str) -> str:
    return os.path.join("runs", task)


def read_config(path: str, parser: argparse.ArgumentParser, command: str) -> dict[str, Any]:
    """The options in a YAML file, each checked and converted as the flag would be."""
    import yaml

    try:
        with open(path) as handle:
            values = yaml.safe_load(handle) or {}
    except OSError as error:
        raise UserError(f"cannot read --config {path}: {error.strerror}") from None
    except yaml.YAMLError as error:
        raise UserError(f"--config {path} is not valid YAML: {str(error).splitlines()[0]}") from None
    if not isinstance(values, dict):
        raise UserError(f"--config {path} must hold a mapping of option: value.")
    normalised = {str(key).replace("-", "_"): value for key, value in values.items()}
    normalised.pop(PLAN_KEY, None)  # what a time budget planned: a record of the run, not an option
    task = normalised.pop("task", command)
    if task != command:
        raise UserError(f"--config {path} is the config of a {task} run; use it with flash-train {task}.")
    actions = {action.dest: action for action in parser._actions if action.dest not in ("help", *NOT_IN_CONFIG)}
    unknown = sorted(set(normalised) - set(actions))
    if unknown:
        raise UserError(f"--config {path} has unknown options {unknown}; allowed: {sorted(actions)}")
    return {key: _config_value(actions[key], value, path) for key, value in normalised.items()}


def _config_value(action: argparse.Action, value: Any, path: str) -> Any:
    """``value`` as the flag would have parsed it, or a UserError naming the option and what it takes."""
    flag = action.option_strings[0] if action.option_strings else action.dest
    where = f"--config {path}: {action.dest}"
    if value is None:
        return None
    if isinstance(action, (argparse._StoreTrueAction, argparse.BooleanOptionalAction)):
        if not isinstance(value, bool):
            raise UserError(f"{where} must be true or false (like {flag}), got {value!r}")
        return value
    if not isinstance(value, (str, int, float)) or isinstance(value, bool) and action.type is not None:
        raise UserError(f"{where} must be a single value (like {flag} VALUE), got {value!r}")
    converted: Any = value
    if callable(action.type):  # our options' types are callables (argparse also allows registered names)
        try:
            converted = action.type(str(value))
        except (ValueError, argparse.ArgumentTypeError) as error:
            raise UserError(f"{where}: {value!r} is not valid for {flag} ({error or 'wrong type'})") from None
    elif not isinstance(value, str):
        converted = str(value)
    if action.choices is not None and converted not in action.choices:
        raise UserError(f"{where} must be one of {list(action.choices)}, got {value!r}")
    return converted


# The folder of a run's versions under --output-dir (<output_dir>/logs/version_N, the layout the README and --resume
# describe); the core Trainer's own default is Lightning's lightning_logs/.
RUNS_FOLDER = "logs"


def resolve_resume(value: str, output_dir: str) -> tuple[str, str | None]:
    """(the checkpoint to continue, the run's config.yaml if it has one) for ``--resume RUN_DIR|CKPT|last``."""
    if value == "last":
        found = _newest(os.path.join(output_dir, RUNS_FOLDER, "version_*", "checkpoints", "last.ckpt"))
        if found is None:
            raise UserError(
                f"--resume last: no run with a last.ckpt under {output_dir}/logs/ (pass --output-dir of the run, or "
                "its folder .../logs/version_N)"
            )
        checkpoint = found
    elif os.path.isfile(value):
        checkpoint = value
    elif os.path.isdir(value):
        runs = f"{RUNS_FOLDER}/*/checkpoints/last.ckpt"
        patterns = ("last.ckpt", "checkpoints/last.ckpt", "*/checkpoints/last.ckpt", runs)
        found = next((f for p in patterns if (f := _newest(os.path.join(value, p))) is not None), None)
        if found is None:
            raise UserError(f"--resume {value}: no last.ckpt in this folder, its checkpoints/ or its runs' folders")
        checkpoint = found
    elif os.path.exists(value):
        raise UserError(f"--resume {value}: not a regular file (a FIFO or device); pass a run folder or a .ckpt file")
    else:
        raise UserError(f"--resume {value}: no such run folder or checkpoint; pass .../logs/version_N, a .ckpt or last")
    folder = os.path.dirname(os.path.abspath(checkpoint))
    run_folder = os.path.dirname(folder) if os.path.basename(folder) == "checkpoints" else folder
    config = os.path.join(run_folder, "config.yaml")
    return checkpoint, config if os.path.isfile(config) else None


def _newest(pattern: str) -> str | None:
    files = glob.glob(pattern)
    return max(files, key=os.path.getmtime) if files else None


def _command_parser(parser: argparse.ArgumentParser, command: str) -> argparse.ArgumentParser:
    for action in parser._actions:
        if isinstance(action, argparse._SubParsersAction):
            return action.choices.get(command, parser)
    return parser


def command_parser(parser: argparse.ArgumentParser, command: str | None) -> argparse.ArgumentParser:
    """The sub-parser of ``command`` (the top parser if there is none)."""
    return _command_parser(parser, command) if command else parser


def parse_finetune_strategy(text: str) -> Any:
    """``freeze_unfreeze:3`` -> ("freeze_unfreeze", 3); ``unfreeze_milestones:2,4,1`` -> (..., ((2, 4), 1))."""
    name, _, argument = text.partition(":")
    try:
        if name == "freeze_unfreeze" and argument:
            return name, int(argument)
        if name == "unfreeze_milestones" and argument:
            first, second, count = (int(part) for part in argument.split(","))
            return name, ((first, second), count)
    except ValueError:
        pass
    if name in ("no_freeze", "freeze") and not argument:
        return name
    raise UserError(
        f"--finetune-strategy {text!r} is not valid; use no_freeze, freeze, freeze_unfreeze:EPOCH or "
        "unfreeze_milestones:E1,E2,N"
    )


def decision_threshold(text: str) -> str | float:
    """``--decision-threshold``: a criterion name, or a probability in (0, 1)."""
    if text in ("f1", "balanced_accuracy"):
        return text
    try:
        value = float(text)
    except ValueError:
        raise argparse.ArgumentTypeError(
            f"expected f1, balanced_accuracy or a number in (0, 1), got {text!r}"
        ) from None
    if not 0 < value < 1:
        raise argparse.ArgumentTypeError(f"a threshold is a probability in (0, 1), got {text}")
    return value


def calibration_options(args: Any) -> dict[str, Any]:
    """The classifier arguments of ``--calibrate`` and ``--decision-threshold`` (none when not given)."""
    chosen = {"calibrate": args.calibrate, "decision_threshold": args.decision_threshold}
    return {name: value for name, value in chosen.items() if value is not None}
