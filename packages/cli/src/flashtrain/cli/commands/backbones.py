"""``flash-train backbones image_classification --filter resnet``: list the backbones a task can use."""

from __future__ import annotations

import argparse
from typing import Any


def add_parser(subparsers: Any) -> None:
    parser = subparsers.add_parser("backbones", help="list backbones", description=__doc__)
    parser.add_argument("task", choices=["image_classification", "tabular_classification", "tabular_regression"])
    parser.add_argument("--filter", default=None, help="only names containing this text")
    parser.set_defaults(run=run)


def run(args: argparse.Namespace) -> list[str]:
    if args.task.startswith("tabular"):
        from flashtrain.tasks.tabular import available_tabular_backbones

        names = [name for name in available_tabular_backbones() if not args.filter or args.filter in name]
    else:
        from flashtrain.tasks import available_backbones

        names = available_backbones(args.filter)
    print("\n".join(names) if names else f"no backbone name contains {args.filter!r}")
    return names
