"""``Throughput``: rolling batches/samples/items per second from running totals (Lightning Fabric's public utility).

Our own small class rather than a dependency: it is arithmetic over a window of counters, and Fabric is not a
dependency of flashtrain. FLOPs are used when given (``flops=``); ``device/mfu`` needs ``available_flops``.
"""

from __future__ import annotations

from collections import deque
from collections.abc import Callable
from typing import Any


class _IncreasingWindow(list[float]):
    """The last ``maxlen`` values; each must be larger than the one before (a counter or a clock)."""

    def __init__(self, maxlen: int) -> None:
        super().__init__()
        self.maxlen = maxlen

    def append(self, value: float) -> None:
        if self and self[-1] >= value:
            raise ValueError(f"Expected the value to increase, last: {self[-1]}, current: {value}")
        super().append(value)
        if len(self) > self.maxlen:
            del self[0]


class Throughput:
    """Call ``update`` with running totals (elapsed ``time``, ``batches``, ``samples``, optional ``lengths`` and
    per-update ``flops``); ``compute`` gives the totals and, once ``window_size`` updates were seen, the per-second
    rates over that window: ``device/batches_per_sec``, ``device/samples_per_sec`` (``device/items_per_sec`` with
    lengths), and with ``world_size > 1`` the global ``batches_per_sec`` ... as well."""

    def __init__(
        self, available_flops: float | None = None, world_size: int = 1, window_size: int = 100, separator: str = "/"
    ) -> None:
        if world_size < 1:
            raise ValueError(f"Throughput(world_size={world_size}): the number of devices must be at least 1.")
        if window_size < 2:
            raise ValueError(
                f"Throughput(window_size={window_size}): a rate needs at least 2 updates in the window; pass 2 or more."
            )
        self.available_flops = available_flops
        self.world_size = world_size
        self.separator = separator
        self.window_size = window_size
        self.reset()

    def reset(self) -> None:
        """Forget every update (a new run starts counting from zero)."""
        self.times = _IncreasingWindow(self.window_size)
        self.batches = _IncreasingWindow(self.window_size)
        self.samples = _IncreasingWindow(self.window_size)
        self.lengths = _IncreasingWindow(self.window_size)
        self.flops: deque[float] = deque(maxlen=self.window_size)

    def update(
        self, *, time: float, batches: int, samples: int, lengths: int | None = None, flops: float | None = None
    ) -> None:
        if samples < batches:
            raise ValueError(f"Expected samples ({samples}) to be greater or equal than batches ({batches})")
        if lengths is not None and lengths < samples:
            raise ValueError(f"Expected lengths ({lengths}) to be greater or equal than samples ({samples})")
        self.times.append(time)
        self.batches.append(batches)
        self.samples.append(samples)
        if lengths is not None:
            self.lengths.append(lengths)
        if flops is not None:
            self.flops.append(flops * self.world_size)  # summed over devices

    def compute(self) -> dict[str, int | float]:
        metrics: dict[str, int | float] = {
            "time": self.times[-1],
            "batches": self.batches[-1],
            "samples": self.samples[-1],
        }
        if self.lengths:
            metrics["lengths"] = self.lengths[-1]
        if len(self.times) < self.window_size:
            return metrics
        elapsed = self.times[-1] - self.times[0]
        rates = {
            "batches_per_sec": (self.batches[-1] - self.batches[0]) / elapsed,
            "samples_per_sec": (self.samples[-1] - self.samples[0]) / elapsed,
        }
        if len(self.lengths) == self.window_size:
            rates["items_per_sec"] = (self.lengths[-1] - self.lengths[0]) / elapsed
        if len(self.flops) == self.window_size:
            rates["flops_per_sec"] = (sum(self.flops) - self.flops[0]) / elapsed / self.world_size
        for name, per_device in rates.items():
            metrics[f"device{self.separator}{name}"] = per_device
            if self.world_size > 1:
                metrics[name] = per_device * self.world_size
        if "flops_per_sec" in rates and self.available_flops:
            metrics[f"device{self.separator}mfu"] = rates["flops_per_sec"] / self.available_flops
        return metrics


def measure_flops(model: Any, forward_fn: Callable[[], Any], loss_fn: Callable[[Any], Any] | None = None) -> int:
    """The FLOPs of one ``forward_fn()`` call, or with ``loss_fn`` of the forward, the loss and its backward
    (Lightning's utility), counted by torch's ``FlopCounterMode``. Build the model and inputs under
    ``torch.device("meta")`` to count without computing. ``model`` is the module measured (kept for Lightning's
    signature: the counter sees every operation run inside)."""
    from torch.utils.flop_counter import FlopCounterMode

    counter = FlopCounterMode(display=False)
    with counter:
        output = forward_fn()
        if loss_fn is not None:
            loss_fn(output).backward()
    return int(counter.get_total_flops())
