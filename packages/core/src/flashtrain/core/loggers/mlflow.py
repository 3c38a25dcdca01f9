"""Metrics and hyper-parameters in an MLflow tracking store, through ``mlflow``'s own client (imported on first use).

Install with ``pip install flashtrain-core[mlflow]``. Names and arguments follow Lightning 2.x's ``MLFlowLogger``.
"""

from __future__ import annotations

import os
import time
from typing import Any

from flashtrain.core.loggers.base import DummyExperiment, Logger, _plain, not_created_on_this_rank, to_float
from flashtrain.core.utilities import fs
from flashtrain.core.utilities.rank_zero import global_rank

# Trainer finalize status -> MLflow RunStatus name.
_RUN_STATUS = {"success": "FINISHED", "failed": "FAILED", "interrupted": "KILLED"}
_BATCH = 100  # MLflow's log_batch accepts at most 100 params and 1000 metrics per call


class MLFlowLogger(Logger):
    """Log to MLflow: one MLflow run per fit, in the experiment ``experiment_name`` (created if missing).

    Args:
        experiment_name: MLflow experiment; created on first use if it does not exist.
        run_name: Name shown for the run in the MLflow UI.
        tracking_uri: Where the store is: ``"sqlite:///mlflow.db"``, ``"file:./mlruns"``, ``"http://host:5000"``...
            Defaults to ``$MLFLOW_TRACKING_URI``, else an SQLite store ``<save_dir>/mlflow.db`` with artifacts in
            ``<save_dir>/artifacts`` (MLflow 3 refuses new file stores; Lightning's default was ``file:./mlruns``).
        tags: Tags set on the run.
        save_dir: Folder of the default store when no tracking URI is given; also where this run's local files
            (checkpoints) go: ``<save_dir>/<experiment_id>/<run_id>``.
        prefix: Put before every metric name (``"<prefix>-<name>"``).
        artifact_location: Artifact root for a newly created experiment.
        run_id: Continue this existing run instead of creating one.
    """

    def __init__(
        self,
        experiment_name: str = "lightning_logs",
        run_name: str | None = None,
        tracking_uri: str | None = None,
        tags: dict[str, Any] | None = None,
        save_dir: str | None = "./mlruns",
        prefix: str = "",
        artifact_location: str | None = None,
        run_id: str | None = None,
    ) -> None:
        self._ensure_mlflow()
        tracking_uri = tracking_uri or os.environ.get("MLFLOW_TRACKING_URI")
        self._save_dir = os.fspath(save_dir) if save_dir is not None else "./mlruns"
        if tracking_uri is None:
            folder = os.path.abspath(fs.local(self._save_dir))
            os.makedirs(folder, exist_ok=True)
            tracking_uri = "sqlite:///" + os.path.join(folder, "mlflow.db")
            if artifact_location is None:
                artifact_location = "file:" + os.path.join(folder, "artifacts")
        self._tracking_uri = tracking_uri
        self._experiment_name = experiment_name
        self._run_name = run_name
        self._tags = dict(tags or {})
        self._prefix = prefix
        self._artifact_location = artifact_location
        self._run_id = run_id
        self._experiment_id: str | None = None
        self._client: Any = None

    @staticmethod
    def _ensure_mlflow() -> None:
        try:
            import mlflow  # noqa: F401
        except ImportError:
            raise ImportError(
                "MLFlowLogger needs mlflow: pip install 'flashtrain-core[mlflow]' (or mlflow / mlflow-skinny)."
            ) from None

    # -- the run --------------------------------------------------------------------------------------------------
    @property
    def experiment(self) -> Any:
        """The ``mlflow.MlflowClient``, with the experiment and run created on first use. On the other ranks of a
        distributed run a :class:`DummyExperiment` that writes nothing: only rank 0 opens the store."""
        if self._client is None:
            if global_rank() != 0:
                return DummyExperiment()
            self._open_run()
        return self._client

    def _open_run(self) -> tuple[str, str]:
        """Rank 0: the client, with this logger's run created (or continued); returns (experiment id, run id)."""
        from mlflow import MlflowClient

        client = MlflowClient(tracking_uri=self._tracking_uri)
        if self._run_id is not None:
            run_id = self._run_id
            run = client.get_run(run_id)
            experiment_id = run.info.experiment_id
            if run.info.status != "RUNNING":  # a resumed fit continues the run it stopped
                client.update_run(run_id, status="RUNNING")
        else:
            found = client.get_experiment_by_name(self._experiment_name)
            if found is not None:
                experiment_id = found.experiment_id
            else:
                experiment_id = client.create_experiment(
                    self._experiment_name, artifact_location=self._artifact_location
                )
            tags = {str(k): str(v) for k, v in self._tags.items()}
            if self._run_name is not None:
                tags["mlflow.runName"] = self._run_name
            run_id = client.create_run(experiment_id, tags=tags, run_name=self._run_name).info.run_id
        self._client, self._experiment_id, self._run_id = client, experiment_id, run_id
        return experiment_id, run_id

    @property
    def run_id(self) -> str:
        if self._run_id is not None:
            return self._run_id
        if global_rank() != 0:  # rank 0 creates the run; the trainer gives its id to the others (use_version)
            raise not_created_on_this_rank("MLFlowLogger", global_rank())
        return self._open_run()[1]

    @property
    def experiment_id(self) -> str:
        if self._experiment_id is not None:
            return self._experiment_id
        if global_rank() != 0:
            # Another rank only reads which experiment rank 0's run is in (log_dir, the checkpoints' folder, needs it).
            from mlflow import MlflowClient

            run = MlflowClient(tracking_uri=self._tracking_uri).get_run(self.run_id)
            self._experiment_id = run.info.experiment_id
            return run.info.experiment_id
        return self._open_run()[0]

    @property
    def tracking_uri(self) -> str:
        return self._tracking_uri

    @property
    def name(self) -> str:
        """The experiment id (as in Lightning)."""
        return self.experiment_id

    @property
    def version(self) -> str:
        """The run id (as in Lightning); a resumed fit continues this run."""
        return self.run_id

    def use_version(self, version: int | str) -> None:
        """Continue the MLflow run ``version`` (called when a checkpoint is resumed)."""
        if self._run_id != version:
            self._run_id = str(version)
            self._client = self._experiment_id = None  # read again from that run

    @property
    def save_dir(self) -> str:
        return self._save_dir

    @property
    def log_dir(self) -> str:
        """``<save_dir>/<experiment_id>/<run_id>``: the trainer puts its checkpoints under it."""
        return fs.join(self._save_dir, self.experiment_id, self.run_id)

    # -- writing --------------------------------------------------------------------------------------------------
    def log_metrics(self, metrics: dict[str, Any], step: int | None = None) -> None:
        from mlflow.entities import Metric

        step = 0 if step is None else step  # MLflow's own default step
        timestamp = int(time.time() * 1000)
        entries = [
            Metric(key=self._prefixed(key), value=to_float(value), timestamp=timestamp, step=step)
            for key, value in metrics.items()
        ]
        for start in range(0, len(entries), _BATCH):
            self.experiment.log_batch(self.run_id, metrics=entries[start : start + _BATCH])

    def log_hyperparams(self, params: dict[str, Any]) -> None:
        from mlflow.entities import Param

        try:
            from mlflow.utils.validation import MAX_PARAM_VAL_LENGTH as limit
        except ImportError:  # older mlflow
            limit = 500
        flat = _flatten(_plain(params))
        entries = [Param(key, str(value)[:limit]) for key, value in flat.items()]
        for start in range(0, len(entries), _BATCH):
            self.experiment.log_batch(self.run_id, params=entries[start : start + _BATCH])

    def log_model(self, model: Any, artifact_path: str = "model", card: dict[str, Any] | None = None) -> str | None:
        """Upload ``model``'s ``save_pretrained`` folder (or a folder given by path) as this run's artifacts under
        ``artifact_path``; returns its URI (``runs:/<run id>/<artifact_path>``; None on the other ranks).
        ``card``: what the model card should say beyond the model (see ``flashtrain.tasks.pretrained``)."""
        from flashtrain.core.loggers.model_folder import model_folder

        if global_rank() != 0:
            return None
        with model_folder(model, card, name=os.path.basename(artifact_path) or "model") as folder:
            self.experiment.log_artifacts(self.run_id, folder, artifact_path)
        return f"runs:/{self.run_id}/{artifact_path}"

    def finalize(self, status: str) -> None:
        if self._client is None:
            return
        self._client.set_terminated(self._run_id, status=_RUN_STATUS.get(status, "FINISHED"))

    def _prefixed(self, key: str) -> str:
        return f"{self._prefix}-{key}" if self._prefix else key


def _flatten(params: dict[str, Any], parent: str = "") -> dict[str, Any]:
    """``{"optim": {"lr": 0.1}}`` -> ``{"optim/lr": 0.1}`` (MLflow params are flat strings)."""
    flat: dict[str, Any] = {}
    for key, value in params.items():
        name = f"{parent}/{key}" if parent else str(key)
        if isinstance(value, dict):
            flat.update(_flatten(value, name))
        else:
            flat[name] = value
    return flat
