"""``flash-train``: parse, build, call. Importing this module must not import torch (``--help`` stays fast)."""

from __future__ import annotations

import importlib
import sys
from importlib import metadata

from flashtrain.cli import command_clock
from flashtrain.cli.commands import backbones, check, export, predict, push, serve
from flashtrain.cli.errors import report
from flashtrain.cli.flash_zero import print_config
from flashtrain.cli.flash_zero import translate as translate_flash_zero
from flashtrain.cli.options import Parser, RunOptions, command_parser, resolve_options
from flashtrain.tasks import registry

# The commands that are not a task's (each task's command comes from the task registry).
TOOLS = (predict, export, serve, push, backbones, check)
EXAMPLES = """examples:
  flash-train image_classification                       # bundled digits, offline, a few minutes
  flash-train image_classification --train-folder data/train --val-folder data/val --max-epochs 3
  flash-train tabular_classification --train-file t.csv --numerical-fields age,fare --target-field survived
  flash-train predict --checkpoint runs/image_classification/logs/version_0/checkpoints/best.ckpt --files a.png
  flash-train image_classification --resume last          # continue the newest interrupted run
  flash-train COMMAND --help                              # the flags of one command
"""


def build_parser() -> Parser:
    parser = Parser(
        prog="flash-train",
        description="Train a baseline model from a few flags, or predict with one.",
        epilog=EXAMPLES,
    )
    parser.add_argument("--version", action="version", version=f"flash-train {_version()}")
    subparsers = parser.add_subparsers(dest="command", required=True, parser_class=Parser, metavar="COMMAND")
    for spec in registry.tasks():
        importlib.import_module(spec.command).add_parser(subparsers, spec)
    for tool in TOOLS:
        tool.add_parser(subparsers)
    return parser


def _version() -> str:
    try:
        return metadata.version("flashtrain-cli")
    except metadata.PackageNotFoundError:
        return "unknown"


def main(argv: list[str] | None = None) -> int:
    with command_clock.running():  # a --time-budget counts from here: the command's parsing and imports are in it
        return _main(argv)


def _main(argv: list[str] | None) -> int:
    argv = sys.argv[1:] if argv is None else argv
    parser = build_parser()
    options: RunOptions | None = None
    try:
        flash_zero = translate_flash_zero(argv)  # Flash Zero's spelling of the same options, if used
        options = resolve_options(parser, flash_zero.argv)
        if flash_zero.print_config:
            return print_config(options)
        options.run(options)
    except KeyboardInterrupt:
        print("flash-train: interrupted", file=sys.stderr)
        return 130
    except SystemExit as stop:  # the Trainer ends a Ctrl-C'd fit with SystemExit(130), caused by the interrupt
        if not isinstance(stop.__cause__, KeyboardInterrupt):
            raise
        print("flash-train: interrupted", file=sys.stderr)
        return 130
    except Exception as error:  # noqa: BLE001 - errors.report is the one place that decides what the user sees
        command = options.command if options is not None else (argv[0] if argv else None)
        return report(error, command_parser(parser, command))
    return 0


if __name__ == "__main__":
    sys.exit(main())
