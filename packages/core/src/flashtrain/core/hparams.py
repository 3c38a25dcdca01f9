"""Collecting a Module's constructor arguments (``save_hyperparameters``)."""

from __future__ import annotations

import contextlib
import copy
import dataclasses
import enum
import inspect
import os
import types
import warnings
from collections.abc import Iterable, Iterator, Mapping
from contextvars import ContextVar
from typing import Any

import torch

# (class being built, hyper-parameters to record for it): set by LightningCLI while it builds the model or data
_GIVEN_HYPERPARAMETERS: ContextVar[tuple[type, dict[str, Any]] | None] = ContextVar(
    "flashtrain_given_hyperparameters", default=None
)
INSTANTIATOR_KEY = "_instantiator"
# The only instantiators a checkpoint may name: loading imports no code a checkpoint chooses.
_INSTANTIATORS = {
    "flashtrain.core.cli.instantiate_module": "flashtrain.core.cli:instantiate_module",
    "lightning.pytorch.cli.instantiate_module": "flashtrain.core.cli:instantiate_module",  # Lightning's name
}


@contextlib.contextmanager
def given_hyperparameters(cls: type, hyperparameters: dict[str, Any], instantiator: str) -> Iterator[None]:
    """While ``cls`` is being built, its ``save_hyperparameters()`` records ``hyperparameters`` (plus the name of
    the function that rebuilds the class from them) instead of its ``__init__`` arguments.

    LightningCLI records the parsed config this way (``class_path`` and nested classes as plain values), so
    ``load_from_checkpoint`` rebuilds what the command line built, whatever objects ``__init__`` received.
    """
    token = _GIVEN_HYPERPARAMETERS.set((cls, {**hyperparameters, INSTANTIATOR_KEY: instantiator}))
    try:
        yield
    finally:
        _GIVEN_HYPERPARAMETERS.reset(token)


def build_from_hyperparameters(cls: type, hyperparameters: dict[str, Any]) -> Any:
    """``cls(**hyperparameters)``, or, for hyper-parameters recorded by LightningCLI, the CLI's rebuild."""
    if INSTANTIATOR_KEY not in hyperparameters:
        return cls(**hyperparameters)
    arguments = dict(hyperparameters)
    name = arguments.pop(INSTANTIATOR_KEY)
    if name not in _INSTANTIATORS:
        raise ValueError(
            f"The checkpoint's hyper-parameters name {INSTANTIATOR_KEY}={name!r}, which flashtrain does not run "
            f"(it runs only {sorted(_INSTANTIATORS)}). Remove the entry from checkpoint['hyper_parameters'] to "
            f"build {cls.__name__}(**hyper_parameters) directly."
        )
    import importlib

    module_name, _, function_name = _INSTANTIATORS[name].partition(":")
    return getattr(importlib.import_module(module_name), function_name)(cls, arguments)


class AttributeDict(dict):
    """A dict whose keys are also attributes: ``hparams.lr`` and ``hparams["lr"]``."""

    def __getattr__(self, key: str) -> Any:
        try:
            return self[key]
        except KeyError as error:
            raise AttributeError(f"hyper-parameter {key!r} is not set; known: {sorted(self, key=str)}") from error

    def __setattr__(self, key: str, value: Any) -> None:
        self[key] = value


def _frame_arguments(frame: types.FrameType) -> dict[str, Any]:
    code = frame.f_code
    count = code.co_argcount + code.co_kwonlyargcount
    names = list(code.co_varnames[:count])
    local_values = frame.f_locals
    arguments = {name: local_values[name] for name in names[1:] if name in local_values}  # names[0] is self
    index = count + (1 if code.co_flags & inspect.CO_VARARGS else 0)
    if code.co_flags & inspect.CO_VARKEYWORDS:
        arguments.update(local_values.get(code.co_varnames[index], {}))
    return arguments


def collect_init_arguments(obj: Any, frame: types.FrameType | None) -> dict[str, Any]:
    """The arguments of every ``__init__`` of ``obj`` on the stack above ``frame``; the subclass's win."""
    frames = []
    while frame is not None and frame.f_code.co_name == "__init__" and frame.f_locals.get("self") is obj:
        frames.append(frame)
        frame = frame.f_back
    arguments: dict[str, Any] = {}
    for init_frame in frames:  # innermost (base class) first, so the outermost subclass overrides
        arguments.update(_frame_arguments(init_frame))
    return arguments


