"""``LightningCLI``: a command line for a Module and a DataModule, read from their ``__init__`` signatures, as
Lightning 2.x's ``lightning.pytorch.cli`` (``pip install 'flashtrain-core[cli]'``).

    cli = LightningCLI(MyModel, MyDataModule)      # python main.py fit --model.lr 0.01 --trainer.max_epochs 3

Built on jsonargparse, the library Lightning's CLI is built on (it reads signatures and docstrings, YAML configs,
``class_path`` / ``init_args``, links between arguments); what is written here is the Lightning surface on top:
the ``model`` / ``data`` / ``trainer`` groups, the ``fit`` / ``validate`` / ``test`` / ``predict`` subcommands,
``--optimizer`` / ``--lr_scheduler`` replacing ``configure_optimizers``, ``SaveConfigCallback`` and the hooks a
subclass overrides. ``import flashtrain.core`` does not import this module (nor jsonargparse).
"""

from __future__ import annotations

import importlib
import inspect
import os
import sys
from functools import partial, update_wrapper
from types import MethodType
from typing import Any, NoReturn, Union

import torch
from torch.optim import Optimizer
from torch.optim.lr_scheduler import LRScheduler

from flashtrain.core.callbacks.base import Callback
from flashtrain.core.cli_class_paths import LIGHTNING_NAMES_MODE, register_loader, translate_flag
from flashtrain.core.datamodule import DataModule
from flashtrain.core.hparams import INSTANTIATOR_KEY, given_hyperparameters
from flashtrain.core.module import Module
from flashtrain.core.seed import seed_everything
from flashtrain.core.trainer.trainer import Trainer
from flashtrain.core.utilities import disk
from flashtrain.core.utilities.model_helpers import is_overridden
from flashtrain.core.version import __version__

try:
    from jsonargparse import ActionConfigFile, ArgumentParser, Namespace, class_from_function
    from jsonargparse import __version__ as jsonargparse_version
except ImportError as error:  # pragma: no cover - depends on the environment
    raise ImportError("flashtrain.core.cli needs jsonargparse: pip install 'flashtrain-core[cli]'.") from error

__all__ = [
    "LightningArgumentParser",
    "LightningCLI",
    "ReduceLROnPlateau",
    "SaveConfigCallback",
    "cli_lightning_logo",
    "instantiate_class",
    "instantiate_module",
]


class ReduceLROnPlateau(torch.optim.lr_scheduler.ReduceLROnPlateau):
    """torch's ``ReduceLROnPlateau`` with the metric it watches (``monitor``), so ``--lr_scheduler`` can choose it."""

    def __init__(self, optimizer: Optimizer, monitor: str, *args: Any, **kwargs: Any) -> None:
        super().__init__(optimizer, *args, **kwargs)
        self.monitor = monitor


SCHEDULER_TYPES = (LRScheduler, ReduceLROnPlateau)
# The saved config lists every option, None ones too (jsonargparse >= 4.49 calls this skip_unset, before skip_none).
_JSONARGPARSE_VERSION = tuple(int(part) for part in jsonargparse_version.split(".")[:2] if part.isdigit())
_KEEP_NONE_VALUES = {"skip_unset": False} if _JSONARGPARSE_VERSION >= (4, 49) else {"skip_none": False}
_LIGHTNING_CLASSES = (Trainer, Module, DataModule, Callback)
register_loader()


