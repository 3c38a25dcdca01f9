"""Distributed data parallel on ``torch.distributed``: one process per device, gradients averaged in backward.

The processes come from torchrun, SLURM (``srun``), or flashtrain itself (``strategy="ddp"`` started as a
plain script re-runs the script for the other ranks; see ``launcher.py``). Backend gloo on CPU, nccl on CUDA.
"""

from __future__ import annotations

import atexit
import contextlib
import datetime
from collections.abc import Callable
from typing import Any

import torch
import torch.distributed as dist
from torch.nn.parallel import DistributedDataParallel

from flashtrain.core.strategies.cluster import ProcessLayout, detect_environment, free_port
from flashtrain.core.strategies.environments import ClusterEnvironment
from flashtrain.core.strategies.launcher import ScriptLauncher, record_failure
from flashtrain.core.strategies.parallel import ParallelStrategy
from flashtrain.core.strategies.samplers import shard_dataloader

_OPS = {"sum": dist.ReduceOp.SUM, "mean": dist.ReduceOp.SUM, "max": dist.ReduceOp.MAX, "min": dist.ReduceOp.MIN}


class _TrainingStepForward(torch.nn.Module):
    """Lets DistributedDataParallel see ``training_step`` as the forward it hooks gradient syncing into."""

    def __init__(self, module: torch.nn.Module) -> None:
        super().__init__()
        self.module = module

    def forward(self, *args: Any) -> Any:
        return self.module.training_step(*args)  # type: ignore[operator]