def select_hyperparameters(
    init_arguments: dict[str, Any], args: tuple[Any, ...], ignore: str | Iterable[str] | None
) -> dict[str, Any]:
    """Apply ``save_hyperparameters``'s positional selection (names, a dict, a Namespace) and ``ignore``."""
    primitive = next((arg for arg in args if isinstance(arg, (bool, int, float))), None)
    if primitive is not None:  # a value where a name was meant (Lightning's error and wording)
        raise ValueError(
            f"Primitives {(bool, int, float, str)} are not allowed as a config: save_hyperparameters takes __init__ "
            f"argument names (strings) or one dict / Namespace, got {primitive!r}."
        )
    if len(args) == 1 and isinstance(args[0], Mapping):
        selected = dict(args[0])
    elif len(args) == 1 and hasattr(args[0], "__dict__") and not isinstance(args[0], str):
        selected = dict(vars(args[0]))  # argparse.Namespace
    elif args:
        unknown = [name for name in args if name not in init_arguments]
        if unknown:
            raise ValueError(
                f"save_hyperparameters got names that are not __init__ arguments: {unknown}. "
                f"Known arguments: {sorted(init_arguments)}."
            )
        selected = {name: init_arguments[name] for name in args}
    else:
        selected = dict(init_arguments)
    ignored = {ignore} if isinstance(ignore, str) else set(ignore or ())
    return {key: value for key, value in selected.items() if key not in ignored}


class HyperparametersMixin:
    """``save_hyperparameters`` and ``hparams``, shared by ``Module`` (which also puts them in checkpoints) and
    ``DataModule``."""

    # Lightning's names of the checkpoint entries (``checkpoint[Module.CHECKPOINT_HYPER_PARAMS_KEY]``)
    CHECKPOINT_HYPER_PARAMS_KEY = "hyper_parameters"
    CHECKPOINT_HYPER_PARAMS_NAME = "hparams_name"
    CHECKPOINT_HYPER_PARAMS_TYPE = "hparams_type"

    _hparams: AttributeDict
    _hparams_initial: AttributeDict
    _log_hyperparams: bool

    @property
    def hparams(self) -> AttributeDict:
        """Hyper-parameters recorded by :meth:`save_hyperparameters` (empty until it is called)."""
        if "_hparams" not in self.__dict__:  # a subclass that did not call super().__init__()
            self._hparams = AttributeDict()
        return self._hparams

    def save_hyperparameters(self, *args: Any, ignore: str | Iterable[str] | None = None, logger: bool = True) -> None:
        """Record the ``__init__`` arguments (or the named ones) in ``self.hparams``.

        Args:
            *args: Argument names to keep, or one dict / Namespace to store instead of the arguments.
            ignore: Argument names to leave out (e.g. modules passed in, which are saved as weights).
            logger: Also send them to the logger at the start of fit.
        """
        if dataclasses.is_dataclass(self):  # a dataclass Module: its init fields are the arguments
            init_arguments = {f.name: getattr(self, f.name) for f in dataclasses.fields(self) if f.init}
        else:
            frame = inspect.currentframe()
            init_arguments = collect_init_arguments(self, frame.f_back if frame is not None else None)
        given = _GIVEN_HYPERPARAMETERS.get()
        if given is not None and type(self) is given[0]:
            # the parsed config replaces the class's own arguments; what only a base class received stays
            init_arguments = {**init_arguments, **given[1]}
        selected = select_hyperparameters(init_arguments, args, ignore)
        self._hparams_name = _hparams_name(init_arguments, args, selected)
        # As Lightning: a subclass's call adds to what its base class's call recorded; ``ignore`` drops names
        # the base recorded too.
        hparams = self.hparams
        if len(args) == 1 and is_omegaconf(args[0]):
            hparams = args[0]  # as Lightning: an omegaconf DictConfig is kept as the hparams (interpolations work)
        else:
            hparams.update(selected)
        for name in {ignore} if isinstance(ignore, str) else set(ignore or ()):
            hparams.pop(name, None)
        self._hparams = hparams
        self._hparams_initial = copy.deepcopy(self._hparams)
        self._log_hyperparams = logger
        for name, value in hparams.items():
            if isinstance(value, torch.nn.Module):
                warnings.warn(
                    f"Attribute {name!r} is an instance of `nn.Module` and is already saved during checkpointing. "
                    f"It is recommended to ignore them using `self.save_hyperparameters(ignore=[{name!r}])`.",
                    stacklevel=2,
                )

    @property
    def logs_hyperparameters(self) -> bool:
        """Whether ``save_hyperparameters(logger=True)`` asked for the hyper-parameters to reach the loggers."""
        return bool(self.__dict__.get("_log_hyperparams", False))

    @property
    def hparams_name(self) -> str | None:
        """How ``load_from_checkpoint`` passes the saved hyper-parameters back: ``"kwargs"`` (one keyword each),
        the name of the ``__init__`` argument that held the one dict/Namespace saved, or None (nothing saved)."""
        return self.__dict__.get("_hparams_name")

    @property
    def hparams_initial(self) -> AttributeDict:
        """The hyper-parameters as :meth:`save_hyperparameters` recorded them (later edits of ``hparams`` aside)."""
        if "_hparams_initial" not in self.__dict__:
            return AttributeDict()
        return copy.deepcopy(self._hparams_initial)


