"""``flash-train``: parse, build, call. Importing this module must not import torch (``--help`` stays fast)."""

from __future__ import annotations

import os
import sys
from importlib import metadata

from flashtrain.cli.commands import (
    backbones,
    export,
    image_classification,
    predict,
    serve,
    tabular,
    text_classification,
)
from flashtrain.cli.options import Parser, UserError, apply_config_file

COMMANDS = (image_classification, text_classification, tabular, predict, export, serve, backbones)


def build_parser() -> Parser:
    parser = Parser(prog="flash-train", description="Train a baseline model from a few flags, or predict with one.")
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
    try:
        args = apply_config_file(parser, argv)
        args.run(args)
    except (UserError, ValueError, TypeError, FileNotFoundError, RuntimeError, ImportError) as error:
        # Mistakes in flags, files or data, or a missing extra: one line, no traceback. FLASHTRAIN_DEBUG=1 shows it.
        if os.environ.get("FLASHTRAIN_DEBUG"):
            raise
        message = str(error).strip().splitlines()[0] if str(error).strip() else type(error).__name__
        print(f"flash-train: error: {message}", file=sys.stderr)
        return 2
    except KeyboardInterrupt:
        print("flash-train: interrupted", file=sys.stderr)
        return 130
    return 0


if __name__ == "__main__":
    sys.exit(main())
