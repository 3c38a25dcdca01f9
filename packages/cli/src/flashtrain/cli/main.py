"""``flash-train``: parse, build, call. Importing this module must not import torch (``--help`` stays fast)."""

from __future__ import annotations

import argparse
import sys
from importlib import metadata


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="flash-train",
        description="Train a baseline model from a few flags. Task subcommands (image_classification, ...) are "
        "added as the task packages land.",
    )
    parser.add_argument("--version", action="version", version=f"flash-train {_version()}")
    return parser


def _version() -> str:
    try:
        return metadata.version("flashtrain-cli")
    except metadata.PackageNotFoundError:
        return "unknown"


def main(argv: list[str] | None = None) -> int:
    parser = build_parser()
    parser.parse_args(argv)
    parser.print_help()
    return 0


if __name__ == "__main__":
    sys.exit(main())