def _hparams_name(init_arguments: dict[str, Any], args: tuple[Any, ...], selected: dict[str, Any]) -> str | None:
    objects = [arg for arg in args if not isinstance(arg, str)]
    if len(objects) == 1:  # save_hyperparameters(config): the __init__ argument that holds it, if any
        return next((name for name, value in init_arguments.items() if value is objects[0]), None)
    return "kwargs" if selected else None


def drop_unpicklable_hyperparameters(owner: Any) -> None:
    """Remove from ``owner.hparams`` what cannot be pickled (a lambda, an open file), with Lightning's warning, as
    each Trainer run starts: such a value could neither go to a checkpoint nor cross to a ddp_spawn process."""
    import pickle

    hparams = getattr(owner, "__dict__", {}).get("_hparams")
    if not hparams:
        return
    for name, value in list(hparams.items()):
        if value is None or isinstance(value, (str, int, float, bool)):
            continue
        try:
            pickle.Pickler(_Discard()).dump(value)  # written nowhere: a large module is not copied into memory
        except (pickle.PickleError, AttributeError, RuntimeError, TypeError):
            warnings.warn(
                f"Attribute '{name}' removed from hparams because it cannot be pickled. You can suppress this warning "
                f"by setting `self.save_hyperparameters(ignore=['{name}'])` (and pass it again to "
                f"load_from_checkpoint({name}=...)).",
                stacklevel=4,
            )
            del hparams[name]


class _Discard:
    """A file-like sink for pickle that keeps nothing."""

    def write(self, data: bytes) -> int:
        return len(data)


def is_omegaconf(value: Any) -> bool:
    """Whether ``value`` is an omegaconf container (DictConfig, ListConfig), without importing omegaconf."""
    return type(value).__module__.startswith("omegaconf")


def hyperparameter_entries(owner: Any) -> dict[str, Any]:
    """The checkpoint entries for ``owner``'s hyper-parameters, under its class's keys (Lightning's names).

    Checkpoints hold plain data only (they load with ``weights_only=True``), so an omegaconf container is stored
    as its dicts and lists (interpolations kept as their ``${...}`` text) and named, for loading to rebuild it:
    the whole hparams under Lightning's ``hparams_type`` key, single values under ``<key>_omegaconf``."""
    hparams = owner.hparams
    key = owner.CHECKPOINT_HYPER_PARAMS_KEY
    entries: dict[str, Any] = {owner.CHECKPOINT_HYPER_PARAMS_NAME: owner.hparams_name}
    if is_omegaconf(hparams) or any(is_omegaconf(value) for value in hparams.values()):
        from omegaconf import OmegaConf

        if is_omegaconf(hparams):
            entries[key] = OmegaConf.to_container(hparams, resolve=False)
            entries[owner.CHECKPOINT_HYPER_PARAMS_TYPE] = type(hparams).__name__
        else:
            names = [name for name, value in hparams.items() if is_omegaconf(value)]
            entries[key] = {
                name: OmegaConf.to_container(value, resolve=False) if name in names else value
                for name, value in hparams.items()
            }
            entries[key + _OMEGACONF_SUFFIX] = names
    else:
        entries[key] = dict(hparams)
    return entries


_OMEGACONF_SUFFIX = "_omegaconf"


def _saved_omegaconf(cls: type, checkpoint: Mapping[str, Any], saved: dict[str, Any]) -> tuple[dict[str, Any], bool]:
    """Undo :func:`hyperparameter_entries`' conversion: the saved values with their omegaconf containers back, and
    whether the whole hparams was one."""
    key = getattr(cls, "CHECKPOINT_HYPER_PARAMS_KEY", "hyper_parameters")
    names = checkpoint.get(key + _OMEGACONF_SUFFIX) or []
    whole = checkpoint.get(getattr(cls, "CHECKPOINT_HYPER_PARAMS_TYPE", "hparams_type")) == "DictConfig"
    if not names and not whole:
        return saved, False
    from omegaconf import OmegaConf

    return {name: OmegaConf.create(value) if name in names else value for name, value in saved.items()}, whole


