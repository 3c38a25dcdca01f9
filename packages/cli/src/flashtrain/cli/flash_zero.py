"""Flash Zero's command syntax, read as ``flash-train``'s flags (an alternate spelling; no torch imported here).

Flash Zero is a jsonargparse CLI: ``--trainer.*`` and ``--model.*`` groups, then a data-constructor subcommand
with snake_case flags::

    flash image_classification --trainer.max_epochs 1 --model.backbone resnet18 from_folders --train_folder data/train
    flash-train image_classification --max-epochs 1 --backbone resnet18 --train-folder data/train   # the same run

``--trainer.NAME`` and ``--model.NAME`` become ``--NAME`` (dashes for underscores), so a name flash-train lacks is
refused by the parser like any unknown flag. ``from_folders`` / ``from_files`` / ``from_csv`` / ``from_json`` /
``from_parquet`` only say where the data is, which flash-train's data flags already say, so the subcommand word is
dropped. Flash's sample-data subcommands (``from_movie_posters``, ``from_toxic``, ...) download Flash's datasets;
flashtrain downloads nothing at run time, so they are refused with the flags to use instead.
``--print_config`` prints the resolved options as YAML (what ``--config`` reads back) and exits.
"""

from __future__ import annotations

import sys
from dataclasses import dataclass

from flashtrain.cli.options import RunOptions, UserError

GROUPS = ("--trainer.", "--model.", "--data.")
DATA_CONSTRUCTORS = ("from_folders", "from_files", "from_csv", "from_json", "from_parquet")


@dataclass(frozen=True)
class Translated:
    argv: list[str]
    print_config: bool = False


def is_flash_zero(argv: list[str]) -> bool:
    """Whether ``argv`` (after the command) uses any of Flash Zero's spellings."""
    return any(
        token.startswith(GROUPS) or token.startswith("from_") or token.split("=")[0] == "--print_config"
        for token in argv[1:]
    )


def command_aliases() -> dict[str, str]:
    """Flash Zero's other command names (the registry's ``flash_zero_names``) -> the task's name."""
    from flashtrain.tasks import registry

    return {alias: spec.name for spec in registry.tasks() for alias in spec.flash_zero_names}


def translate(argv: list[str]) -> Translated:
    """``argv`` with Flash Zero's spellings turned into flash-train's; unchanged when it uses none of them."""
    aliases = command_aliases()
    if argv and argv[0] in aliases:
        argv = [aliases[argv[0]], *argv[1:]]
    if not argv or not is_flash_zero(argv):
        return Translated(list(argv))
    command, rest = argv[0], argv[1:]
    translated, print_config = [command], False
    for token in rest:
        name, equals, value = token.partition("=")
        if name == "--print_config":
            print_config = True
        elif token.startswith("from_"):
            if token not in DATA_CONSTRUCTORS:
                raise UserError(
                    f"Flash Zero's {token!r} downloads Flash's sample dataset; flashtrain downloads nothing at run "
                    f"time. Run `flash-train {command}` for the bundled sample, or name your data with "
                    f"{' / '.join(DATA_CONSTRUCTORS)} and --train_folder / --train_file (see flash-train {command} "
                    "--help)."
                )
        elif name.startswith(GROUPS):
            flag = "--" + name.split(".", 1)[1].replace("_", "-")
            translated.append(flag + equals + value if equals else flag)
        elif name.startswith("--"):
            flag = "--" + name[2:].replace("_", "-")
            translated.append(flag + equals + value if equals else flag)
        else:
            translated.append(token)
    return Translated(translated, print_config)


def print_config(options: RunOptions) -> int:
    """Flash Zero's ``--print_config``: the resolved options as the YAML that ``--config`` reads back."""
    import yaml

    yaml.safe_dump(options.as_config(), sys.stdout, sort_keys=False)
    return 0
