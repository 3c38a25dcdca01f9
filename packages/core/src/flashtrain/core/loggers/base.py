"""The logger interface and the versioned-folder layout shared by the built-in loggers."""

from __future__ import annotations

import os
import re
from abc import ABC, abstractmethod
from typing import Any

from flashtrain.core.utilities import disk, fs


class Logger(ABC):
    """Receives metrics and hyper-parameters; only rank zero's logger writes."""

    @property
    @abstractmethod
    def name(self) -> str:
        """Experiment name."""

    @property
    @abstractmethod
    def version(self) -> int | str:
        """Run version inside the experiment."""

    @property
    def save_dir(self) -> str | None:
        """Root folder of the logs."""
        return None

    @property
    def log_dir(self) -> str | None:
        """Folder of this run's files."""
        return None

    @abstractmethod
    def log_metrics(self, metrics: dict[str, float], step: int | None = None) -> None:
        """Record scalar metrics (floats) at a step; the trainer calls ``log_metrics(metrics=..., step=...)``."""

    def log_hyperparams(self, params: dict[str, Any]) -> None:  # noqa: B027 - optional
        """Record hyper-parameters."""

    def log_graph(self, model: Any, input_array: Any = None) -> None:  # noqa: B027 - optional
        """Record the model's graph (TensorBoard does, with ``log_graph=True``)."""

    def after_save_checkpoint(self, checkpoint_callback: Any) -> None:  # noqa: B027 - optional
        """Called by ``ModelCheckpoint`` after each file it writes (loggers that upload models override it)."""

    def save(self) -> None:  # noqa: B027 - optional
        """Flush buffered records to disk."""

    def finalize(self, status: str) -> None:
        """Flush and close at the end of a run (``status``: 'success', 'failed', 'interrupted')."""
        self.save()


class DummyExperiment:
    """What ``logger.experiment`` is on ranks other than 0 (as Lightning's): every call is accepted and does
    nothing, so code that logs through the experiment on all ranks writes once, from rank 0."""

    def nop(self, *args: Any, **kwargs: Any) -> DummyExperiment:
        return self

    def __getattr__(self, name: str) -> Any:
        return self.nop

    def __getitem__(self, key: Any) -> DummyExperiment:
        return self

    def __setitem__(self, key: Any, value: Any) -> None:
        pass


def not_created_on_this_rank(logger: str, rank: int) -> RuntimeError:
    """The error for asking a rank other than 0 for a run that only rank 0 creates."""
    return RuntimeError(
        f"{logger} on rank {rank}: the run is created by rank 0 when fit starts, and its id is then given to the "
        "other ranks. Read the version or log_dir after fit has started (or on rank 0)."
    )


class DummyLogger(Logger):
    """Writes nothing: ``fast_dev_run`` uses it (as Lightning), so a debug run leaves no files while
    ``trainer.logged_metrics`` still shows what a real logger would have received."""

    @property
    def name(self) -> str:
        return ""

    @property
    def version(self) -> str:
        return ""

    @property
    def experiment(self) -> DummyExperiment:
        return DummyExperiment()

    def log_metrics(self, *args: Any, **kwargs: Any) -> None:
        pass

    def log_hyperparams(self, *args: Any, **kwargs: Any) -> None:
        pass

    def __getattr__(self, name: str) -> Any:
        """Any other logger's method (``log_text``, ``log_image``...) is accepted and does nothing, so code written
        for a real logger runs unchanged under ``fast_dev_run``."""
        if name.startswith("__"):
            raise AttributeError(name)
        return DummyExperiment().nop


def log_run_start(loggers: list[Logger], module: Any, datamodule: Any) -> None:
    """What every logger receives when fit starts (Lightning's order): the hyper-parameters the module and the
    datamodule saved with ``save_hyperparameters`` (merged; a name both saved with different values is an error),
    then the model's graph, then a save."""
    from_module = module.logs_hyperparameters
    from_datamodule = datamodule is not None and datamodule.logs_hyperparameters
    params: dict[str, Any] | None = None
    if from_module and from_datamodule:
        ours, theirs = module.hparams_initial, datamodule.hparams_initial
        clashing = [key for key in ours.keys() & theirs.keys() if not _same_value(ours[key], theirs[key])]
        if clashing:
            raise RuntimeError(
                f"Error while merging hparams: the keys {sorted(clashing, key=str)} are present in both the "
                "LightningModule's and LightningDataModule's hparams but have different values. Rename one of them."
            )
        params = {**ours, **theirs}
    elif from_module:
        params = dict(module.hparams_initial)
    elif from_datamodule:
        params = dict(datamodule.hparams_initial)
    for logger in loggers:
        if params is not None:
            logger.log_hyperparams(params)
        logger.log_graph(module)
        logger.save()


