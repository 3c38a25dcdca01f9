"""The strategy interface: where the model lives, how steps run, and how ranks talk to each other.

The fit loop only talks to a strategy, so single-device, DDP and XLA runs share one loop.
"""

from __future__ import annotations

import contextlib
from abc import ABC, abstractmethod
from typing import Any

import torch

from flashtrain.core.accelerators import Accelerator
from flashtrain.core.precision import Precision

# Entered once per training step: one shared do-nothing context (reusable) instead of a new one each step.
_NO_CONTEXT = contextlib.nullcontext()


class Strategy(ABC):
    """How a run is laid out over devices and processes."""

    name: str = ""
    supports_inference_mode: bool = True  # evaluation runs under torch.inference_mode (else no_grad)

    def __init__(self) -> None:
        self.accelerator: Accelerator | None = None
        self.precision: Precision = Precision()
        self.module: torch.nn.Module | None = None
        self._checkpoint_io: Any = None

    @property
    def checkpoint_io(self) -> Any:
        """The ``CheckpointIO`` plugin that writes and reads checkpoint files (``TorchCheckpointIO`` by default)."""
        if self._checkpoint_io is None:
            from flashtrain.core.checkpoint.checkpoint_io import TorchCheckpointIO

            self._checkpoint_io = TorchCheckpointIO()
        return self._checkpoint_io

    @checkpoint_io.setter
    def checkpoint_io(self, plugin: Any) -> None:
        self._checkpoint_io = plugin

    # -- layout ---------------------------------------------------------------------------------
    @property
    @abstractmethod
    def root_device(self) -> torch.device:
        """The device this process computes on."""

    @property
    def world_size(self) -> int:
        """Number of processes taking part."""
        return 1

    @property
    def global_rank(self) -> int:
        """This process's rank among all processes."""
        return 0

    @property
    def local_rank(self) -> int:
        """This process's rank on its machine."""
        return 0

    @property
    def is_global_zero(self) -> bool:
        """Whether this process writes logs and checkpoints."""
        return self.global_rank == 0

    # -- life cycle -----------------------------------------------------------------------------
    def setup_environment(self) -> None:
        """Select the device (and join the process group for distributed strategies)."""
        assert self.accelerator is not None
        self.accelerator.setup_device(self.root_device)

    def setup_module(self, module: torch.nn.Module, training: bool = False) -> None:
        """Cast the module for the precision and move it to the root device (``training``: for ``fit``)."""
        self.module = self.precision.convert_module(module).to(self.root_device)

    def model_init_context(self) -> contextlib.AbstractContextManager:
        """Context around ``Module.configure_model()`` (sharded strategies build large models on the meta device)."""
        return contextlib.nullcontext()

    def setup_dataloader(self, dataloader: Any, *, training: bool, seed: int = 0, shard: bool = True) -> Any:
        """Adapt a dataloader to the layout: distributed strategies give each rank its share when ``shard``
        (training order from ``seed``, the run's base seed)."""
        return dataloader

    def on_exception(self, exception: BaseException) -> BaseException:
        """The error to raise for a failed run (distributed strategies report the rank that failed first)."""
        return exception

    def teardown(self) -> None:  # noqa: B027 - optional hook
        """Release what ``setup_environment`` took."""

    # -- checkpoints: what one file holds, and writing/reading it -------------------------------------------
    def module_state_dict(self, module: torch.nn.Module) -> dict[str, Any]:
        """The module's weights as a checkpoint holds them (sharded strategies gather them)."""
        return module.state_dict()

    def load_module_state_dict(self, module: torch.nn.Module, state_dict: dict[str, Any], strict: bool = True) -> None:
        module.load_state_dict(state_dict, strict=strict)

    def optimizer_state_dict(self, optimizer: torch.optim.Optimizer) -> dict[str, Any]:
        return optimizer.state_dict()

    def load_optimizer_state_dict(self, optimizer: torch.optim.Optimizer, state: dict[str, Any]) -> None:
        optimizer.load_state_dict(state)
        for param_state in optimizer.state.values():  # optimizer state must live with the parameters
            for key, value in param_state.items():
                if isinstance(value, torch.Tensor) and key != "step":
                    param_state[key] = value.to(self.root_device)

    def save_checkpoint(self, checkpoint: dict[str, Any], path: str) -> None:
        """Write ``checkpoint`` to ``path`` from rank zero (tensors on the CPU, loadable anywhere); all ranks wait."""
        from flashtrain.core.utilities.apply import apply_to_tensors

        if self.is_global_zero:
            if self.root_device.type != "cpu":  # loadable anywhere, torch_xla or not
                checkpoint = apply_to_tensors(checkpoint, lambda tensor: tensor.cpu())
            self.checkpoint_io.save_checkpoint(checkpoint, path)
        self.barrier()

    def load_checkpoint(self, path: str) -> dict[str, Any]:
        return self.checkpoint_io.load_checkpoint(path, map_location="cpu")

    # -- per step -------------------------------------------------------------------------------
    def batch_to_device(self, batch: Any) -> Any:
        """Move a batch to the root device and cast it for the precision."""
        return self.precision.convert_input(self.move_batch(batch))

    def move_batch(self, batch: Any) -> Any:
        """Move a batch to the root device (``Module.transfer_batch_to_device``'s default)."""
        from flashtrain.core.utilities.apply import move_to_device

        return move_to_device(batch, self.root_device)

    def training_step(self, *args: Any) -> Any:
        """Run the module's ``training_step`` (distributed strategies route it through their wrapper)."""
        assert self.module is not None
        return self.module.training_step(*args)  # type: ignore[operator]

    def backward(self, loss: torch.Tensor, optimizer: Any = None, *args: Any, **kwargs: Any) -> None:
        """Backward of ``loss`` through the precision plugin (gradient scaling): every backward of a run, automatic
        (``Module.backward``) or manual (``Module.manual_backward``), comes through here."""
        self.precision.backward(loss, *args, **kwargs)

    def backward_sync(self, enabled: bool) -> contextlib.AbstractContextManager:
        """Context for one forward/backward; ``enabled=False`` skips gradient syncing (accumulation batches)."""
        return _NO_CONTEXT

    # -- collectives (identity for one process) -------------------------------------------------
    def reduce(self, tensor: torch.Tensor, op: str = "mean") -> torch.Tensor:
        """Reduce a tensor over all processes (``op``: 'mean', 'sum', 'max', 'min')."""
        return tensor

    def reduce_boolean_decision(self, decision: bool) -> bool:
        """True on every rank if it is True on any rank (a stop request from one rank stops all)."""
        if self.world_size == 1:
            return decision
        flag = torch.tensor(float(decision), device=self.root_device)
        return bool(self.reduce(flag, "max").item())

    def broadcast(self, obj: Any, src: int = 0) -> Any:
        """Send a picklable object from rank ``src`` to every rank."""
        return obj

    def must_spawn(self) -> bool:
        """Whether a run must first start this strategy's processes and run inside them (``ddp_spawn``)."""
        return False

    def barrier(self) -> None:  # noqa: B027 - a no-op for one process
        """Wait until every process gets here."""