class DDPStrategy(ParallelStrategy):
    """``Trainer(strategy="ddp", devices=N, num_nodes=M)``: N processes per node, M nodes."""

    name = "ddp"

    def __init__(
        self,
        processes_per_node: int = 1,
        num_nodes: int = 1,
        device_indices: list[int] | None = None,
        find_unused_parameters: bool = False,
        process_group_backend: str | None = None,
        timeout: datetime.timedelta = datetime.timedelta(minutes=30),
        *,
        parallel_devices: list[torch.device] | None = None,
        cluster_environment: ClusterEnvironment | None = None,
        checkpoint_io: Any = None,
        precision_plugin: Any = None,
        **ddp_kwargs: Any,
    ) -> None:
        """Lightning's keyword arguments work too: ``parallel_devices`` (the devices of this machine, one process
        each; the Trainer's ``devices`` flag then does not override them), ``cluster_environment``,
        ``checkpoint_io``, ``precision_plugin``, and any other keyword goes to ``DistributedDataParallel``
        (``static_graph=True``, ``gradient_as_bucket_view=True``, ``bucket_cap_mb=...``)."""
        super().__init__(processes_per_node, num_nodes, device_indices, parallel_devices=parallel_devices)
        self.find_unused_parameters = find_unused_parameters
        self.process_group_backend = process_group_backend
        self.timeout = timeout
        self.ddp_kwargs = ddp_kwargs
        if cluster_environment is not None:
            self.cluster_environment, self.environment_given = cluster_environment, True
        if checkpoint_io is not None:
            self.checkpoint_io = checkpoint_io
        self.precision_plugin = precision_plugin  # the Trainer uses it instead of building one from its flag
        self.environment: ProcessLayout | None = None
        self.launcher: ScriptLauncher | None = None
        self._ddp_model: DistributedDataParallel | None = None
        self._layers_synced = False  # whether setup_module applied the layer_sync plugin (teardown reverts it)

    # -- layout ---------------------------------------------------------------------------------
    @property
    def root_device(self) -> torch.device:
        assert self.accelerator is not None
        index = self.local_rank
        if self.device_indices is not None:
            index = self.device_indices[index]
        return self.accelerator.get_device(index)

    @property
    def world_size(self) -> int:
        return self.environment.world_size if self.environment else 1

    @property
    def global_rank(self) -> int:
        return self.environment.global_rank if self.environment else 0

    @property
    def local_rank(self) -> int:
        return self.environment.local_rank if self.environment else 0

    # -- life cycle -----------------------------------------------------------------------------
    def setup_environment(self) -> None:
        if self.environment is None:
            self.environment = self._join_or_launch()
        super().setup_environment()
        self.setup_distributed()

    def setup_distributed(self) -> None:
        """Join the process group of the run (once per process; a later validate/test reuses it)."""
        assert self.environment is not None, "setup_distributed() runs after the environment is known"
        if not dist.is_initialized():
            backend = self.process_group_backend or ("nccl" if self.root_device.type == "cuda" else "gloo")
            dist.init_process_group(
                backend,
                init_method=f"tcp://{self.environment.master_addr}:{self.environment.master_port}",
                world_size=self.world_size,
                rank=self.global_rank,
                timeout=self.timeout,
            )
            # The group outlives fit() (a later validate/test reuses it), so it is destroyed at exit; left to
            # interpreter finalization, gloo's worker threads can abort the process ("terminate called ...").
            atexit.register(_destroy_process_group)

    def _join_or_launch(self) -> ProcessLayout:
        expected = self.processes_per_node * self.num_nodes
        given = self.cluster_environment if self.environment_given else None
        if given is not None and given.creates_processes_externally:
            environment: ProcessLayout | None = given.layout()  # the user's cluster started every process
        else:
            environment = detect_environment()
        if environment is None:
            if expected == 1:
                return ProcessLayout("flashtrain", 1, 0, 0, 0, "127.0.0.1", free_port())
            self.launcher = ScriptLauncher(self.processes_per_node, self.num_nodes)
            environment = self.launcher.launch()
        elif environment.world_size != expected:
            raise ValueError(
                f"{environment.kind} started {environment.world_size} processes, but Trainer(devices="
                f"{self.processes_per_node}, num_nodes={self.num_nodes}) expects {expected}. Make them agree, e.g. "
                f"torchrun --nproc-per-node {self.processes_per_node} --nnodes {self.num_nodes}."
            )
        environment.export()
        return environment

    def setup_module(self, module: torch.nn.Module, training: bool = False) -> None:
        super().setup_module(module)
        if not training or self.module is None:
            self._ddp_model = None
            return
        if self.layer_sync is not None:  # before wrapping: DDP must see the synchronising layers
            if self.root_device.type == "cpu" and type(self.layer_sync).__name__ == "TorchSyncBatchNorm":
                from flashtrain.core.exceptions import MisconfigurationException

                raise MisconfigurationException(  # said here, before torch's DDP refuses it mid-setup
                    "Trainer(sync_batchnorm=True) needs GPUs: torch's DistributedDataParallel runs SyncBatchNorm "
                    "layers only in GPU modules. Drop the flag for CPU training."
                )
            self.module = self.layer_sync.apply(self.module)
            self._layers_synced = True
        device_ids = [self.root_device.index] if self.root_device.type == "cuda" else None
        # Construction broadcasts rank 0's parameters and buffers, so every rank starts from the same weights.
        self._ddp_model = DistributedDataParallel(
            _TrainingStepForward(self.module),
            device_ids=device_ids,
            find_unused_parameters=self.find_unused_parameters,
            **self.ddp_kwargs,
        )

    def setup_dataloader(self, dataloader: Any, *, training: bool, seed: int = 0, shard: bool = True) -> Any:
        if not shard or self.world_size == 1:
            return dataloader
        return shard_dataloader(dataloader, self.global_rank, self.world_size, training=training, seed=seed)

    def on_exception(self, exception: BaseException) -> BaseException:
        if self.world_size == 1:
            return exception
        record_failure(self.global_rank, exception)
        if self.launcher is None:
            return exception
        # Rank 0 started the others: when another rank failed first, its error is the one to report.
        message = self.launcher.failure_message()
        self.launcher.terminate()
        return RuntimeError(message) if message else exception

    def teardown(self) -> None:
        self._ddp_model = None  # the process group stays: a later validate/test in this script reuses it
        if self._layers_synced and self.module is not None:  # the fit's module goes back to its own layers
            self.module = self.layer_sync.revert(self.module)
            self._layers_synced = False

    # -- per step -------------------------------------------------------------------------------
    def training_step(self, *args: Any) -> Any:
        if self._ddp_model is None:
            return super().training_step(*args)
        return self._ddp_model(*args)

    def backward_sync(self, enabled: bool) -> contextlib.AbstractContextManager:
        if enabled or self._ddp_model is None:
            return contextlib.nullcontext()
        return self._ddp_model.no_sync()  # accumulation batches: sync once, on the window's last backward

    # -- collectives ----------------------------------------------------------------------------
    def reduce(self, tensor: torch.Tensor, op: str = "mean") -> torch.Tensor:
        if self.world_size == 1:
            return tensor
        result = tensor.detach().clone()
        dist.all_reduce(result, op=_OPS[op])
        return result / self.world_size if op == "mean" else result

    def broadcast(self, obj: Any, src: int = 0) -> Any:
        if self.world_size == 1:
            return obj
        holder = [obj]
        dist.broadcast_object_list(holder, src=src)
        return holder[0]

    def barrier(self) -> None:
        if self.world_size > 1 and dist.is_initialized():
            if dist.get_backend() == "nccl":
                dist.barrier(device_ids=[self.root_device.index])
            else:
                dist.barrier()