def rebuild_arguments(
    cls: type,
    saved: dict[str, Any],
    hparams_name: Any,
    overrides: dict[str, Any],
    checkpoint: Mapping[str, Any] | None = None,
) -> dict[str, Any]:
    """The keyword arguments that rebuild ``cls`` from hyper-parameters saved by :meth:`save_hyperparameters`
    (``hparams_name`` and ``checkpoint``'s record of omegaconf containers from the same checkpoint); ``overrides``
    (the user's keywords) win.

    Saved names that ``cls.__init__`` does not take are left out (a base class may save more than a subclass
    takes), unless it takes ``**kwargs``; the user's ``overrides`` are passed as given."""
    parameters = inspect.signature(cls.__init__).parameters  # type: ignore[misc]
    whole = False
    if checkpoint is not None:
        saved, whole = _saved_omegaconf(cls, checkpoint, saved)
    if isinstance(hparams_name, str) and hparams_name != "kwargs" and hparams_name in parameters:
        if whole:
            from omegaconf import OmegaConf

            return {hparams_name: OmegaConf.create(dict(saved)), **overrides}
        return {hparams_name: dict(saved), **overrides}
    if not any(p.kind == p.VAR_KEYWORD for p in parameters.values()):
        # LightningCLI's record names its rebuild function: kept, for build_from_hyperparameters to check and run
        saved = {key: value for key, value in saved.items() if key in parameters or key == INSTANTIATOR_KEY}
    return {**saved, **overrides}


# Where checkpoints of Lightning before 1.0 kept the hyper-parameters (still read; the current key wins).
PAST_HYPER_PARAMETER_KEYS = ("hparams", "module_arguments")


def saved_hyperparameters(checkpoint: Mapping[str, Any]) -> dict[str, Any]:
    """A checkpoint's saved hyper-parameters: ``hyper_parameters``, over those under an older Lightning key."""
    saved: dict[str, Any] = {}
    for key in (*PAST_HYPER_PARAMETER_KEYS, "hyper_parameters"):
        value = checkpoint.get(key)
        if isinstance(value, Mapping):
            saved.update(value)
    return saved


def save_hparams_to_yaml(config_yaml: str, hparams: Mapping[str, Any] | Any) -> None:
    """Write ``hparams`` (a dict or an argparse Namespace) to a YAML file; a value YAML cannot hold safely is
    skipped with a warning naming it (Lightning's helper, written with ``yaml.safe_dump``)."""
    import yaml  # here: only this path writes YAML

    from flashtrain.core.utilities import fs

    folder = os.path.dirname(os.fspath(config_yaml))
    if folder and not fs.exists(folder):
        raise RuntimeError(f"Missing folder: {folder}.")
    if is_omegaconf(hparams):  # a DictConfig: its plain values, interpolations resolved
        from omegaconf import OmegaConf

        hparams = OmegaConf.to_container(hparams, resolve=True)
    values = hparams if isinstance(hparams, Mapping) else vars(hparams)
    kept: dict[str, Any] = {}
    for key, value in values.items():
        value = value.name if isinstance(value, enum.Enum) else value
        try:
            yaml.safe_dump(value)
        except yaml.YAMLError:
            warnings.warn(
                f"Skipping '{key}' parameter because it is not possible to safely dump to YAML.", stacklevel=2
            )
            continue
        kept[str(key)] = value
    with fs.open_file(os.fspath(config_yaml), "w") as handle:
        yaml.safe_dump(kept, handle, sort_keys=False)


def load_hparams_from_yaml(config_yaml: str, use_omegaconf: bool = True) -> Any:
    """The hyper-parameters in a YAML file (``{}`` with a warning when there is none); read with ``safe_load``.

    As Lightning: an OmegaConf ``DictConfig`` when omegaconf is installed and ``use_omegaconf`` (the default), else
    a dict."""
    import yaml  # here: only this path reads YAML

    from flashtrain.core.utilities import fs

    if not fs.exists(os.fspath(config_yaml)):
        warnings.warn(f"Missing Tags: {config_yaml}.", RuntimeWarning, stacklevel=2)
        return {}
    with fs.open_file(os.fspath(config_yaml), "r") as handle:
        loaded = yaml.safe_load(handle) or {}
    if not isinstance(loaded, dict):
        raise ValueError(f"{config_yaml} must hold a mapping of names to values, got {type(loaded).__name__}.")
    if use_omegaconf:
        try:
            from omegaconf import OmegaConf
        except ImportError:
            return loaded
        return OmegaConf.create(loaded)
    return loaded


def read_hparams_file(path: str) -> dict[str, Any]:
    """The hyper-parameters in a YAML file (the ``hparams.yaml`` a logger writes), for ``load_from_checkpoint``."""
    if not str(path).endswith((".yaml", ".yml")):
        raise ValueError(f"hparams_file must be a .yaml or .yml file (the hparams.yaml a logger writes), got {path!r}.")
    if not os.path.exists(path):
        raise FileNotFoundError(f"hparams_file {path!r} does not exist.")
    loaded: dict[str, Any] = load_hparams_from_yaml(path, use_omegaconf=False)
    return loaded