class LightningArgumentParser(ArgumentParser):
    """jsonargparse's parser with the Lightning groups: classes, an optimizer and a scheduler.

    A mistake in a flag or a config file ends the program with one line on stderr naming it (exit code 2).
    """

    def __init__(
        self,
        *args: Any,
        description: str = "flashtrain Trainer command line tool",
        env_prefix: str = "PL",
        default_env: bool = False,
        **kwargs: Any,
    ) -> None:
        kwargs.setdefault("parser_mode", LIGHTNING_NAMES_MODE)  # YAML, reading Lightning's class paths as ours
        super().__init__(*args, description=description, env_prefix=env_prefix, default_env=default_env, **kwargs)
        self.callback_keys: list[str] = []
        self.optimizer_groups: dict[str, tuple[Any, str]] = {}  # nested key -> (class or classes, link_to)
        self.lr_scheduler_groups: dict[str, tuple[Any, str]] = {}

    def parse_args(self, args: Any = None, *rest: Any, **kwargs: Any) -> Any:
        """jsonargparse's ``parse_args``; a flag value naming a Lightning class is read as flashtrain's (config
        files and dict args go through the parser's YAML loader, which does the same)."""
        if args is None:
            args = sys.argv[1:]
        return super().parse_args([translate_flag(arg) for arg in args], *rest, **kwargs)

    def error(self, message: str, *args: Any, **kwargs: Any) -> NoReturn:
        """One line naming the flag or config value at fault, then exit 2 (no usage block, no traceback)."""
        line = " ".join(str(message).split())
        sys.stderr.write(f"{self.prog}: error: {line}\n")
        raise SystemExit(2)

    def add_lightning_class_args(
        self, lightning_class: Any, nested_key: str, subclass_mode: bool = False, required: bool = True
    ) -> list[str]:
        """Options from a Trainer, Module, DataModule or Callback class (or a function returning one) under
        ``--<nested_key>.*``; returns the names added. A Callback group becomes one of the trainer's callbacks."""
        if callable(lightning_class) and not isinstance(lightning_class, type):
            lightning_class = class_from_function(lightning_class)
        if not (isinstance(lightning_class, type) and issubclass(lightning_class, _LIGHTNING_CLASSES)):
            raise TypeError(
                f"add_lightning_class_args cannot add {lightning_class!r}: give a subclass of Trainer, Module, "
                "DataModule or Callback, or a function returning one."
            )
        if issubclass(lightning_class, Callback):
            self.callback_keys.append(nested_key)
        if subclass_mode:
            return self.add_subclass_arguments(lightning_class, nested_key, fail_untyped=False, required=required)
        is_trainer = issubclass(lightning_class, Trainer)
        added = self.add_class_arguments(
            lightning_class,
            nested_key,
            fail_untyped=False,
            instantiate=not is_trainer,  # the CLI builds the Trainer with its callbacks
            sub_configs=True,
            skip={"logger"} if is_trainer else None,
        )
        if is_trainer:
            added.append(self._add_logger_argument(nested_key))
        return added

    def _add_logger_argument(self, trainer_key: str) -> str:
        """``--trainer.logger`` typed with the Logger class (the Trainer's signature says ``Any``, which keeps the
        Trainer module free of logger imports), so ``--trainer.logger CSVLogger --trainer.logger.save_dir d`` and a
        ``class_path`` in a config build a logger."""
        from flashtrain.core.loggers.base import Logger

        key = f"{trainer_key}.logger"
        self.add_argument(
            f"--{key}",
            type=Union[bool, Logger, list[Logger], None],  # noqa: UP007 - jsonargparse reads this type at run time
            default=None,
            help="A logger (class name or class_path), a list of them, True for the default logger, False for none.",
        )
        return key

    def add_optimizer_args(
        self, optimizer_class: Any = (Optimizer,), nested_key: str = "optimizer", link_to: str = "AUTOMATIC"
    ) -> None:
        """Options of an optimizer class (or, for a tuple, any subclass: ``--optimizer Adam``) under ``nested_key``."""
        self._add_optimization_group(optimizer_class, nested_key, link_to, Optimizer, "params")
        self.optimizer_groups[nested_key] = (optimizer_class, link_to)

    def add_lr_scheduler_args(
        self, lr_scheduler_class: Any = SCHEDULER_TYPES, nested_key: str = "lr_scheduler", link_to: str = "AUTOMATIC"
    ) -> None:
        """Options of a scheduler class (or, for a tuple, any subclass: ``--lr_scheduler StepLR``)."""
        self._add_optimization_group(lr_scheduler_class, nested_key, link_to, SCHEDULER_TYPES, "optimizer")
        self.lr_scheduler_groups[nested_key] = (lr_scheduler_class, link_to)

    def _add_optimization_group(self, classes: Any, key: str, link_to: str, base: Any, skip: str) -> None:
        members = classes if isinstance(classes, tuple) else (classes,)
        if not all(isinstance(c, type) and issubclass(c, base) for c in members):
            raise TypeError(f"--{key} takes subclasses of {base}, got {classes!r}.")
        options: dict[str, Any] = {"instantiate": False, "fail_untyped": False, "skip": {skip}}
        if isinstance(classes, tuple):
            self.add_subclass_arguments(classes, key, **options)
        else:
            self.add_class_arguments(classes, key, sub_configs=True, **options)
        if link_to != "AUTOMATIC":
            compute = None if isinstance(classes, tuple) else partial(_with_class_path, classes)
            self.link_arguments(key, link_to, compute_fn=compute)


