"""``DeviceStatsMonitor``: the accelerator's memory (and optionally CPU) statistics logged around every batch
(Lightning 2's callback)."""

from __future__ import annotations

from typing import Any

from flashtrain.core.callbacks.base import Callback
from flashtrain.core.exceptions import MisconfigurationException


def device_stats(device: Any) -> dict[str, float]:
    """What torch reports about ``device``: every ``torch.cuda.memory_stats`` counter on CUDA (torch's names,
    ``allocated_bytes.all.current``...), the CPU's load and memory through psutil on the CPU."""
    import torch

    if device.type == "cuda":
        return {key: float(value) for key, value in torch.cuda.memory_stats(device).items()}
    if device.type == "mps":
        return {"mps.current_allocated_bytes": float(torch.mps.current_allocated_memory())}
    return cpu_stats()


def cpu_stats() -> dict[str, float]:
    """The machine's CPU load and memory use in percent (psutil; Lightning's metric names)."""
    import psutil

    return {
        "cpu_vm_percent": psutil.virtual_memory().percent,
        "cpu_percent": psutil.cpu_percent(),
        "cpu_swap_percent": psutil.swap_memory().percent,
    }


class DeviceStatsMonitor(Callback):
    """Log the device's statistics at the start and end of every training, validation and test batch, every
    ``log_every_n_steps`` (metric names ``DeviceStatsMonitor.on_train_batch_start/<stat>``...).

    Args:
        cpu_stats: Add the CPU's statistics (psutil) when training on an accelerator; None: only on the CPU.

    Raises:
        MisconfigurationException: in ``fit`` without a logger (the statistics would go nowhere).
        ModuleNotFoundError: CPU statistics are asked for and psutil is not installed.
    """

    def __init__(self, cpu_stats: bool | None = None) -> None:
        self.cpu_stats = cpu_stats

    def setup(self, trainer: Any, pl_module: Any, stage: str) -> None:
        if stage != "fit":
            return
        if not trainer.loggers:
            raise MisconfigurationException("Cannot use `DeviceStatsMonitor` callback with `Trainer(logger=False)`.")
        on_cpu = trainer.strategy.root_device.type == "cpu"
        if self.cpu_stats or (self.cpu_stats is None and on_cpu):
            try:
                import psutil  # noqa: F401 - checked now, not at the first batch
            except ImportError:
                raise ModuleNotFoundError(
                    "`DeviceStatsMonitor` cannot log CPU stats as `psutil` is not installed: `pip install psutil`, "
                    "or pass `DeviceStatsMonitor(cpu_stats=False)` on an accelerator."
                ) from None

    def _log(self, trainer: Any, hook: str) -> None:
        if not trainer.loggers or trainer.global_step % max(trainer.log_every_n_steps, 1) != 0:
            return
        device = trainer.strategy.root_device
        stats = device_stats(device) if device.type != "cpu" or self.cpu_stats is not False else {}
        if self.cpu_stats and device.type != "cpu":
            stats.update(cpu_stats())
        prefix = f"{type(self).__qualname__}.{hook}/"
        metrics = {prefix + key: value for key, value in stats.items()}
        if metrics:
            for logger in trainer.loggers:
                logger.log_metrics(metrics, step=trainer.global_step)

    def on_train_batch_start(self, trainer: Any, pl_module: Any, batch: Any, batch_idx: int) -> None:
        self._log(trainer, "on_train_batch_start")

    def on_train_batch_end(self, trainer: Any, pl_module: Any, outputs: Any, batch: Any, batch_idx: int) -> None:
        self._log(trainer, "on_train_batch_end")

    def on_validation_batch_start(self, trainer: Any, pl_module: Any, batch: Any, batch_idx: int, *args: Any) -> None:
        self._log(trainer, "on_validation_batch_start")

    def on_validation_batch_end(self, trainer: Any, pl_module: Any, outputs: Any, batch: Any, *args: Any) -> None:
        self._log(trainer, "on_validation_batch_end")

    def on_test_batch_start(self, trainer: Any, pl_module: Any, batch: Any, batch_idx: int, *args: Any) -> None:
        self._log(trainer, "on_test_batch_start")

    def on_test_batch_end(self, trainer: Any, pl_module: Any, outputs: Any, batch: Any, *args: Any) -> None:
        self._log(trainer, "on_test_batch_end")
