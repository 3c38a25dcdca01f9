"""One XLA device (a TPU core, or the CPU with ``PJRT_DEVICE=CPU``) through torch_xla.

XLA records operations lazily and compiles the graph of a whole step; ``sync`` at each new batch cuts
the graph there, so every training step is one compiled graph that is reused from the second step on.
"""

from __future__ import annotations

from typing import Any

import torch

from flashtrain.core.strategies.base import Strategy


def _torch_xla() -> Any:
    try:
        import torch_xla
    except ImportError as error:
        raise RuntimeError(
            "strategy='xla' needs torch_xla, the release that matches your torch (e.g. pip install torch==2.9.0 "
            f"torch_xla==2.9.0); set PJRT_DEVICE=TPU on a TPU VM or PJRT_DEVICE=CPU to try it on the CPU. ({error})"
        ) from error
    return torch_xla


class XLAStrategy(Strategy):
    name = "xla"
    supports_inference_mode = False  # XLA tensors cannot be inference tensors

    def __init__(self) -> None:
        super().__init__()
        self._device: torch.device | None = None

    @property
    def root_device(self) -> torch.device:
        if self._device is None:
            self._device = _torch_xla().device()
        return self._device

    def move_batch(self, batch: Any) -> Any:
        self.sync()  # ends the previous step's graph
        return super().move_batch(batch)

    def sync(self) -> None:
        """Compile and run what has been recorded so far."""
        torch_xla = _torch_xla()
        if hasattr(torch_xla, "sync"):
            torch_xla.sync()
        else:  # older torch_xla
            import torch_xla.core.xla_model as xm

            xm.mark_step()

    def teardown(self) -> None:
        if self._device is not None:
            self.sync()