class SaveConfigCallback(Callback):
    """Writes the run's full config (``config.yaml``) into the trainer's log folder when a stage starts, so the run
    can be repeated with ``--config``. Refuses to overwrite an existing file unless ``overwrite=True``."""

    def __init__(
        self,
        parser: LightningArgumentParser,
        config: Namespace,
        config_filename: str = "config.yaml",
        overwrite: bool = False,
        multifile: bool = False,
        save_to_log_dir: bool = True,
    ) -> None:
        self.parser = parser
        self.config = config
        self.config_filename = config_filename
        self.overwrite = overwrite
        self.multifile = multifile
        self.save_to_log_dir = save_to_log_dir
        self.already_saved = False
        if not save_to_log_dir and not is_overridden("save_config", self, SaveConfigCallback):
            raise ValueError(
                "SaveConfigCallback(save_to_log_dir=False) writes nothing unless a subclass implements save_config; "
                "pass LightningCLI(save_config_callback=None) to save no config."
            )

    def setup(self, trainer: Any, pl_module: Any, stage: str) -> None:
        if self.already_saved:
            return
        if self.save_to_log_dir:
            path = os.path.join(trainer.log_dir, self.config_filename)
            exists = trainer.strategy.broadcast(os.path.isfile(path) if trainer.is_global_zero else False)
            if exists and not self.overwrite:
                raise RuntimeError(
                    f"SaveConfigCallback would overwrite {path} from an earlier run. Delete it, use another "
                    'default_root_dir, or pass LightningCLI(save_config_kwargs={"overwrite": True}).'
                )
            if trainer.is_global_zero:
                os.makedirs(trainer.log_dir, exist_ok=True)
                with disk.writing(path):
                    self.parser.save(
                        self.config, path, overwrite=self.overwrite, multifile=self.multifile, **_KEEP_NONE_VALUES
                    )
        if trainer.is_global_zero:
            self.save_config(trainer, pl_module, stage)
            self.already_saved = True
        self.already_saved = trainer.strategy.broadcast(self.already_saved)

    def save_config(self, trainer: Any, pl_module: Any, stage: str) -> None:
        """Override to save the config somewhere else as well (runs on rank 0 only)."""


