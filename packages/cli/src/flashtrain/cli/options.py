"""Flags shared by every task command, the ``--config`` file, and the one-line error convention.

Nothing here imports torch: ``flash-train --help`` must stay instant.
"""

from __future__ import annotations

import argparse
import sys
from typing import Any, NoReturn


class UserError(Exception):
    """A mistake in the command line, a config file or the data: reported in one line, exit status 2."""


class Parser(argparse.ArgumentParser):
    """argparse, but errors are one line that says where to look."""

    def error(self, message: str) -> NoReturn:
        print(f"{self.prog}: error: {message} (see {self.prog} --help)", file=sys.stderr)
        raise SystemExit(2)


def add_trainer_flags(parser: argparse.ArgumentParser, max_epochs: int = 10) -> None:
    group = parser.add_argument_group("training")
    group.add_argument("--config", help="YAML file with any of these options (command-line flags win)")
    group.add_argument("--max-epochs", type=int, default=max_epochs, help=f"epochs to train (default {max_epochs})")
    group.add_argument("--batch-size", type=int, default=64)
    group.add_argument("--learning-rate", type=float, default=1e-3)
    group.add_argument("--optimizer", default="adam", help="adam, adamw, sgd or rmsprop")
    group.add_argument(
        "--lr-scheduler",
        default="cosine",
        choices=["cosine", "step", "linear_warmup", "none"],
        help="learning-rate schedule over the run (default: cosine decay)",
    )
    group.add_argument(
        "--finetune-strategy",
        default="no_freeze",
        help="no_freeze, freeze, freeze_unfreeze:EPOCH or unfreeze_milestones:E1,E2,N",
    )
    group.add_argument("--gpus", type=int, default=None, help="number of GPUs (shorthand for --accelerator gpu)")
    group.add_argument("--accelerator", default="auto", help="auto, cpu, gpu, mps or tpu")
    group.add_argument("--devices", default="auto", help="device count, list or auto")
    group.add_argument("--strategy", default="auto", help="auto or a distributed strategy such as ddp")
    group.add_argument("--precision", default="32-true", help="32-true, 64-true, bf16-mixed or 16-mixed")
    group.add_argument("--num-workers", type=int, default=0, help="DataLoader worker processes")
    group.add_argument("--seed", type=int, default=0)
    group.add_argument("--output-dir", default=None, help="where logs, checkpoints and the resolved config go")
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
        type=int,
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
    """Parse ``argv``; values from ``--config`` become defaults that explicit flags override."""
    args = parser.parse_args(argv)
    if not getattr(args, "config", None):
        return args
    import yaml

    try:
        with open(args.config) as handle:
            values = yaml.safe_load(handle) or {}
    except OSError as error:
        raise UserError(f"cannot read --config {args.config}: {error.strerror}") from None
    except yaml.YAMLError as error:
        raise UserError(f"--config {args.config} is not valid YAML: {str(error).splitlines()[0]}") from None
    if not isinstance(values, dict):
        raise UserError(f"--config {args.config} must hold a mapping of option: value.")
    command_parser = _command_parser(parser, args.command)
    known = {action.dest for action in command_parser._actions} - {"help", "config"}
    normalised = {str(key).replace("-", "_"): value for key, value in values.items()}
    unknown = sorted(set(normalised) - known)
    if unknown:
        raise UserError(f"--config {args.config} has unknown options {unknown}; allowed: {sorted(known)}")
    command_parser.set_defaults(**normalised)
    return parser.parse_args(argv)


def _command_parser(parser: argparse.ArgumentParser, command: str) -> argparse.ArgumentParser:
    for action in parser._actions:
        if isinstance(action, argparse._SubParsersAction):
            return action.choices[command]
    return parser


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
