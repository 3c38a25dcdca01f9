"""Flags shared by every task command, the ``--config`` file, ``--resume``, and the help layout.

Nothing here imports torch: ``flash-train --help`` must stay instant.
"""

from __future__ import annotations

import argparse
import glob
import os
import sys
from typing import Any, NoReturn

from flashtrain.cli.recipe import task_default

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
NOT_IN_CONFIG = ("run", "config", "command", "resume", "resume_checkpoint", "task")


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
        "--max-epochs", type=positive_int, default=task_default(command, "max_epochs"), help="epochs to train"
    )
    batch_help = "samples per batch" if batch_size else "rows per batch (default None: 64, fewer on small tables)"
    group.add_argument("--batch-size", type=positive_int, default=batch_size, help=batch_help)
    group.add_argument(
        "--learning-rate", type=float, default=task_default(command, "learning_rate"), help="the head's learning rate"
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
    group.add_argument("--devices", default="auto", help="device count, list or auto")
    group.add_argument("--strategy", default="auto", help="auto or a distributed strategy such as ddp")
    group.add_argument("--precision", default="32-true", help="32-true, 64-true, bf16-mixed or 16-mixed")
    group.add_argument("--num-workers", type=non_negative_int, default=0, help="DataLoader worker processes")
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


def apply_config_file(parser: argparse.ArgumentParser, argv: list[str]) -> argparse.Namespace:
    """Parse ``argv``; values from ``--config`` (or, with ``--resume``, the run's config.yaml) become defaults
    that explicit flags override. With ``--resume``, ``args.resume_checkpoint`` is the checkpoint to continue."""
    args = parser.parse_args(argv)
    resume = getattr(args, "resume", None)
    checkpoint, run_config = (
        resolve_resume(resume, args.output_dir or default_output_dir(args.task)) if resume else ("", None)
    )
    config = getattr(args, "config", None) or run_config
    if config:
        command_parser = _command_parser(parser, args.command)
        command_parser.set_defaults(**read_config(config, command_parser, args.command))
        args = parser.parse_args(argv)
    if resume:
        args.resume_checkpoint = checkpoint
    return args


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


def resolve_resume(value: str, output_dir: str) -> tuple[str, str | None]:
    """(the checkpoint to continue, the run's config.yaml if it has one) for ``--resume RUN_DIR|CKPT|last``."""
    if value == "last":
        found = _newest(os.path.join(output_dir, "logs", "version_*", "checkpoints", "last.ckpt"))
        if found is None:
            raise UserError(
                f"--resume last: no run with a last.ckpt under {output_dir}/logs/ (pass --output-dir of the run, or "
                "its folder .../logs/version_N)"
            )
        checkpoint = found
    elif os.path.isfile(value):
        checkpoint = value
    elif os.path.isdir(value):
        patterns = ("last.ckpt", "checkpoints/last.ckpt", "*/checkpoints/last.ckpt", "logs/*/checkpoints/last.ckpt")
        found = next((f for p in patterns if (f := _newest(os.path.join(value, p))) is not None), None)
        if found is None:
            raise UserError(f"--resume {value}: no last.ckpt in this folder, its checkpoints/ or its runs' folders")
        checkpoint = found
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


def calibration_options(args: argparse.Namespace) -> dict[str, Any]:
    """The classifier arguments of ``--calibrate`` and ``--decision-threshold`` (none when not given)."""
    chosen = {"calibrate": args.calibrate, "decision_threshold": args.decision_threshold}
    return {name: value for name, value in chosen.items() if value is not None}