class LightningCLI:
    """Parse the command line (or ``args``) into a Module, a DataModule and a Trainer, then run the subcommand.

    With ``run=False`` there is no subcommand: the objects are built and left in ``cli.model``,
    ``cli.datamodule`` and ``cli.trainer``. Subclasses override ``add_arguments_to_parser``,
    ``before_instantiate_classes``, ``after_instantiate_classes``, ``before_<subcommand>`` / ``after_<subcommand>``
    and ``configure_optimizers``.
    """

    def __init__(
        self,
        model_class: Any = None,
        datamodule_class: Any = None,
        save_config_callback: type[SaveConfigCallback] | None = SaveConfigCallback,
        save_config_kwargs: dict[str, Any] | None = None,
        trainer_class: Any = Trainer,
        trainer_defaults: dict[str, Any] | None = None,
        seed_everything_default: bool | int = True,
        parser_kwargs: dict[str, Any] | None = None,
        subclass_mode_model: bool = False,
        subclass_mode_data: bool = False,
        args: Any = None,
        run: bool = True,
        auto_configure_optimizers: bool = True,
        parser_class: type[LightningArgumentParser] = LightningArgumentParser,
        load_from_checkpoint_support: bool = True,
    ) -> None:
        self.save_config_callback = save_config_callback
        self.save_config_kwargs = save_config_kwargs or {}
        self.trainer_class = trainer_class
        self.trainer_defaults = trainer_defaults or {}
        self.seed_everything_default = seed_everything_default
        self.parser_kwargs = parser_kwargs or {}
        self.parser_class = parser_class
        self.auto_configure_optimizers = auto_configure_optimizers
        self.model_class = model_class
        self.datamodule_class = datamodule_class
        # No class given: any subclass, chosen with --model / --data class_path.
        self.subclass_mode_model = model_class is None or subclass_mode_model
        self.subclass_mode_data = datamodule_class is None or subclass_mode_data

        self.load_from_checkpoint_support = load_from_checkpoint_support
        self._config_dump: dict[str, Any] | None = None

        self.subcommand_parsers: dict[str, LightningArgumentParser] = {}
        self.subcommand_method_arguments: dict[str, list[str]] = {}
        self.parser = self._build_parser(run)
        self.parse_arguments(self.parser, args)
        self.subcommand: str | None = self.config["subcommand"] if run else None
        self._parse_ckpt_path()
        self._set_seed()
        self.before_instantiate_classes()
        self.instantiate_classes()
        self.after_instantiate_classes()
        if self.subcommand is not None:
            self._run_subcommand(self.subcommand)

    # -- the parser ---------------------------------------------------------------------------------------------
    def init_parser(self, **kwargs: Any) -> LightningArgumentParser:
        """A parser with ``-c/--config`` (YAML or JSON; may be given several times, later ones win)."""
        kwargs.setdefault("dump_header", [f"flashtrain-core=={__version__}"])
        parser = self.parser_class(**kwargs)
        parser.add_argument("-c", "--config", action=ActionConfigFile, help="A YAML or JSON config file.")
        return parser

    def _build_parser(self, run: bool) -> LightningArgumentParser:
        subcommands = self.subcommands()
        main_kwargs = {k: v for k, v in self.parser_kwargs.items() if k not in subcommands}
        parser = self.init_parser(**main_kwargs)
        if not run:
            self._add_arguments(parser)
            return parser
        trainer_class = self._trainer_type()
        actions = parser.add_subcommands()
        for name, skip in subcommands.items():
            description = (getattr(trainer_class, name).__doc__ or "").strip().split("\n")[0]
            sub_kwargs = dict(self.parser_kwargs.get(name, {}))
            sub_kwargs.setdefault("description", description)
            sub = self.init_parser(**sub_kwargs)
            self._add_arguments(sub)
            self.subcommand_method_arguments[name] = sub.add_method_arguments(trainer_class, name, skip=set(skip))
            self.subcommand_parsers[name] = sub
            actions.add_subcommand(name, sub, help=description)
        return parser

    def _trainer_type(self) -> type:
        trainer_class = self.trainer_class
        return trainer_class if isinstance(trainer_class, type) else class_from_function(trainer_class)

    def _add_arguments(self, parser: LightningArgumentParser) -> None:
        self.add_default_arguments_to_parser(parser)
        self.add_core_arguments_to_parser(parser)
        self.add_arguments_to_parser(parser)
        if self.auto_configure_optimizers:
            if not parser.optimizer_groups:
                parser.add_optimizer_args((Optimizer,))
            if not parser.lr_scheduler_groups:
                parser.add_lr_scheduler_args(SCHEDULER_TYPES)

    def add_default_arguments_to_parser(self, parser: LightningArgumentParser) -> None:
        parser.add_argument(
            "--seed_everything",
            type=Union[bool, int],  # noqa: UP007 - jsonargparse reads this type at run time
            default=self.seed_everything_default,
            help="An int seeds everything with it before the classes are built; True picks a random seed.",
        )

    def add_core_arguments_to_parser(self, parser: LightningArgumentParser) -> None:
        parser.add_lightning_class_args(self.trainer_class, "trainer")
        # Callback instances are added when the Trainer is built (a parser default cannot hold a list of them).
        parser.set_defaults({f"trainer.{k}": v for k, v in self.trainer_defaults.items() if k != "callbacks"})
        parser.add_lightning_class_args(self.model_class or Module, "model", subclass_mode=self.subclass_mode_model)
        parser.add_lightning_class_args(
            self.datamodule_class or DataModule,
            "data",
            subclass_mode=self.subclass_mode_data,
            required=self.datamodule_class is not None,  # without one the module's own *_dataloader() serve
        )

    def add_arguments_to_parser(self, parser: LightningArgumentParser) -> None:
        """Override to add arguments (``add_lightning_class_args``, ``link_arguments``, ``set_defaults``)."""

    @staticmethod
    def subcommands() -> dict[str, set[str]]:
        """The subcommands, each with the Trainer-method arguments the CLI fills itself."""
        return {
            "fit": {"model", "train_dataloaders", "val_dataloaders", "datamodule"},
            "validate": {"model", "dataloaders", "datamodule"},
            "test": {"model", "dataloaders", "datamodule"},
            "predict": {"model", "dataloaders", "datamodule"},
        }

    def parse_arguments(self, parser: LightningArgumentParser, args: Any) -> None:
        """Parse ``args`` (a list like ``sys.argv[1:]``, a dict, or None for the command line) into ``config``."""
        if isinstance(args, (dict, Namespace)):
            self.config = parser.parse_object(args)
        else:
            self.config = parser.parse_args(args)

    # -- building the objects -----------------------------------------------------------------------------------
    def before_instantiate_classes(self) -> None:
        """Override to change ``self.config`` before the classes are built."""

    def after_instantiate_classes(self) -> None:
        """Override to run code once ``model``, ``datamodule`` and ``trainer`` exist."""

    def instantiate_classes(self) -> None:
        instantiators = self._instantiators() if self.load_from_checkpoint_support else []
        if hasattr(self.parser, "instantiate"):  # jsonargparse >= 4.49 (instantiate_classes before)
            self.config_init = self.parser.instantiate(self.config, instantiators=instantiators)
        else:
            for instantiator in instantiators:
                self.parser.add_instantiator(*instantiator)
            self.config_init = self.parser.instantiate_classes(self.config)
        self.datamodule = self._get(self.config_init, "data")
        self.model = self._get(self.config_init, "model")
        self._replace_configure_optimizers()
        self.trainer = self.instantiate_trainer()

    def instantiate_trainer(self, **kwargs: Any) -> Any:
        """The Trainer from the ``trainer`` options, with the callback groups, the default callbacks and
        ``SaveConfigCallback`` added to its callbacks."""
        parser = self._parser()
        config = {**self._get(self.config_init, "trainer", default={}), **kwargs}
        for key, default in self.trainer_defaults.items():
            if _stands_for(config.get(key), default):
                config[key] = default
        given = config.get("callbacks")
        callbacks = [] if given is None else list(given) if isinstance(given, (list, tuple)) else [given]
        callbacks += [self._get(self.config_init, key) for key in parser.callback_keys]
        default = self.trainer_defaults.get("callbacks")
        callbacks += [] if default is None else list(default) if isinstance(default, (list, tuple)) else [default]
        if self.save_config_callback is not None and not config.get("fast_dev_run", False):
            section = self.config.get(str(self.subcommand), self.config)
            callbacks.append(self.save_config_callback(parser, section, **self.save_config_kwargs))
        config["callbacks"] = callbacks
        return self.trainer_class(**config)

    def _parser(self) -> LightningArgumentParser:
        return self.parser if self.subcommand is None else self.subcommand_parsers[self.subcommand]

    def _get(self, config: Namespace, key: str, default: Any = None) -> Any:
        return config.get(str(self.subcommand), config).get(key, default)

    # -- load_from_checkpoint support -------------------------------------------------------------------------
    def _instantiators(self) -> list[tuple[Any, type, bool]]:
        """While the model and the data are built, their ``save_hyperparameters()`` records the parsed config."""
        found = []
        for key, given, subclass_mode, base in (
            ("model", self.model_class, self.subclass_mode_model, Module),
            ("data", self.datamodule_class, self.subclass_mode_data, DataModule),
        ):
            class_type = given if isinstance(given, type) else base
            found.append((partial(_instantiate_recording_config, self, key), class_type, subclass_mode))
        return found

    def config_dump(self) -> dict[str, Any]:
        """The parsed config as plain YAML values (this subcommand's section), as ``--print_config`` shows it."""
        if self._config_dump is None:
            import yaml

            text = self.parser.dump(self.config, format="yaml", skip_link_targets=False, **_KEEP_NONE_VALUES)
            dumped: dict[str, Any] = yaml.safe_load(text) or {}
            self._config_dump = dumped.get(self.subcommand, dumped) if self.subcommand else dumped
        return self._config_dump or {}

    def _parse_ckpt_path(self) -> None:
        """``<subcommand> --ckpt_path FILE``: the model options recorded in the checkpoint replace the parsed ones,
        so ``test --ckpt_path run.ckpt`` rebuilds the model that was trained without repeating its flags."""
        if not self.subcommand:
            return
        ckpt_path = self.config[self.subcommand].get("ckpt_path")
        if not ckpt_path or not os.path.isfile(ckpt_path):
            return  # "best" / "last" / None: the Trainer resolves them
        from flashtrain.core.checkpoint.io import load_checkpoint

        hyperparameters = dict(load_checkpoint(ckpt_path, map_location="cpu").get("hyper_parameters") or {})
        hyperparameters.pop(INSTANTIATOR_KEY, None)
        if not hyperparameters:
            return
        class_path = hyperparameters.pop("_class_path", None)
        if class_path is None:
            if isinstance(self.model_class, type):
                hyperparameters = _constructor_arguments(self.model_class, hyperparameters)
            model: dict[str, Any] = hyperparameters
        else:
            module_name, _, name = class_path.rpartition(".")
            subclass = getattr(importlib.import_module(module_name), name)
            model = {"class_path": class_path, "init_args": _constructor_arguments(subclass, hyperparameters)}
        self.config = self.parser.parse_object({self.subcommand: {"model": model}}, self.config)

    # -- --optimizer / --lr_scheduler ------------------------------------------------------------------------
    @staticmethod
    def configure_optimizers(lightning_module: Any, optimizer: Optimizer, lr_scheduler: Any = None) -> Any:
        """What the model's ``configure_optimizers`` returns when ``--optimizer`` is given (override to change)."""
        if lr_scheduler is None:
            return optimizer
        if isinstance(lr_scheduler, ReduceLROnPlateau):
            return {
                "optimizer": optimizer,
                "lr_scheduler": {"scheduler": lr_scheduler, "monitor": lr_scheduler.monitor},
            }
        return [optimizer], [lr_scheduler]

    def _replace_configure_optimizers(self) -> None:
        """With ``--optimizer`` (and ``--lr_scheduler``) given, they replace the model's ``configure_optimizers``."""
        if not self.auto_configure_optimizers or self.model is None:
            return
        parser = self._parser()
        optimizers = [k for k, (_, link) in parser.optimizer_groups.items() if link == "AUTOMATIC"]
        schedulers = [k for k, (_, link) in parser.lr_scheduler_groups.items() if link == "AUTOMATIC"]
        if len(optimizers) > 1 or len(schedulers) > 1:
            raise ValueError(
                f"{type(self).__name__} builds configure_optimizers from at most one optimizer and one scheduler group "
                f"left 'AUTOMATIC'; found {optimizers + schedulers}. Link them (link_to=...) and write "
                "configure_optimizers yourself."
            )
        if not optimizers:
            return
        optimizer_init = self._class_init(parser.optimizer_groups, optimizers[0])
        if not optimizer_init:
            return  # the group exists, but no --optimizer was given: the model's own configure_optimizers runs
        scheduler_init = self._class_init(parser.lr_scheduler_groups, schedulers[0]) if schedulers else None
        if is_overridden("configure_optimizers", self.model, Module):
            import warnings

            warnings.warn(
                f"{type(self.model).__name__}.configure_optimizers is replaced by the --optimizer given to "
                f"{type(self).__name__}.",
                UserWarning,
                stacklevel=2,
            )
        optimizer = instantiate_class(self.model.parameters(), optimizer_init)
        scheduler = instantiate_class(optimizer, scheduler_init) if scheduler_init else None
        method = partial(self.configure_optimizers, optimizer=optimizer, lr_scheduler=scheduler)
        update_wrapper(method, self.configure_optimizers)
        self.model.configure_optimizers = MethodType(method, self.model)

    def _class_init(self, groups: dict[str, tuple[Any, str]], key: str) -> dict[str, Any] | None:
        classes = groups[key][0]
        init = self._get(self.config_init, key)
        if isinstance(classes, tuple):
            return init.as_dict() if isinstance(init, Namespace) else init
        return _with_class_path(classes, init)

    # -- running --------------------------------------------------------------------------------------------
    def _set_seed(self) -> None:
        seed = self._get(self.config, "seed_everything")
        if seed is False or seed is None:
            return
        used = seed_everything(None if seed is True else seed, workers=True)
        target = self.config[self.subcommand] if self.subcommand else self.config
        target["seed_everything"] = used  # the saved config repeats this run's seed

    def _run_subcommand(self, subcommand: str) -> None:
        before = getattr(self, f"before_{subcommand}", None)
        if callable(before):
            before()
        method = getattr(self, subcommand, getattr(self.trainer, subcommand))
        arguments = {
            key: value
            for key, value in self.config_init[subcommand].items()
            if key in self.subcommand_method_arguments[subcommand]
        }
        arguments["model"] = self.model
        if self.datamodule is not None:
            arguments["datamodule"] = self.datamodule
        method(**arguments)
        after = getattr(self, f"after_{subcommand}", None)
        if callable(after):
            after()


