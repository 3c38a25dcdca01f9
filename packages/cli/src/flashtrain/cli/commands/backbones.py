"""``flash-train backbones image_classification --filter resnet``: list the backbones a task can use."""

from __future__ import annotations

from typing import Any

from flashtrain.cli.options import RunOptions
from flashtrain.tasks import registry


def add_parser(subparsers: Any) -> None:
    parser = subparsers.add_parser("backbones", help="list backbones", description=__doc__)
    listed = [spec.name for spec in registry.tasks() if spec.backbones is not None]  # text: any Hugging Face name
    parser.add_argument("task", choices=listed)
    parser.add_argument("--filter", default=None, help="only names containing this text")
    parser.set_defaults(run=run)


def run(args: RunOptions) -> list[str]:
    names = registry.get(args.task).load("backbones")(args.filter)
    print("\n".join(names) if names else f"no backbone name contains {args.filter!r}")
    return names
