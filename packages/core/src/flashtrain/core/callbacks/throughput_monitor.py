"""``ThroughputMonitor``: logs batches, samples (and items) per second of each stage (Lightning's callback)."""

from __future__ import annotations

import time
import warnings
from collections.abc import Callable
from typing import Any

from flashtrain.core.callbacks.base import Callback
from flashtrain.core.utilities.throughput import Throughput


class ThroughputMonitor(Callback):
    """Logs ``train|device/batches_per_sec``, ``train|device/samples_per_sec`` (``.../items_per_sec`` with
    ``length_fn``) and the running totals ``train|time``, ``train|batches``, ``train|samples``; likewise
    ``validate|...``, ``test|...``, ``predict|...`` for evaluation. Rates appear once ``window_size`` (default 100)
    batches were seen. Time spent validating inside ``fit`` is not counted as training time.

    Args:
        batch_size_fn: the number of samples in a batch (``lambda batch: batch[0].size(0)``).
        length_fn: the number of items (tokens, say) in a batch, for ``items_per_sec``.
        **kwargs: passed to :class:`~flashtrain.core.utilities.throughput.Throughput` (``window_size``; ``separator``,
            "/" by default, also joins the stage to each name).

    A module with a ``flops_per_batch`` attribute also gets ``device/flops_per_sec`` (no FLOPs are guessed).
    """

    def __init__(
        self, batch_size_fn: Callable[[Any], int], length_fn: Callable[[Any], int] | None = None, **kwargs: Any
    ) -> None:
        if not callable(batch_size_fn):
            raise TypeError(
                f"ThroughputMonitor(batch_size_fn={batch_size_fn!r}): pass a function that returns a batch's number"
                " of samples, e.g. `lambda batch: batch[0].size(0)`."
            )
        self.batch_size_fn = batch_size_fn
        self.length_fn = length_fn
        self.kwargs = kwargs
        self._throughputs: dict[str, Throughput] = {}
        self._started: dict[str, float] = {}
        self._counts: dict[str, list[int]] = {}  # stage -> [batches, samples, lengths]
        self._warned_flops = False

    def setup(self, trainer: Any, pl_module: Any, stage: str) -> None:
        for name in ("train", "validate", "test", "predict"):
            self._throughputs.setdefault(name, Throughput(world_size=trainer.world_size, **self.kwargs))

    def _start(self, trainer: Any, stage: str) -> None:
        if trainer.state.fn == "fit" or stage not in self._counts:  # outside fit, repeated runs keep counting
            self._throughputs[stage].reset()
            self._counts[stage] = [0, 0, 0]
        self._started[stage] = time.perf_counter()

    def _update(self, trainer: Any, pl_module: Any, batch: Any, stage: str) -> None:
        import torch

        if trainer.strategy.root_device.type == "cuda":
            torch.cuda.synchronize()  # the clock must see the batch's kernels finished
        elapsed = time.perf_counter() - self._started[stage]
        counts = self._counts[stage]
        with torch.inference_mode():  # the size functions must not record autograd history
            counts[0] += 1
            counts[1] += self.batch_size_fn(batch)
            if self.length_fn is not None:
                counts[2] += self.length_fn(batch)
        flops = getattr(pl_module, "flops_per_batch", None)
        if not hasattr(pl_module, "flops_per_batch") and not self._warned_flops:
            self._warned_flops = True
            warnings.warn(
                "When using the `ThroughputMonitor`, you need to define a `flops_per_batch` attribute or property"
                f" in {type(pl_module).__name__} to compute the FLOPs.",
                UserWarning,
                stacklevel=2,
            )
        self._throughputs[stage].update(
            time=elapsed,
            batches=counts[0],
            samples=counts[1],
            lengths=counts[2] if self.length_fn is not None else None,
            flops=flops,
        )

    def _log(self, trainer: Any, stage: str, step: int) -> None:
        throughput = self._throughputs[stage]
        metrics: dict[str, Any] = {
            f"{stage}{throughput.separator}{key}": value for key, value in throughput.compute().items()
        }
        if stage == "train":  # as the Trainer's own training rows (Lightning): the epoch, at the step before this one
            metrics["epoch"] = trainer.current_epoch
        for logger in trainer.loggers:
            logger.log_metrics(metrics=metrics, step=step)

    def _log_every(self, trainer: Any) -> int:
        return 1 if trainer.limits.fast_dev_run else trainer.limits.log_every_n_steps

    # -- training -----------------------------------------------------------------------------------------------
    def on_train_start(self, trainer: Any, pl_module: Any) -> None:
        if trainer.is_global_zero:
            self._start(trainer, "train")

    def on_train_batch_end(self, trainer: Any, pl_module: Any, outputs: Any, batch: Any, batch_idx: int) -> None:
        if not trainer.is_global_zero:
            return
        self._update(trainer, pl_module, batch, "train")
        batches = self._counts["train"][0]
        if (
            batches % trainer.limits.accumulate_grad_batches == 0
            and trainer.global_step % self._log_every(trainer) == 0
        ):
            self._log(trainer, "train", trainer.global_step - 1)

    # -- evaluation ---------------------------------------------------------------------------------------------
    def _eval_start(self, trainer: Any, stage: str) -> None:
        if trainer.is_global_zero and not trainer.sanity_checking:
            self._start(trainer, stage)

    def _eval_batch_end(self, trainer: Any, pl_module: Any, batch: Any, stage: str) -> None:
        if not trainer.is_global_zero or trainer.sanity_checking:
            return
        self._update(trainer, pl_module, batch, stage)
        batches = self._counts[stage][0]
        if batches % self._log_every(trainer) == 0:
            self._log(trainer, stage, batches)

    def on_validation_start(self, trainer: Any, pl_module: Any) -> None:
        self._eval_start(trainer, "validate")

    def on_validation_batch_end(self, trainer: Any, pl_module: Any, outputs: Any, batch: Any, *args: Any) -> None:
        self._eval_batch_end(trainer, pl_module, batch, "validate")

    def on_validation_end(self, trainer: Any, pl_module: Any) -> None:
        if not trainer.is_global_zero or trainer.sanity_checking or trainer.state.fn != "fit":
            return
        train, validate = self._throughputs["train"], self._throughputs["validate"]
        if "train" in self._started and "validate" in self._started:
            # The training clock skips the pause and the validation run: its start moves forward by the time from
            # the last training batch's end to the validation's end (both read from the recorded times, no new clock).
            train_finished = self._started["train"] + (train.times[-1] if train.times else 0.0)
            validation_time = validate.times[-1] if validate.times else 0.0
            self._started["train"] += self._started["validate"] - train_finished + validation_time

    def on_test_start(self, trainer: Any, pl_module: Any) -> None:
        self._eval_start(trainer, "test")

    def on_test_batch_end(self, trainer: Any, pl_module: Any, outputs: Any, batch: Any, *args: Any) -> None:
        self._eval_batch_end(trainer, pl_module, batch, "test")

    def on_predict_start(self, trainer: Any, pl_module: Any) -> None:
        self._eval_start(trainer, "predict")

    def on_predict_batch_end(self, trainer: Any, pl_module: Any, outputs: Any, batch: Any, *args: Any) -> None:
        self._eval_batch_end(trainer, pl_module, batch, "predict")
