"""TensorBoard event files, through ``torch.utils.tensorboard`` (imported on first write)."""

from __future__ import annotations

from typing import Any

from flashtrain.core.loggers.base import VersionedFolderLogger, _plain, to_float


class TensorBoardLogger(VersionedFolderLogger):
    """Scalars and hyper-parameters in ``<save_dir>/<name>/version_<N>/events.out.tfevents.*``."""

    def __init__(
        self, save_dir: str = ".", name: str = "logs", version: int | str | None = None, flush_secs: int = 120
    ) -> None:
        super().__init__(save_dir, name, version)
        self._flush_secs = flush_secs
        self._writer: Any = None

    @property
    def experiment(self) -> Any:
        """The ``SummaryWriter`` (created on first use), for images, histograms and the like."""
        if self._writer is None:
            from torch.utils.tensorboard import SummaryWriter

            self._writer = SummaryWriter(log_dir=self.log_dir, flush_secs=self._flush_secs)
        return self._writer

    def log_metrics(self, metrics: dict[str, Any], step: int) -> None:
        writer = self.experiment
        for key, value in metrics.items():
            writer.add_scalar(key, to_float(value), global_step=step)

    def log_hyperparams(self, params: dict[str, Any]) -> None:
        from torch.utils.tensorboard.summary import hparams

        plain = {k: v if isinstance(v, (bool, int, float, str)) else str(v) for k, v in _plain(params).items()}
        self.write_hparams_yaml(params)
        if plain:
            experiment, session_start, _ = hparams(plain, {})
            file_writer = self.experiment._get_file_writer()
            file_writer.add_summary(experiment)
            file_writer.add_summary(session_start)

    def save(self) -> None:
        if self._writer is not None:
            self._writer.flush()

    def finalize(self, status: str) -> None:
        if self._writer is not None:
            self._writer.flush()
            self._writer.close()
            self._writer = None