class DDPSpawnStrategy(DDPStrategy):
    """``strategy="ddp_spawn"``: each ``fit``/``validate``/``test``/``predict`` call starts N fresh processes with
    ``torch.multiprocessing`` (spawn) and sends them the Trainer, Module and data by pickling. Works where the
    script cannot be re-run (notebooks, ``python -c``); the results of rank 0 (weights, metrics, callback
    state, return value) come back to this process when the call ends."""

    name = "ddp_spawn"

    def must_spawn(self) -> bool:
        return self.environment is None  # inside a spawned rank the environment is set

    def spawn(self, function: Callable[..., Any], *args: Any) -> Any:
        """Run ``function(*args)`` in each of N fresh processes (this strategy's ranks); returns rank 0's result."""
        import pickle
        import tempfile

        import torch.multiprocessing as mp

        if self.num_nodes > 1:
            raise ValueError("strategy='ddp_spawn' runs on one machine; use strategy='ddp' with num_nodes > 1.")
        check_main_guard()
        with tempfile.TemporaryDirectory(prefix="flashtrain-spawn-") as folder:
            result_path = f"{folder}/rank0.pt"
            try:
                # Plain pickle bytes, not torch.multiprocessing's tensor sharing: every rank needs its own
                # parameters (shared storage would apply each rank's optimizer step to the same weights).
                payload = pickle.dumps((function, args))
            except Exception as error:
                raise RuntimeError(
                    f"strategy='ddp_spawn' sends the Trainer, Module and data to each process by pickling, and "
                    f"that failed: {error}. Define them at module level (no lambdas or local classes), or use "
                    "strategy='ddp'."
                ) from error
            mp.start_processes(
                _spawned_rank,
                args=(payload, self.processes_per_node, free_port(), result_path),
                nprocs=self.processes_per_node,
                start_method="spawn",
            )
            return torch.load(result_path, weights_only=False)


def check_main_guard() -> None:
    """Refuse to spawn when the script would start training again in every spawned process.

    A spawned process imports the ``__main__`` script again (as ``__mp_main__``) before it runs its rank. If the
    script calls ``fit`` at top level, outside ``if __name__ == "__main__":``, each child would run the training
    code again and try to spawn in turn; the run then never starts and never ends. Detected here from the call
    stack (the line of the script's module-level code that is running now) and the script's syntax tree.
    """
    import ast
    import inspect
    import os
    import sys

    path = getattr(sys.modules.get("__main__"), "__file__", None)
    if path is None or not os.path.isfile(path):
        return  # a notebook or python -c: nothing is imported again
    frame = inspect.currentframe()
    while frame is not None and not (
        frame.f_code.co_name == "<module>" and frame.f_globals.get("__name__") == "__main__"
    ):
        frame = frame.f_back
    if frame is None or os.path.abspath(frame.f_code.co_filename) != os.path.abspath(path):
        return  # not called from the script's top-level code (e.g. from a function run by a test runner)
    line = frame.f_lineno
    try:
        with open(path, encoding="utf-8") as handle:
            tree = ast.parse(handle.read())
    except (OSError, SyntaxError, UnicodeDecodeError):
        return
    statement = next((s for s in tree.body if s.lineno <= line <= (s.end_lineno or s.lineno)), None)
    if statement is None or _is_main_guard(statement):
        return
    raise RuntimeError(
        f"strategy='ddp_spawn' starts each process by importing {path} again, and that script starts this run "
        f'from line {line} at top level, outside `if __name__ == "__main__":`. Every spawned process would run '
        "the training code again and the run would hang. Put the code that builds the Trainer and calls fit under "
        '`if __name__ == "__main__":` (or in a main() function called there).'
    )


def _is_main_guard(statement: Any) -> bool:
    import ast

    if not isinstance(statement, ast.If) or not isinstance(statement.test, ast.Compare):
        return False
    names = [statement.test.left, *statement.test.comparators]
    return any(isinstance(n, ast.Name) and n.id == "__name__" for n in names) and any(
        isinstance(n, ast.Constant) and n.value == "__main__" for n in names
    )


def _destroy_process_group() -> None:
    if dist.is_initialized():
        dist.destroy_process_group()


def _spawned_rank(local_rank: int, payload: bytes, processes: int, port: int, result_path: str) -> None:
    import pickle

    function, args = pickle.loads(payload)
    environment = ProcessLayout("spawn", processes, local_rank, local_rank, 0, "127.0.0.1", port)
    environment.export()
    result, strategy = function(environment, *args)
    if strategy.is_global_zero:
        from flashtrain.core.utilities.disk import writing

        with writing(result_path):  # ddp_spawn hands fit's result back through this file
            torch.save(result, result_path)
    strategy.barrier()
    _destroy_process_group()
