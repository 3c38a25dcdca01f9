"""Lightning's class paths in a LightningCLI config or flag, read as flashtrain's.

A project ported by changing its imports keeps its YAML configs, and those name Lightning's classes
(``class_path: lightning.pytorch.loggers.TensorBoardLogger``), as may its shell scripts
(``--trainer.callbacks+=lightning.pytorch.callbacks.EarlyStopping``). jsonargparse imports a class path as
written, so these would fail with "No module named 'lightning'". The parser's YAML loader (every config file and
every flag value goes through it) rewrites such a string to the flashtrain class of the same public name; a name
flashtrain lacks is left as written, so jsonargparse's error names what the user wrote.
"""

from __future__ import annotations

import importlib
import re
from typing import Any

LIGHTNING_NAMES_MODE = "yaml_lightning_names"  # the parser_mode LightningArgumentParser uses by default
_LIGHTNING_PATH = re.compile(r"(?:lightning\.pytorch|pytorch_lightning)((?:\.[A-Za-z_]\w*)+)")


def flashtrain_class_path(path: str) -> str | None:
    """``flashtrain.core...`` for a Lightning class path flashtrain has (same module path, or its package's public
    name: ``lightning.pytorch.callbacks.early_stopping.EarlyStopping`` -> ``flashtrain.core.callbacks.EarlyStopping``);
    None for anything else."""
    match = _LIGHTNING_PATH.fullmatch(path)
    if match is None:
        return None
    parts = match.group(1).lstrip(".").split(".")
    candidates = [parts]
    if len(parts) > 2:
        candidates.append([parts[0], parts[-1]])  # the class from its public package
    for candidate in candidates:
        module_path = ".".join(["flashtrain.core", *candidate[:-1]])
        try:
            module = importlib.import_module(module_path)
        except ImportError:
            continue
        if isinstance(getattr(module, candidate[-1], None), type):
            return f"{module_path}.{candidate[-1]}"
    return None


def translate_lightning_names(value: Any) -> Any:
    """``value`` (as a YAML loader returns it) with every Lightning class path flashtrain has replaced."""
    if isinstance(value, str):
        return flashtrain_class_path(value) or value
    if isinstance(value, dict):
        return {key: translate_lightning_names(item) for key, item in value.items()}
    if isinstance(value, list):
        return [translate_lightning_names(item) for item in value]
    return value


def translate_flag(argument: str) -> str:
    """A command-line token with a Lightning class path flashtrain has made flashtrain's: the whole token
    (``--trainer.logger lightning.pytorch.loggers.CSVLogger``) or the value of ``--key=value`` / ``--key+=value``."""
    if not isinstance(argument, str):
        return argument
    key, equals, value = argument.partition("=")
    if equals and key.startswith("-"):
        return f"{key}={flashtrain_class_path(value) or value}"
    return flashtrain_class_path(argument) or argument


def register_loader() -> None:
    """Register :data:`LIGHTNING_NAMES_MODE` with jsonargparse: its YAML loader, then the translation."""
    import yaml
    from jsonargparse import get_loader, set_loader

    load_yaml = get_loader("yaml")
    set_loader(LIGHTNING_NAMES_MODE, lambda text: translate_lightning_names(load_yaml(text)), (yaml.YAMLError,))