def _stands_for(value: Any, default: Any) -> bool:
    """Whether ``value`` is what jsonargparse writes for ``default`` when it cannot write the object (a profiler
    instance in ``trainer_defaults``): "Unable to serialize instance <module.Class object at 0x...>".

    A config printed by ``--print_config`` then keeps the script's own default object when read back with
    ``--config``, where Lightning fails on the placeholder text."""
    if not isinstance(value, str) or isinstance(default, (str, int, float, bool, list, dict, tuple, type(None))):
        return False
    cls = type(default)
    return value.startswith(f"Unable to serialize instance <{cls.__module__}.{cls.__qualname__} object at ")


def _with_class_path(class_type: type, init_args: Any) -> dict[str, Any]:
    if isinstance(init_args, Namespace):
        init_args = init_args.as_dict()
    return {"class_path": f"{class_type.__module__}.{class_type.__name__}", "init_args": init_args or {}}


def _instantiate_recording_config(
    cli: LightningCLI, key: str, class_type: type, *args: Any, applied_instantiation_links: dict, **kwargs: Any
) -> Any:
    """Build the ``key`` group's class so that its ``save_hyperparameters()`` records the parsed config."""
    config = cli.config_dump().get(key)
    if not isinstance(config, dict):
        return class_type(*args, **kwargs)
    if "class_path" in config:
        if config["class_path"] not in (class_type.__qualname__, f"{class_type.__module__}.{class_type.__qualname__}"):
            return class_type(*args, **kwargs)  # a nested class of the same base, not the group's own
        # stored flat, whatever the subclass mode, with the class in "_class_path" (Lightning's layout)
        config = {"_class_path": config["class_path"], **config.get("init_args", {}), **config.get("dict_kwargs", {})}
    elif cli.model_class is not None and key == "model" and class_type is not cli.model_class:
        return class_type(*args, **kwargs)
    config = dict(config)
    for target, value in applied_instantiation_links.items():  # values linked at build time (e.g. num_classes)
        if target.startswith(f"{key}."):
            _set_nested(config, target[len(key) + 1 :].removeprefix("init_args."), value)
    with given_hyperparameters(class_type, config, instantiator="flashtrain.core.cli.instantiate_module"):
        return class_type(*args, **kwargs)


