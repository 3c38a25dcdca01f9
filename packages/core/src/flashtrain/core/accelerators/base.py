"""The accelerator interface: which hardware a run uses and how to address it."""

from __future__ import annotations

from abc import ABC, abstractmethod

import torch


class Accelerator(ABC):
    """One kind of hardware. Subclasses are registered by name in ``flashtrain.core.accelerators``."""

    name: str = ""

    @staticmethod
    @abstractmethod
    def is_available() -> bool:
        """Whether this hardware can be used in this process."""

    @staticmethod
    @abstractmethod
    def device_count() -> int:
        """How many devices of this kind the process can see."""

    @abstractmethod
    def get_device(self, index: int) -> torch.device:
        """The torch device for a local device index."""

    def setup_device(self, device: torch.device) -> None:  # noqa: B027 - optional hook
        """Prepare the device before the model is moved onto it (e.g. ``torch.cuda.set_device``)."""

    def unavailable_hint(self) -> str:
        """One sentence telling the user how to get or avoid this hardware."""
        return "use accelerator='cpu' or accelerator='auto'"

    @property
    def autocast_device_type(self) -> str:
        """The ``device_type`` argument for ``torch.autocast`` on this hardware."""
        return self.name
