"""Metrics and hyper-parameters in a Weights & Biases run, through ``wandb`` (imported on first use).

Install with ``pip install flashtrain-core[wandb]``. Names and arguments follow Lightning 2.x's ``WandbLogger``;
``offline=True`` writes the run under ``<save_dir>/wandb/`` for a later ``wandb sync``, with no network.
"""

from __future__ import annotations

import os
from typing import Any

from flashtrain.core.loggers.base import DummyExperiment, Logger, _plain, not_created_on_this_rank, to_float
from flashtrain.core.utilities import fs
from flashtrain.core.utilities.rank_zero import global_rank

_EXIT_CODES = {"success": 0, "failed": 1, "interrupted": 255}
_STEP_KEY = "trainer/global_step"


class WandbLogger(Logger):
    """Log to a W&B run (created on first use; a resumed fit continues it).

    Args:
        name: Display name of the run.
        save_dir: Folder of wandb's local files (``<save_dir>/wandb/``); also where this run's checkpoints go:
            ``<save_dir>/<project>/<run id>``.
        version: Run id to continue (Lightning's name; ``id`` is the same).
        offline: Write locally only (``mode="offline"``).
        id: Same as ``version``.
        anonymous: Log anonymously (``anonymous="allow"``).
        project: W&B project (default ``"lightning_logs"``).
        prefix: Put before every metric name (``"<prefix>-<name>"``).
        **kwargs: Passed to ``wandb.init`` (``entity``, ``tags``, ``group``, ``notes``...).
    """

    def __init__(
        self,
        name: str | None = None,
        save_dir: str = ".",
        version: str | None = None,
        offline: bool = False,
        id: str | None = None,  # noqa: A002 - Lightning's argument name
        anonymous: bool | None = None,
        project: str | None = None,
        prefix: str = "",
        **kwargs: Any,
    ) -> None:
        try:
            import wandb  # noqa: F401
        except ImportError:
            raise ImportError("WandbLogger needs wandb: pip install 'flashtrain-core[wandb]' (or wandb).") from None
        if fs.is_remote(os.fspath(save_dir)):
            raise ValueError(
                f"WandbLogger(save_dir={save_dir!r}): wandb writes its run files to a local folder only. Give a "
                "local save_dir; the run itself goes to the W&B server (or `wandb sync` later, when offline)."
            )
        self._save_dir = fs.local(os.fspath(save_dir))
        self._name = name
        self._id = version or id
        self._offline = offline
        self._anonymous = "allow" if anonymous else None
        self._project = project or "lightning_logs"
        self._prefix = prefix
        self._kwargs = kwargs
        self._run: Any = None

    @property
    def experiment(self) -> Any:
        """The ``wandb`` run (created on first use). On the other ranks of a distributed run a
        :class:`DummyExperiment` that writes nothing: only rank 0 has a run."""
        if self._run is None:
            if global_rank() != 0:
                return DummyExperiment()
            import wandb

            os.makedirs(self._save_dir, exist_ok=True)
            options: dict[str, Any] = dict(
                project=self._project,
                name=self._name,
                id=self._id,
                dir=self._save_dir,
                mode="offline" if self._offline else None,
                resume="allow",
                reinit="create_new",  # several runs (e.g. a fit and its resume) in one process
            )
            if self._anonymous is not None:
                options["anonymous"] = self._anonymous
            self._run = wandb.init(**options, **self._kwargs)
            self._id = self._run.id
            # Plot every metric against the trainer's step, whatever order the values arrive in.
            self._run.define_metric(_STEP_KEY)
            self._run.define_metric("*", step_metric=_STEP_KEY, step_sync=True)
        return self._run

    @property
    def name(self) -> str:
        return self._project

    @property
    def version(self) -> str:
        """The run id."""
        if self._id is not None:
            return self._id
        if global_rank() != 0:  # rank 0 creates the run; the trainer gives its id to the others (use_version)
            raise not_created_on_this_rank("WandbLogger", global_rank())
        return self.experiment.id

    def use_version(self, version: int | str) -> None:
        """Continue the run ``version`` (called when a checkpoint is resumed)."""
        if self._id != version:
            self._id = str(version)
            self._run = None

    @property
    def save_dir(self) -> str:
        return self._save_dir

    @property
    def log_dir(self) -> str:
        """``<save_dir>/<project>/<run id>``: the trainer puts its checkpoints under it."""
        return os.path.join(self._save_dir, self._project, self.version)

    def log_metrics(self, metrics: dict[str, Any], step: int | None = None) -> None:
        values = {self._prefixed(key): to_float(value) for key, value in metrics.items()}
        self.experiment.log(values if step is None else {**values, _STEP_KEY: step})

    def log_hyperparams(self, params: dict[str, Any]) -> None:
        self.experiment.config.update(_plain(params), allow_val_change=True)

    def log_model(
        self,
        model: Any,
        name: str | None = None,
        aliases: list[str] | None = None,
        card: dict[str, Any] | None = None,
    ) -> Any:
        """Log ``model``'s ``save_pretrained`` folder (or a folder given by path) as a W&B artifact of type
        ``"model"`` (name ``model-<run id>`` unless given; aliases ``["latest"]`` unless given); returns the
        ``wandb.Artifact`` (None on the other ranks). ``card``: what the model card should say beyond the model."""
        import wandb

        from flashtrain.core.loggers.model_folder import model_folder

        if global_rank() != 0:
            return None
        artifact = wandb.Artifact(name or f"model-{self.version}", type="model")
        with model_folder(model, card) as folder:
            artifact.add_dir(folder)  # copies the files into wandb's staging area: the folder may go afterwards
            self.experiment.log_artifact(artifact, aliases=aliases or ["latest"])
        return artifact

    def finalize(self, status: str) -> None:
        if self._run is not None:
            self._run.finish(exit_code=_EXIT_CODES.get(status, 0))
            self._run = None

    def _prefixed(self, key: str) -> str:
        return f"{self._prefix}-{key}" if self._prefix else key
