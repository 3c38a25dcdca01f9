"""``flash-train``: parse, build, call. Importing this module must not import torch (``--help`` stays fast)."""

from __future__ import annotations

import sys
from importlib import metadata

from flashtrain.cli.commands import (
    backbones,
    export,
    image_classification,
    predict,
    push,
    serve,
    tabular,
    text_classification,
)
from flashtrain.cli.errors import report
from flashtrain.cli.options import Parser, apply_config_file, command_parser

COMMANDS = (image_classification, text_classification, tabular, predict, export, serve, push, backbones)
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
    for command in COMMANDS:
        command.add_parser(subparsers)
    return parser


def _version() -> str:
    try:
        return metadata.version("flashtrain-cli")
    except metadata.PackageNotFoundError:
        return "unknown"


def main(argv: list[str] | None = None) -> int:
    argv = sys.argv[1:] if argv is None else argv
    parser = build_parser()
    args = None
    try:
        args = apply_config_file(parser, argv)
        args.run(args)
    except KeyboardInterrupt:
        print("flash-train: interrupted", file=sys.stderr)
        return 130
    except Exception as error:  # noqa: BLE001 - errors.report is the one place that decides what the user sees
        command = getattr(args, "command", None) or (argv[0] if argv else None)
        return report(error, command_parser(parser, command))
    return 0


if __name__ == "__main__":
    sys.exit(main())
