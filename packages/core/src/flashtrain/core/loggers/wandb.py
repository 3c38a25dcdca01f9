"""Metrics, media and checkpoints in a Weights & Biases run, through ``wandb`` (imported on first use).

Install with ``pip install flashtrain-core[wandb]``. Names and arguments follow Lightning 2.x's ``WandbLogger``;
``offline=True`` writes the run under ``<save_dir>/wandb/`` for a later ``wandb sync``, with no network.
"""

from __future__ import annotations

import atexit
import functools
import os
import warnings
from typing import Any, Literal

from flashtrain.core.exceptions import MisconfigurationException
from flashtrain.core.loggers.base import DummyExperiment, Logger, _plain, not_created_on_this_rank
from flashtrain.core.utilities import fs
from flashtrain.core.utilities.rank_zero import global_rank

_EXIT_CODES = {"success": 0, "failed": 1, "interrupted": 255}
_STEP_KEY = "trainer/global_step"


class WandbLogger(Logger):
    """Log to a W&B run (created on first use, or the ``wandb.run`` already in progress; a resumed fit continues
    it). The run stays open after ``fit`` so that a following ``validate``/``test`` logs into it (as Lightning);
    ``wandb.finish()`` (or the process ending) closes it. A failed or interrupted fit closes it with that status.

    Args:
        name: Display name of the run.
        save_dir: Folder of wandb's local files (``<save_dir>/wandb/``); also where this run's checkpoints go:
            ``<save_dir>/<project>/<run id>``.
        version: Run id to continue (Lightning's name; ``id`` is the same).
        offline: Write locally only (``mode="offline"``).
        dir: Same as ``save_dir`` (wandb's name), used when ``save_dir`` is None.
        id: Same as ``version``.
        anonymous: Log anonymously (``anonymous="allow"``).
        project: W&B project (default: ``$WANDB_PROJECT``, else ``"lightning_logs"``).
        log_model: Upload the ``ModelCheckpoint`` files as ``model`` artifacts: ``True`` the final ones when fit
            ends (every file as it is written when ``save_top_k=-1``), ``"all"`` every file as it is written.
        experiment: A wandb run to log to instead of creating one.
        prefix: Put before every metric name (``"<prefix>-<name>"``).
        checkpoint_name: Name of the checkpoint artifacts (default ``model-<run id>``).
        add_file_policy: wandb's ``policy`` for the checkpoint file in the artifact (``"mutable"``/``"immutable"``).
        **kwargs: Passed to ``wandb.init`` (``entity``, ``tags``, ``group``, ``notes``, ``sync_tensorboard``...).
    """

    LOGGER_JOIN_CHAR = "-"

    def __init__(
        self,
        name: str | None = None,
        save_dir: str | os.PathLike | None = ".",
        version: str | None = None,
        offline: bool = False,
        dir: str | os.PathLike | None = None,  # noqa: A002 - Lightning's (and wandb's) argument name
        id: str | None = None,  # noqa: A002 - Lightning's argument name
        anonymous: bool | None = None,
        project: str | None = None,
        log_model: Literal["all"] | bool = False,
        experiment: Any = None,
        prefix: str = "",
        checkpoint_name: str | None = None,
        add_file_policy: Literal["mutable", "immutable"] = "mutable",
        **kwargs: Any,
    ) -> None:
        try:
            import wandb  # noqa: F401
        except ImportError:
            raise ImportError("WandbLogger needs wandb: pip install 'flashtrain-core[wandb]' (or wandb).") from None
        if offline and log_model:
            raise MisconfigurationException(
                f"Providing log_model={log_model} and offline={offline} is an invalid configuration since model "
                "checkpoints cannot be uploaded in offline mode.\nHint: Set `offline=False` to log your model."
            )
        folder = os.fspath(save_dir if save_dir is not None else dir if dir is not None else ".")
        if fs.is_remote(folder):
            raise ValueError(
                f"WandbLogger(save_dir={folder!r}): wandb writes its run files to a local folder only. Give a "
                "local save_dir; the run itself goes to the W&B server (or `wandb sync` later, when offline)."
            )
        self._save_dir = fs.local(folder)
        self._name = name
        self._id = version or id
        self._offline = offline
        self._anonymous = "allow" if anonymous else None
        self._project = project or os.environ.get("WANDB_PROJECT", "lightning_logs")
        self._prefix = prefix
        self._kwargs = kwargs
        self._run: Any = experiment
        self.upload_checkpoints = log_model
        self.checkpoint_name = checkpoint_name
        self.add_file_policy = add_file_policy
        self._pending_uploads: dict[int, Any] = {}  # id -> ModelCheckpoint whose files go up when fit ends
        self._uploaded: dict[str, float] = {}  # checkpoint path -> its mtime when uploaded

    def __getstate__(self) -> dict[str, Any]:
        # The run (a live connection) is not pickled; the copy continues the same run by its id.
        state = dict(self.__dict__)
        if self._run is not None:
            state["_id"] = getattr(self._run, "id", self._id)
        state["_run"] = None
        return state

    @property
    def experiment(self) -> Any:
        """The ``wandb`` run (created on first use). On the other ranks of a distributed run a
        :class:`DummyExperiment` that writes nothing: only rank 0 has a run."""
        if self._run is None:
            if global_rank() != 0:
                return DummyExperiment()
            import wandb

            if wandb.run is not None and self._id in (None, wandb.run.id):
                warnings.warn(
                    "There is a wandb run already in progress and newly created instances of `WandbLogger` will "
                    "reuse this run. If this is not desired, call `wandb.finish()` before instantiating `WandbLogger`.",
                    UserWarning,
                    stacklevel=2,
                )
                self._run = wandb.run
                return self._run
            os.makedirs(self._save_dir, exist_ok=True)
            options: dict[str, Any] = dict(
                name=self._name,
                project=self._project,
                dir=self._save_dir,
                id=self._id,
                resume="allow",
                anonymous=self._anonymous,
            )
            if self._offline:
                options["mode"] = "offline"
            self._run = wandb.init(**{**options, **self._kwargs})
            # The run stays open after a successful fit (Lightning's: test/predict log to it). Close it, and wait
            # for its files, before the interpreter ends: under torchrun the agent stops a rank's leftover
            # processes (wandb's writer among them) once the rank exits, which lost the run's exit record.
            atexit.register(functools.partial(_finish_at_exit, self._run))  # one callable, no arguments
            # Plot every metric against the trainer's step, whatever order the values arrive in (TensorBoard's
            # own step when W&B mirrors a TensorBoard log). A run without define_metric (disabled) is left as is.
            define_metric = getattr(self._run, "define_metric", None)
            if define_metric is not None:
                if self._kwargs.get("sync_tensorboard"):
                    define_metric("*", step_metric="global_step")
                else:
                    define_metric(_STEP_KEY)
                    define_metric("*", step_metric=_STEP_KEY, step_sync=True)
        return self._run

    @property
    def name(self) -> str:
        """The W&B project (the run's own name is ``logger.experiment.name``)."""
        return self._project

    @property
    def version(self) -> str:
        """The run id."""
        if self._run is not None and not isinstance(self._run, DummyExperiment):
            return self._run.id
        if self._id is not None:
            return self._id
        if global_rank() != 0:  # rank 0 creates the run; the trainer gives its id to the others (use_version)
            raise not_created_on_this_rank("WandbLogger", global_rank())
        return self.experiment.id

    def use_version(self, version: int | str) -> None:
        """Continue the run ``version`` (called when a checkpoint is resumed)."""
        current = self._run.id if self._run is not None and not isinstance(self._run, DummyExperiment) else self._id
        if current != version:
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
        """Log values (numbers, tensors, or wandb media objects) at ``step`` (W&B's x-axis ``trainer/global_step``,
        except under ``sync_tensorboard=True``, where TensorBoard's step is the axis)."""
        values = {self._prefixed(key): _loggable(value) for key, value in metrics.items()}
        if step is not None and not self._kwargs.get("sync_tensorboard"):
            values[_STEP_KEY] = step
        self.experiment.log(values)

    def log_hyperparams(self, params: dict[str, Any]) -> None:
        self.experiment.config.update(_plain(params), allow_val_change=True)

    def watch(self, model: Any, log: str | None = "gradients", log_freq: int = 100, log_graph: bool = True) -> None:
        """Log ``model``'s gradients and/or parameters every ``log_freq`` steps (``wandb.watch``)."""
        self.experiment.watch(model, log=log, log_freq=log_freq, log_graph=log_graph)

    # -- media ---------------------------------------------------------------------------------------------------
    def log_table(
        self,
        key: str,
        columns: list[str] | None = None,
        data: list[list[Any]] | None = None,
        dataframe: Any = None,
        step: int | None = None,
    ) -> None:
        """Log a ``wandb.Table``, from ``columns`` and ``data`` or from a ``dataframe``."""
        import wandb

        table: dict[str, Any] = dict(columns=columns, data=data, dataframe=dataframe)
        self.log_metrics({key: wandb.Table(**table)}, step)

    def log_text(
        self,
        key: str,
        columns: list[str] | None = None,
        data: list[list[str]] | None = None,
        dataframe: Any = None,
        step: int | None = None,
    ) -> None:
        """Log text as a table (see :meth:`log_table`)."""
        self.log_table(key, columns, data, dataframe, step)

    def log_image(self, key: str, images: list[Any], step: int | None = None, **kwargs: list[Any]) -> None:
        """Log images (tensors, arrays, PIL images or file paths); each keyword (``caption``, ``masks``...) is a
        list with one entry per image."""
        import wandb

        self.log_metrics({key: _media(wandb.Image, "images", images, kwargs)}, step)

    def log_audio(self, key: str, audios: list[Any], step: int | None = None, **kwargs: list[Any]) -> None:
        """Log audio clips (arrays or file paths); keywords (``caption``, ``sample_rate``) are per-clip lists."""
        import wandb

        self.log_metrics({key: _media(wandb.Audio, "audios", audios, kwargs)}, step)

    def log_video(self, key: str, videos: list[Any], step: int | None = None, **kwargs: list[Any]) -> None:
        """Log videos (arrays or file paths); keywords (``caption``, ``fps``, ``format``) are per-video lists."""
        import wandb

        self.log_metrics({key: _media(wandb.Video, "videos", videos, kwargs)}, step)

    # -- artifacts -----------------------------------------------------------------------------------------------
    def log_model(
        self,
        model: Any,
        name: str | None = None,
        aliases: list[str] | None = None,
        card: dict[str, Any] | None = None,
    ) -> Any:
        """Log ``model``'s ``save_pretrained`` folder (or a folder given by path) as a W&B artifact of type
        ``"model"`` (name ``model-<run id>`` unless given; aliases ``["latest"]`` unless given); returns the
        ``wandb.Artifact`` (None on the other ranks). ``card``: what the model card should say beyond the model.

        (The constructor's ``log_model=`` is Lightning's checkpoint upload, kept as ``upload_checkpoints``.)"""
        import wandb

        from flashtrain.core.loggers.model_folder import model_folder

        if global_rank() != 0:
            return None
        artifact = wandb.Artifact(name or f"model-{self.version}", type="model")
        with model_folder(model, card) as folder:
            artifact.add_dir(folder)  # copies the files into wandb's staging area: the folder may go afterwards
            self.experiment.log_artifact(artifact, aliases=aliases or ["latest"])
        return artifact

    def after_save_checkpoint(self, checkpoint_callback: Any) -> None:
        """Upload the callback's new files now (``log_model="all"``, or ``True`` with ``save_top_k=-1``), or
        remember the callback so its final files go up when fit ends (``log_model=True``)."""
        every_file = checkpoint_callback.save_top_k == -1
        if self.upload_checkpoints == "all" or (self.upload_checkpoints is True and every_file):
            self._upload_checkpoints(checkpoint_callback)
        elif self.upload_checkpoints is True:
            self._pending_uploads[id(checkpoint_callback)] = checkpoint_callback

    def _upload_checkpoints(self, checkpoint_callback: Any) -> None:
        import wandb

        from flashtrain.core.loggers.checkpoint_upload import checkpoint_metadata, new_checkpoint_files

        for file in new_checkpoint_files(checkpoint_callback, self._uploaded):
            if not self.checkpoint_name:
                self.checkpoint_name = f"model-{self.experiment.id}"
            metadata = checkpoint_metadata(checkpoint_callback, file)
            artifact = wandb.Artifact(name=self.checkpoint_name, type="model", metadata=metadata)
            artifact.add_file(file.path, name="model.ckpt", policy=self.add_file_policy)
            self.experiment.log_artifact(artifact, aliases=["latest", "best"] if file.best else ["latest"])
            self._uploaded[file.path] = file.modified

    @staticmethod
    def download_artifact(
        artifact: str,
        save_dir: str | os.PathLike | None = None,
        artifact_type: str | None = None,
        use_artifact: bool | None = True,
    ) -> str:
        """Download an artifact (``"entity/project/name:alias"``) into ``save_dir``; returns its folder. Inside a
        run (and with ``use_artifact``) the run records that it used it."""
        import wandb

        if wandb.run is not None and use_artifact:
            found = wandb.run.use_artifact(artifact)
        else:
            found = wandb.Api().artifact(artifact, type=artifact_type)
        return found.download(root=None if save_dir is None else os.fspath(save_dir))

    def use_artifact(self, artifact: str, artifact_type: str | None = None) -> Any:
        """Record that this run uses ``artifact``; returns the ``wandb.Artifact``."""
        return self.experiment.use_artifact(artifact, type=artifact_type)

    def finalize(self, status: str) -> None:
        if global_rank() != 0 or self._run is None:
            return
        if status != "success":
            self._run.finish(exit_code=_EXIT_CODES.get(status, 1))
            self._run = None
            return
        for checkpoint_callback in self._pending_uploads.values():
            self._upload_checkpoints(checkpoint_callback)

    def _prefixed(self, key: str) -> str:
        return f"{self._prefix}{self.LOGGER_JOIN_CHAR}{key}" if self._prefix else key


def _finish_at_exit(run: Any) -> None:
    """Finish ``run`` if nothing else has (a finished run ignores a second ``finish``)."""
    finish = getattr(run, "finish", None)
    if finish is not None:
        finish()


def _loggable(value: Any) -> Any:
    """A logged value as wandb takes it: tensors and numpy scalars as Python numbers, anything else (a number, a
    ``wandb.Image``, a list of them) unchanged."""
    if type(value).__module__.split(".")[0] in ("torch", "numpy") and hasattr(value, "item"):
        return value.item()
    return value


def _media(kind: Any, argument: str, items: Any, per_item: dict[str, list[Any]]) -> list[Any]:
    """``kind(item, **its keywords)`` for each item; the keywords are lists with one entry per item."""
    if not isinstance(items, list):
        raise TypeError(f'Expected a list as "{argument}", found {type(items)}')
    for key, values in per_item.items():
        if len(values) != len(items):
            raise ValueError(f"Expected {len(items)} items but only found {len(values)} for {key}")
    return [kind(item, **{key: values[i] for key, values in per_item.items()}) for i, item in enumerate(items)]