def _set_nested(config: dict[str, Any], dotted: str, value: Any) -> None:
    *parents, last = dotted.split(".")
    for part in parents:
        config = config.setdefault(part, {})
    config[last] = value


def _constructor_arguments(cls: type, arguments: dict[str, Any]) -> dict[str, Any]:
    """The ``arguments`` that ``cls.__init__`` takes: values only a base class received (recorded next to the
    config by ``save_hyperparameters``) are computed again by the class's own ``__init__``."""
    parameters = inspect.signature(cls).parameters
    if any(p.kind is inspect.Parameter.VAR_KEYWORD for p in parameters.values()):
        return arguments
    return {k: v for k, v in arguments.items() if k in parameters}


def instantiate_module(class_type: type, config: dict[str, Any]) -> Any:
    """Rebuild a class from the config LightningCLI recorded as its hyper-parameters (``load_from_checkpoint``):
    nested ``class_path`` values become objects again, and ``_class_path`` picks the subclass."""
    parser = ArgumentParser(exit_on_error=False)
    arguments = {k: v for k, v in config.items() if k != "_class_path"}
    target = class_type
    if "_class_path" in config:
        parser.add_subclass_arguments(class_type, "module", fail_untyped=False)
        module_name, _, name = config["_class_path"].rpartition(".")
        target = getattr(importlib.import_module(module_name), name)
        if not (isinstance(target, type) and issubclass(target, class_type)):
            raise TypeError(
                f"The checkpoint was saved by {config['_class_path']}, which is not a {class_type.__qualname__}; "
                f"load it with {config['_class_path']}.load_from_checkpoint(...)."
            )
    else:
        parser.add_class_arguments(class_type, "module", fail_untyped=False)
    arguments = _constructor_arguments(target, arguments)
    value: dict[str, Any] = arguments
    if "_class_path" in config:
        value = {"class_path": config["_class_path"], "init_args": arguments}
    parsed = parser.parse_object({"module": value})
    instantiate = getattr(parser, "instantiate", None) or parser.instantiate_classes
    return instantiate(parsed).module


def instantiate_class(args: Any, init: dict[str, Any]) -> Any:
    """Build ``init["class_path"]`` with ``args`` (one positional argument or a tuple) and ``init["init_args"]``."""
    module_name, _, class_name = init["class_path"].rpartition(".")
    cls = getattr(importlib.import_module(module_name), class_name)
    positional = args if isinstance(args, tuple) else (args,)
    return cls(*positional, **init.get("init_args", {}))


def cli_lightning_logo() -> None:
    """Lightning's examples print its logo first; flashtrain prints its name and version."""
    print(f"\nflashtrain {__version__} (Lightning-compatible LightningCLI)\n")
