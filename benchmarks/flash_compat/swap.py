"""The import swap a Flash user makes, and the harness's data stand-ins, applied to a case's source text.

The user's part (the only change to their code):

- ``import flash`` -> ``import flashtrain.core as flash``; ``from flash import X`` -> ``from flashtrain.core import X``;
- ``flash.image`` / ``flash.text`` / ``flash.tabular`` -> ``flashtrain.tasks``;
- ``flash.core...`` modules by :data:`MODULE_ALIASES` (a module missing there stays as it was and fails to import:
  that case then counts as failing, which is the point);
- Flash Zero's ``flash TASK ...`` -> ``flash-train TASK ...``.

The harness's part (the machine is offline; nothing of the user's logic changes): ``download_data(...)`` becomes
a no-op (its data are already in ``data/``), ``https://pl-flash-data.s3.amazonaws.com/<path>`` a local file
``data/<path>``, ``https://flash-weights.s3.amazonaws.com/<path>`` the harness's local HTTP server (stand-in
checkpoints trained by flashtrain on the stand-in data, so loading from a URL is still exercised),
``flash.ASSETS_ROOT`` the stand-in ``assets/`` folder, and torchvision's ``CIFAR10`` a stand-in of the same form.
"""

from __future__ import annotations

import re

MODULE_ALIASES = {
    "flash.core.classification": "flashtrain.tasks.outputs",
    "flash.core.data.io.output": "flashtrain.tasks.outputs",
    "flash.core.finetuning": "flashtrain.core.callbacks",
    "flash.core.trainer": "flashtrain.core",
    "flash.core.model": "flashtrain.tasks.task",
    "flash.core.registry": "flashtrain.tasks.registry",
}
# A name whose flashtrain home differs from its Flash module's alias above.
NAME_ALIASES = {
    ("flash.core.classification", "ClassificationTask"): "flashtrain.tasks.task",
    ("flash.core.finetuning", "FlashBaseFinetuning"): "flashtrain.core.callbacks",
}
TASK_PACKAGES = ("image", "text", "tabular")


def _swap_from_import(match: re.Match) -> str:
    indent, module, names = match.group(1), match.group(2), match.group(3)
    lines = []
    for name in (n.strip() for n in names.strip("()").replace("\n", " ").split(",")):
        if name:
            home = NAME_ALIASES.get((module, name.split(" as ")[0])) or MODULE_ALIASES.get(module, module)
            lines.append(f"{indent}from {home} import {name}")
    return "\n".join(lines)


def swap_imports(code: str) -> str:
    code = re.sub(r"^(\s*)import flash\s*$", r"\1import flashtrain.core as flash", code, flags=re.M)
    code = re.sub(r"^(\s*)from flash import ", r"\1from flashtrain.core import ", code, flags=re.M)
    for package in TASK_PACKAGES:
        code = re.sub(rf"\bflash\.{package}(\.[\w.]+)?(?=\s+import\b)", "flashtrain.tasks", code)
    code = re.sub(r"^(\s*)from (flash\.core[\w.]*) import (\([^)]*\)|[^\n]+)$", _swap_from_import, code, flags=re.M)
    return code


def stand_in_data(code: str, weights_url: str) -> str:
    code = re.sub(r"^\s*from flash\.core\.data\.utils import download_data\s*$", "", code, flags=re.M)
    code = re.sub(r"\bdownload_data\(", "(lambda *args, **kwargs: None)(", code)
    code = re.sub(r"https://pl-flash-data\.s3\.amazonaws\.com/", "data/", code)
    code = code.replace("https://flash-weights.s3.amazonaws.com/", weights_url.rstrip("/") + "/")
    code = code.replace("flash.ASSETS_ROOT", "'assets'")
    code = re.sub(r"^from torchvision\.datasets import CIFAR10$", "from standins import CIFAR10", code, flags=re.M)
    return code


def swap_command(command: str) -> str:
    return re.sub(r"^flash\b", "flash-train", command)