def _same_value(first: Any, second: Any) -> bool:
    if type(first) is not type(second):
        return False
    if hasattr(first, "shape"):  # tensors: the same object (== would compare element-wise)
        return first is second
    return bool(first == second)


def next_version(root: str) -> int:
    """The first unused ``version_N`` number under ``root``."""
    versions = [int(m.group(1)) for d in fs.listdir(root) if (m := re.fullmatch(r"version_(\d+)", d))]
    return max(versions) + 1 if versions else 0


def claim_next_version(root: str) -> int:
    """The first unused ``version_N`` under ``root``, claimed by creating its folder.

    ``os.mkdir`` either creates the folder or fails because it exists, atomically, so two runs started together in
    one folder get different versions instead of both writing into the same one.
    """
    os.makedirs(root, exist_ok=True)
    version = next_version(root)
    while True:
        try:
            os.mkdir(os.path.join(root, f"version_{version}"))
            return version
        except FileExistsError:
            version += 1


class VersionedFolderLogger(Logger):
    """Writes under ``<save_dir>/<name>/version_<N>``, picking the next free N unless a version is given.

    ``save_dir`` may be an fsspec URL (``memory://runs``, ``s3://bucket/runs``).
    """

    def __init__(
        self, save_dir: str = ".", name: str | None = "lightning_logs", version: int | str | None = None
    ) -> None:
        self._save_dir = os.path.expandvars(os.path.expanduser(os.fspath(save_dir)))  # "~/runs", "$SCRATCH/runs"
        self._name = name or ""  # None or "": the versions go straight into save_dir (as Lightning)
        self._version = version

    @property
    def name(self) -> str:
        return self._name

    @property
    def root_dir(self) -> str:
        """The folder of the experiment's versions: ``<save_dir>/<name>`` (``save_dir`` without a name)."""
        return fs.join(self.save_dir, self.name) if self.name else self.save_dir

    @property
    def version(self) -> int | str:
        if self._version is None:
            root = self.root_dir
            # Only rank 0 claims a folder; under DDP the other ranks are given rank 0's version right after. On a
            # remote filesystem (no atomic mkdir to rely on) the next free number is taken as before.
            claims = os.environ.get("RANK", "0") == "0" and not fs.is_remote(root)
            self._version = claim_next_version(fs.local(root)) if claims else next_version(root)
        return self._version

    @property
    def save_dir(self) -> str:
        return self._save_dir

    @property
    def log_dir(self) -> str:
        version = self.version if isinstance(self.version, str) else f"version_{self.version}"
        return fs.join(self.root_dir, version)

    def use_version(self, version: int | str) -> None:
        """Continue an existing run (used when a checkpoint is resumed)."""
        self._version = version

    def write_hparams_yaml(self, params: dict[str, Any]) -> None:
        write_hparams_yaml(self.log_dir, params)


def write_hparams_yaml(log_dir: str, params: dict[str, Any]) -> None:
    """Write ``<log_dir>/hparams.yaml`` (a local folder or an fsspec URL); exotic values are written as their repr."""
    import yaml  # here, not at module level: only loggers that save hyper-parameters need it

    fs.makedirs(log_dir)
    path = fs.join(log_dir, "hparams.yaml")
    with disk.writing(path), fs.open_file(path, "w") as handle:
        yaml.safe_dump(_plain(params), handle, sort_keys=False)


def _plain(value: Any) -> Any:
    """Make hyper-parameters YAML-safe: containers kept, anything exotic written as its repr."""
    if isinstance(value, dict):
        return {str(k): _plain(v) for k, v in value.items()}
    if isinstance(value, (list, tuple)):
        return [_plain(v) for v in value]
    if value is None or isinstance(value, (bool, int, float, str)):
        return value
    return repr(value)


def to_float(value: Any) -> float:
    """A logged value (tensor or number) as a Python float."""
    return float(value.item()) if hasattr(value, "item") else float(value)
