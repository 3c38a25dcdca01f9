"""TensorBoard event files, through ``torch.utils.tensorboard`` (imported on first write)."""

from __future__ import annotations

import os
import tempfile
import warnings
from typing import Any

import torch

from flashtrain.core.loggers.base import VersionedFolderLogger, _plain, to_float
from flashtrain.core.utilities import disk, fs


class TensorBoardLogger(VersionedFolderLogger):
    """Scalars and hyper-parameters in ``<save_dir>/<name>/version_<N>/events.out.tfevents.*``.

    ``SummaryWriter`` writes only to local folders. With an fsspec URL as ``save_dir`` (``memory://``,
    ``s3://``...) the event files are written to a local temporary folder and copied to ``log_dir`` at every
    ``save()`` (each epoch's end) and at the end of the run; a warning names both places.
    """

    NAME_HPARAMS_FILE = "hparams.yaml"

    def __init__(
        self,
        save_dir: str = ".",
        name: str | None = "lightning_logs",
        version: int | str | None = None,
        log_graph: bool = False,
        default_hp_metric: bool = True,
        sub_dir: str | None = None,
        flush_secs: int = 120,
    ) -> None:
        super().__init__(save_dir, name, version)
        self._log_graph = log_graph
        self._sub_dir = None if sub_dir is None else os.path.expandvars(os.path.expanduser(os.fspath(sub_dir)))
        self._flush_secs = flush_secs
        self._default_hp_metric = default_hp_metric
        self._writer: Any = None
        self._staging: str | None = None  # local folder of the event files when log_dir is a URL

    @property
    def log_dir(self) -> str:
        """``<save_dir>/<name>/version_<N>``, and ``sub_dir`` below it when given."""
        log_dir = super().log_dir
        return fs.join(log_dir, self._sub_dir) if self._sub_dir else log_dir

    @property
    def sub_dir(self) -> str | None:
        return self._sub_dir

    def log_graph(self, model: Any, input_array: Any = None) -> None:
        """The model's graph in TensorBoard (with ``log_graph=True``), traced on ``input_array`` or the model's
        ``example_input_array``."""
        if not self._log_graph:
            return
        example = input_array if input_array is not None else getattr(model, "example_input_array", None)
        if example is None:
            warnings.warn(
                "Could not log computational graph to TensorBoard: The `model.example_input_array` attribute is not "
                "set or `input_array` was not given.",
                stacklevel=2,
            )
            return
        if not isinstance(example, (torch.Tensor, tuple)):
            warnings.warn(
                "Could not log computational graph to TensorBoard: The `input_array` or `model.example_input_array` "
                f"has type {type(example)} which can't be traced by TensorBoard. Make the input array a tuple "
                "representing the positional arguments to the model's `forward()` implementation.",
                stacklevel=2,
            )
            return
        from flashtrain.core.export import jit_reading

        with jit_reading(model):  # add_graph traces the model with torch.jit
            self.experiment.add_graph(model, example)

    def __getstate__(self) -> dict[str, Any]:
        # The writer holds a thread and an open file: a pickled logger (a Trainer sent to spawned processes, a
        # deepcopy) opens its own writer on first use, in the same folder.
        if self._writer is not None:
            self._writer.flush()
        return {**self.__dict__, "_writer": None}

    @property
    def experiment(self) -> Any:
        """The ``SummaryWriter`` (created on first use), for images, histograms and the like."""
        if self._writer is None:
            from torch.utils.tensorboard import SummaryWriter

            with self._writing():  # the writer's first event is written (and flushed) at once
                self._writer = SummaryWriter(log_dir=self._writer_dir(), flush_secs=self._flush_secs)
        return self._writer

    def _writer_dir(self) -> str:
        if not fs.is_remote(self.log_dir):
            return fs.local(self.log_dir)
        if self._staging is None:
            self._staging = tempfile.mkdtemp(prefix="flashtrain-tensorboard-")
            warnings.warn(
                f"TensorBoard cannot write to {self.log_dir} directly: event files go to {self._staging} and are "
                "copied there at the end of every epoch and of the run.",
                stacklevel=3,
            )
        return self._staging

    def _upload(self) -> None:
        if self._staging is None:
            return
        for folder, _, names in os.walk(self._staging):
            relative = os.path.relpath(folder, self._staging)
            target = self.log_dir if relative == "." else fs.join(self.log_dir, *relative.split(os.sep))
            fs.makedirs(target)
            for name in names:
                fs.upload(os.path.join(folder, name), fs.join(target, name))

    def _writing(self) -> Any:
        """Event files are written by SummaryWriter's own thread; its error (a full disk) surfaces at the next call,
        with no file name: name the files it writes."""
        return disk.writing(os.path.join(self._writer_dir(), "events.out.tfevents.*"))

    def log_metrics(self, metrics: dict[str, Any], step: int | None = None) -> None:
        with self._writing():
            writer = self.experiment
            for key, value in metrics.items():
                writer.add_scalar(key, to_float(value), global_step=step)

    def log_hyperparams(
        self, params: dict[str, Any] | Any, metrics: dict[str, Any] | None = None, step: int | None = None
    ) -> None:
        """Hyper-parameters in ``hparams.yaml`` and TensorBoard's HPARAMS tab; ``metrics`` (logged at ``step``)
        go with them (else a placeholder ``hp_metric`` of -1 unless ``default_hp_metric=False``)."""
        from torch.utils.tensorboard.summary import hparams

        if not isinstance(params, dict):  # an argparse.Namespace
            params = dict(vars(params))
        plain = {k: v if isinstance(v, (bool, int, float, str)) else str(v) for k, v in _plain(params).items()}
        self.write_hparams_yaml(params)
        if plain:
            # As Lightning: a placeholder hp_metric, so TensorBoard's HPARAMS tab lists the run before any metric.
            if metrics is None:
                metrics = {"hp_metric": -1} if self._default_hp_metric else {}
            metrics = {key: to_float(value) for key, value in metrics.items()}
            if metrics:
                self.log_metrics(metrics, step)
            experiment, session_start, _ = hparams(plain, metrics)
            file_writer = self.experiment._get_file_writer()
            with self._writing():
                file_writer.add_summary(experiment)
                file_writer.add_summary(session_start)

    def save(self) -> None:
        if self._writer is not None:
            with self._writing():
                self._writer.flush()
            self._upload()
        self._write_missing_hparams_file()

    def _write_missing_hparams_file(self) -> None:
        """Every run folder has an ``hparams.yaml`` (``{}`` without hyper-parameters), as Lightning's."""
        made = self._version is not None and fs.exists(self.log_dir)  # a folder this run made (none claimed here)
        if made and not fs.isfile(fs.join(self.log_dir, self.NAME_HPARAMS_FILE)):
            self.write_hparams_yaml({})

    def finalize(self, status: str) -> None:
        self._write_missing_hparams_file()
        if self._writer is not None:
            writer, self._writer = self._writer, None  # closed once, even when the close itself fails
            with self._writing():
                writer.flush()
                writer.close()
            self._upload()
