"""``--backbone`` from the command line to the model, in one place: the flag (its default the task's declared one,
so ``--help`` shows it), the check against the task's list, and what a run settles (a local model folder made
absolute, the bundled sample's offline backbone). The settled value travels in the options, so config.yaml records
what the model was built with; the model receives it through ``model_options`` only when it was given or settled.
"""

from __future__ import annotations

import os
from typing import Any

from flashtrain.cli.errors import unknown_name
from flashtrain.cli.options import RunOptions
from flashtrain.cli.recipe import given, task_default
from flashtrain.tasks import registry


def add_backbone_flag(group: Any, task: str, help: str) -> None:
    """``--backbone`` for the command of ``task``, defaulting to the backbone the task declares in the registry."""
    group.add_argument("--backbone", default=task_default(task, "backbone"), help=help)


def check_backbone(options: RunOptions) -> None:
    """A given backbone the task cannot build is refused with the nearest names, before any data is read (a task
    with no list, e.g. any Hugging Face model, accepts any name)."""
    spec = registry.get(options.task)
    if not given(options, "backbone") or spec.backbones is None:
        return
    backbones = spec.load("backbones")()
    name = options.backbone
    if not known_backbone(name, backbones):
        listing = f"flash-train backbones {options.task} --filter {name[:4]}" if len(backbones) > 20 else None
        raise unknown_name("--backbone", name, backbones, listing)


def known_backbone(name: str, backbones: list[str]) -> bool:
    """``name`` is listed, also as timm spells it with a ``timm/`` prefix or a pretrained tag (resnet18.a1_in1k)."""
    plain = name.removeprefix("timm/")
    return name in backbones or plain.split(".")[0] in backbones and not plain.startswith("torchvision/")


def settle_backbone(options: RunOptions, sample_backbone: str | None = None) -> RunOptions:
    """The backbone the run builds, settled once: a given local folder made absolute (config.yaml then works from
    any folder); none given and the run on bundled sample data with an offline backbone of its own
    (``sample_backbone``): that one; otherwise the options unchanged (the task's declared default)."""
    if given(options, "backbone"):
        name = options.backbone
        return options.replace(backbone=os.path.abspath(name)) if os.path.isdir(name) else options
    return options.replace(backbone=sample_backbone) if sample_backbone is not None else options
