"""Fully sharded data parallel on torch's own ``fully_shard`` (FSDP2) and ``torch.distributed.checkpoint``.

Every rank holds 1/N of each parameter, gradient and optimizer state (as DTensors); a layer's full
parameters exist only while it computes. Launching, cluster detection, sampler sharding and reductions are
DDP's (this class extends :class:`DDPStrategy`); what changes is how the module is set up and how its state
goes into and out of checkpoints:

- ``state_dict_type="full"``: one file, the same format as a single-process run (weights gathered on rank 0,
  optimizer state in ``optimizer.state_dict()`` layout), so it resumes under any number of processes or
  strategies and ``Module.load_from_checkpoint`` reads it in one process.
- ``state_dict_type="sharded"``: a folder ``name.ckpt/`` in which every rank writes its own shards with
  ``torch.distributed.checkpoint`` (DCP), plus ``meta.pt`` with the rest of the checkpoint (loop position,
  RNG, callbacks, ...) from rank 0. Nothing is gathered: the way to checkpoint a model no device could hold.
"""

from __future__ import annotations

import contextlib
import datetime
import os
import shutil
import uuid
from collections.abc import Callable, Iterable
from typing import Any, TypeGuard

import torch
import torch.distributed as dist

from flashtrain.core.strategies.ddp import DDPStrategy

# What a sharded checkpoint folder holds besides the DCP shards (``*.distcp`` and ``.metadata``).
META_FILE = "meta.pt"
_STATE_DICT_TYPES = ("full", "sharded")
_STEP_METHODS = ("training_step", "validation_step", "test_step", "predict_step")

WrapPolicy = None | int | Iterable[type[torch.nn.Module] | str] | Callable[[torch.nn.Module], bool]


class ShardedEntry:
    """Stands in for the ``state_dict`` / an ``optimizer_states`` entry of a sharded checkpoint that
    :meth:`FSDPStrategy.load_checkpoint` read: the shards are loaded in place once the module is sharded."""

    def __init__(self, folder: str, key: str) -> None:
        self.folder = folder
        self.key = key

    def __repr__(self) -> str:
        return f"ShardedEntry({self.folder!r}, {self.key!r})"


class FSDPStrategy(DDPStrategy):
    """``Trainer(strategy="fsdp")`` or ``Trainer(strategy=FSDPStrategy(...))``: shard the model over the processes.

    Args:
        processes_per_node: Processes per machine (the Trainer sets it from ``devices``).
        num_nodes: Machines (the Trainer sets it from ``num_nodes``).
        device_indices: Which devices of a machine to use.
        auto_wrap_policy: Which submodules become their own shard unit, gathered and freed one at a time (the
            root module is always one). A set of module classes or class names (e.g. ``{"BertLayer"}``: one unit
            per transformer layer), an int (a submodule holding at least that many parameters not already in a
            unit below it), or a function ``module -> bool``. Default: the layer classes a Hugging Face model
            declares in ``_no_split_modules``, else the root module only.
        reshard_after_forward: Free each unit's gathered parameters after its forward (gather again in backward):
            least memory. ``False`` keeps them until backward (less communication); an int reshards to groups of
            that many ranks.
        mixed_precision: A ``torch.distributed.fsdp.MixedPrecisionPolicy`` (e.g. bfloat16 parameters for compute,
            float32 gradient reduction). Independent of ``Trainer(precision=...)``, which still applies autocast.
        cpu_offload: Keep parameter shards, gradients and optimizer state in host memory between uses (GPUs only).
            ``True`` or a ``torch.distributed.fsdp.CPUOffloadPolicy``.
        activation_checkpointing_policy: Module classes (or names) whose activations are recomputed in backward
            instead of stored, e.g. the transformer layer class.
        state_dict_type: ``"full"`` (one file, gathered on rank 0) or ``"sharded"`` (a folder of per-rank shards).
        empty_init: Build the layers of ``Module.configure_model()`` on the meta device and initialise them only
            after sharding (each submodule's ``reset_parameters()``); ``False`` builds them in memory first.
        process_group_backend: ``"gloo"`` / ``"nccl"``; default gloo on CPU, nccl on CUDA.
        timeout: How long a collective waits for the other ranks.
    """

    name = "fsdp"
    # Buffers FSDP allocates during an evaluation forward would become inference tensors it cannot reuse.
    supports_inference_mode = False

    def __init__(
        self,
        processes_per_node: int = 1,
        num_nodes: int = 1,
        device_indices: list[int] | None = None,
        *,
        auto_wrap_policy: WrapPolicy = None,
        reshard_after_forward: bool | int = True,
        mixed_precision: Any = None,
        cpu_offload: Any = False,
        activation_checkpointing_policy: Iterable[type[torch.nn.Module] | str] | None = None,
        state_dict_type: str = "full",
        empty_init: bool = True,
        process_group_backend: str | None = None,
        timeout: datetime.timedelta = datetime.timedelta(minutes=30),
    ) -> None:
        super().__init__(
            processes_per_node,
            num_nodes,
            device_indices,
            process_group_backend=process_group_backend,
            timeout=timeout,
        )
        if state_dict_type not in _STATE_DICT_TYPES:
            raise ValueError(
                f"FSDPStrategy(state_dict_type={state_dict_type!r}): expected 'full' (one file, gathered on rank 0) "
                "or 'sharded' (a folder with each rank's shards)."
            )
        if not isinstance(reshard_after_forward, bool) and (
            not isinstance(reshard_after_forward, int) or reshard_after_forward < 1
        ):
            raise ValueError(
                f"FSDPStrategy(reshard_after_forward={reshard_after_forward!r}): expected True, False or a positive "
                "int (the number of ranks to reshard to)."
            )
        if mixed_precision is not None:
            from torch.distributed.fsdp import MixedPrecisionPolicy

            if not isinstance(mixed_precision, MixedPrecisionPolicy):
                raise TypeError(
                    f"FSDPStrategy(mixed_precision=...) takes a torch.distributed.fsdp.MixedPrecisionPolicy, got "
                    f"{type(mixed_precision).__name__}; e.g. MixedPrecisionPolicy(param_dtype=torch.bfloat16)."
                )
        self.auto_wrap_policy = _check_policy("auto_wrap_policy", auto_wrap_policy, allow_size=True)
        self.activation_checkpointing_policy = _check_policy(
            "activation_checkpointing_policy", activation_checkpointing_policy, allow_size=False
        )
        self.reshard_after_forward = reshard_after_forward
        self.mixed_precision = mixed_precision
        self.cpu_offload = cpu_offload
        self.state_dict_type = state_dict_type
        self.empty_init = empty_init

    # -- life cycle -----------------------------------------------------------------------------
    def model_init_context(self) -> contextlib.AbstractContextManager:
        return torch.device("meta") if self.empty_init else contextlib.nullcontext()

    def setup_module(self, module: torch.nn.Module, training: bool = False) -> None:
        from torch.distributed.fsdp import FSDPModule, fully_shard, register_fsdp_forward_method

        if isinstance(module, FSDPModule):  # sharded by an earlier fit/validate/test/predict in this process
            self.module = module
            return
        self._check_precision()
        module = self.precision.convert_module(module)
        # Like DDP: every rank starts from rank 0's weights (a model built without a common seed would
        # otherwise be stitched together from different initialisations).
        self._broadcast_materialised_states(module)
        for target in matching_submodules(module, self.activation_checkpointing_policy):
            from torch.distributed._composable import checkpoint  # keeps parameter names (no wrapper module)

            checkpoint(target)
        options = self._fully_shard_options()
        for target in shard_units(module, self.auto_wrap_policy):
            fully_shard(target, reshard_after_forward=self.reshard_after_forward, **options)
        # The root's parameters are needed again right at the start of backward: torch keeps them by default.
        fully_shard(module, reshard_after_forward=None if self.reshard_after_forward is True else False, **options)
        self._materialise_meta_tensors(module)
        for method in _STEP_METHODS:
            # The trainer calls these instead of forward(); FSDP gathers the root's parameters around them.
            if callable(getattr(module, method, None)):
                register_fsdp_forward_method(module, method)
        self.module = module

    def _check_precision(self) -> None:
        if self.precision.precision == "16-mixed":
            raise ValueError(
                "strategy='fsdp' does not support precision='16-mixed': torch's GradScaler checks each rank's "
                "gradient shards for overflow separately, so ranks could disagree on skipping a step. Use "
                "precision='bf16-mixed', or FSDPStrategy(mixed_precision=MixedPrecisionPolicy(param_dtype=...))."
            )

    def _fully_shard_options(self) -> dict[str, Any]:
        from torch.distributed.device_mesh import init_device_mesh
        from torch.distributed.fsdp import CPUOffloadPolicy, MixedPrecisionPolicy, OffloadPolicy

        options: dict[str, Any] = {
            "mesh": init_device_mesh(self.root_device.type, (self.world_size,)),
            "mp_policy": self.mixed_precision or MixedPrecisionPolicy(),
            "offload_policy": OffloadPolicy(),
        }
        if self.cpu_offload:
            if self.root_device.type == "cpu":
                raise ValueError(
                    "FSDPStrategy(cpu_offload=True) keeps parameter shards in host memory between uses on GPUs; "
                    "with accelerator='cpu' they are there already. Drop cpu_offload or train on GPUs."
                )
            policy = self.cpu_offload
            options["offload_policy"] = policy if isinstance(policy, CPUOffloadPolicy) else CPUOffloadPolicy()
        return options

    def _broadcast_materialised_states(self, module: torch.nn.Module) -> None:
        if self.world_size == 1:
            return
        with torch.no_grad():
            for tensor in [*module.parameters(), *module.buffers()]:
                if tensor.is_meta:
                    continue
                on_device = tensor.data.to(self.root_device)
                dist.broadcast(on_device, src=0)
                if on_device is not tensor.data:
                    tensor.data.copy_(on_device)

    def _materialise_meta_tensors(self, module: torch.nn.Module) -> None:
        """Layers built on the meta device get real (sharded) storage and their own initialisation."""
        uninitialisable = []
        for name, sub in module.named_modules():
            own = [*sub.parameters(recurse=False), *sub.buffers(recurse=False)]
            if not any(tensor.is_meta for tensor in own):
                continue
            sub.to_empty(device=self.root_device, recurse=False)
            if callable(getattr(sub, "reset_parameters", None)):
                with torch.no_grad():
                    sub.reset_parameters()
            else:
                uninitialisable.append(f"{name or '<root>'} ({type(sub).__name__})")
        if uninitialisable:
            raise ValueError(
                "configure_model() built these submodules on the meta device, but they have no reset_parameters() "
                f"to initialise them after sharding: {', '.join(uninitialisable)}. Give them a reset_parameters() "
                "method, build them in __init__ instead, or use FSDPStrategy(empty_init=False)."
            )

    def setup_dataloader(self, dataloader: Any, *, training: bool, seed: int = 0, shard: bool = True) -> Any:
        loader = super().setup_dataloader(dataloader, training=training, seed=seed, shard=shard)
        if not training and self.world_size > 1:
            self._check_same_batch_count(loader)
        return loader

    def _check_same_batch_count(self, loader: Any) -> None:
        # Each forward gathers parameters from every rank: a rank with one batch more would wait forever.
        count = len(loader) if hasattr(loader, "__len__") else -1
        counts: list[int | None] = [None] * self.world_size
        dist.all_gather_object(counts, count)
        if len(set(counts)) > 1:
            raise ValueError(
                f"strategy='fsdp' needs every rank to run the same number of evaluation batches, but the ranks got "
                f"{counts} batches (each sample is evaluated once, so shares differ when the dataset size is not a "
                f"multiple of {self.world_size} x batch_size). Pick a batch size or dataset size that divides, or "
                "Trainer(use_distributed_sampler=False) with your own equal split."
            )

    def teardown(self) -> None:
        """The module stays sharded: a later validate/test/predict in this script uses it as it is."""

    # -- per step -------------------------------------------------------------------------------
    def training_step(self, *args: Any) -> Any:
        assert self.module is not None
        return self.module.training_step(*args)  # type: ignore[operator]

    def backward_sync(self, enabled: bool) -> contextlib.AbstractContextManager:
        from torch.distributed.fsdp import FSDPModule

        if enabled or not isinstance(self.module, FSDPModule):
            return contextlib.nullcontext()
        return _gradient_sync_off(self.module)

    # -- checkpoint state -----------------------------------------------------------------------
    def module_state_dict(self, module: torch.nn.Module) -> dict[str, Any]:
        from torch.distributed.checkpoint.state_dict import get_model_state_dict

        if not _is_sharded(module):
            return super().module_state_dict(module)
        return get_model_state_dict(module, options=self._state_dict_options())

    def load_module_state_dict(self, module: torch.nn.Module, state_dict: Any, strict: bool = True) -> None:
        from torch.distributed.checkpoint.state_dict import (
            StateDictOptions,
            get_model_state_dict,
            set_model_state_dict,
        )

        if isinstance(state_dict, ShardedEntry):
            _require_sharded(module, state_dict)
            template = get_model_state_dict(module)
            _dcp_load(state_dict, template)
            set_model_state_dict(module, template, options=StateDictOptions(strict=strict))
        elif _is_sharded(module):
            # A full state dict, read by every rank: each keeps its own shard of it.
            set_model_state_dict(module, state_dict, options=StateDictOptions(full_state_dict=True, strict=strict))
        else:
            super().load_module_state_dict(module, state_dict, strict)

    def optimizer_state_dict(self, optimizer: torch.optim.Optimizer) -> dict[str, Any]:
        from torch.distributed.checkpoint.state_dict import get_optimizer_state_dict

        if not _is_sharded(self.module):
            return super().optimizer_state_dict(optimizer)
        state = get_optimizer_state_dict(self.module, optimizer, options=self._state_dict_options())
        if self.state_dict_type == "sharded" or not state:  # ranks other than 0 get nothing in the full format
            return state
        return _to_index_layout(state, _parameter_names(self.module, optimizer))

    def load_optimizer_state_dict(self, optimizer: torch.optim.Optimizer, state: Any) -> None:
        from torch.distributed.checkpoint.state_dict import (
            StateDictOptions,
            get_optimizer_state_dict,
            set_optimizer_state_dict,
        )

        module = self.module
        if isinstance(state, ShardedEntry):
            sharded = _require_sharded(module, state)
            template = get_optimizer_state_dict(sharded, optimizer)
            _dcp_load(state, template)
            set_optimizer_state_dict(sharded, optimizer, template)
        elif _is_sharded(module):
            by_name = _to_name_layout(state, _parameter_names(module, optimizer))
            set_optimizer_state_dict(module, optimizer, by_name, options=StateDictOptions(full_state_dict=True))
        else:
            super().load_optimizer_state_dict(optimizer, state)

    def _state_dict_options(self) -> Any:
        from torch.distributed.checkpoint.state_dict import StateDictOptions

        if self.state_dict_type == "full":
            return StateDictOptions(full_state_dict=True, cpu_offload=True)
        return StateDictOptions()

    def save_checkpoint(self, checkpoint: dict[str, Any], path: str) -> None:
        if self.state_dict_type == "full" or not _is_sharded(self.module):
            super().save_checkpoint(checkpoint, path)
            return
        save_sharded_checkpoint(self, checkpoint, path)

    def load_checkpoint(self, path: str) -> dict[str, Any]:
        if not os.path.isdir(path):
            return super().load_checkpoint(path)
        from flashtrain.core.checkpoint.io import load_checkpoint

        meta_path = os.path.join(path, META_FILE)
        if not os.path.isfile(meta_path):
            raise FileNotFoundError(
                f"{path} is a folder but not a sharded flashtrain checkpoint: it has no {META_FILE}. Pass the "
                "checkpoint folder itself (name.ckpt/) or a checkpoint file."
            )
        checkpoint = load_checkpoint(meta_path, map_location="cpu")
        sharded = checkpoint.pop("sharded", {})
        checkpoint["state_dict"] = ShardedEntry(path, "state_dict")
        if "optimizer_states" in checkpoint:
            count = int(sharded.get("optimizers", 0))
            checkpoint["optimizer_states"] = [ShardedEntry(path, f"optimizer_states.{i}") for i in range(count)]
        return checkpoint


def save_sharded_checkpoint(strategy: FSDPStrategy, checkpoint: dict[str, Any], path: str) -> None:
    """Write ``checkpoint`` as the folder ``path``: every rank's shards via DCP, the rest as ``meta.pt`` (rank 0).

    The folder is written under a hidden temporary name beside ``path`` and renamed once complete, so a run
    killed while saving leaves the previous checkpoint at ``path`` intact.
    """
    import torch.distributed.checkpoint as dcp

    from flashtrain.core.checkpoint.io import save_checkpoint_file
    from flashtrain.core.utilities.disk import writing

    path = os.path.abspath(path)
    parent, name = os.path.split(path)
    if strategy.is_global_zero:
        os.makedirs(parent, exist_ok=True)
        if os.path.isfile(path):
            raise FileExistsError(
                f"Cannot write the sharded checkpoint folder {path}: a file of that name exists (a full checkpoint?)."
                " Move it away or save under another name."
            )
    temporary = strategy.broadcast(os.path.join(parent, f".tmp-{name}-{uuid.uuid4().hex[:8]}"))
    optimizers = checkpoint.get("optimizer_states")
    shards: dict[str, Any] = {"state_dict": checkpoint["state_dict"]}
    if optimizers is not None:
        shards["optimizer_states"] = {str(i): state for i, state in enumerate(optimizers)}
    with writing(path):  # a full disk on any rank names the folder (DCP reports it inside its own exception)
        dcp.save(shards, checkpoint_id=temporary)
    if strategy.is_global_zero:
        meta = {key: value for key, value in checkpoint.items() if key not in ("state_dict", "optimizer_states")}
        meta["state_dict"] = {}  # the weights are the shards beside this file
        if optimizers is not None:
            meta["optimizer_states"] = []
        meta["sharded"] = {"format": "torch.distributed.checkpoint", "optimizers": len(optimizers or [])}
        save_checkpoint_file(meta, os.path.join(temporary, META_FILE))
        _replace_folder(temporary, path)
    strategy.barrier()


def consolidate_checkpoint(folder: str, path: str) -> None:
    """Turn a sharded checkpoint folder into one full checkpoint file, in a single process (no GPUs or process
    group needed): the format ``state_dict_type="full"`` writes, which ``Module.load_from_checkpoint`` and every
    strategy read.

    Args:
        folder: The ``name.ckpt/`` folder written with ``FSDPStrategy(state_dict_type="sharded")``.
        path: The file to write.
    """
    import tempfile

    from torch.distributed.checkpoint.format_utils import dcp_to_torch_save

    from flashtrain.core.checkpoint.io import save_checkpoint_file
    from flashtrain.core.utilities.disk import writing

    folder = os.fspath(folder)
    checkpoint = FSDPStrategy().load_checkpoint(folder)  # the meta file, checked
    with tempfile.TemporaryDirectory() as scratch:
        merged = os.path.join(scratch, "merged.pt")
        with writing(merged):
            dcp_to_torch_save(folder, merged)
        shards = torch.load(merged, weights_only=False)  # written just now from the folder's tensors
    checkpoint["state_dict"] = shards["state_dict"]
    if "optimizer_states" in checkpoint:
        states = shards.get("optimizer_states", {})
        checkpoint["optimizer_states"] = [
            _to_index_layout(state, [name for group in state["param_groups"] for name in group["params"]])
            for _, state in sorted(states.items(), key=lambda item: int(item[0]))
        ]
    save_checkpoint_file(checkpoint, os.fspath(path))


def _replace_folder(new: str, target: str) -> None:
    parent, name = os.path.split(target)
    old = os.path.join(parent, f".old-{name}-{uuid.uuid4().hex[:8]}")
    if os.path.isdir(target):
        os.replace(target, old)  # a crash right here leaves the new folder complete under its temporary name
    os.replace(new, target)
    shutil.rmtree(old, ignore_errors=True)


def _dcp_load(entry: ShardedEntry, template: dict[str, Any]) -> None:
    import torch.distributed.checkpoint as dcp

    wrapped: dict[str, Any] = template
    for part in reversed(entry.key.split(".")):
        wrapped = {part: wrapped}
    dcp.load(wrapped, checkpoint_id=entry.folder)


def _is_sharded(module: object) -> TypeGuard[torch.nn.Module]:  # an FSDPModule is always an nn.Module too
    from torch.distributed.fsdp import FSDPModule

    return isinstance(module, FSDPModule)


def _require_sharded(module: object, entry: ShardedEntry) -> torch.nn.Module:
    """``module`` if it is sharded by FSDP, else a ValueError saying how to load ``entry``."""
    if not _is_sharded(module):
        raise ValueError(
            f"{entry.folder} is a sharded checkpoint; it loads only into a module sharded by strategy='fsdp'. "
            "Resume with Trainer(strategy='fsdp'), or save with FSDPStrategy(state_dict_type='full') for a "
            "checkpoint any strategy reads."
        )
    return module


@contextlib.contextmanager
def _gradient_sync_off(module: Any) -> Any:
    # Accumulation batches keep unsharded gradients on each rank; the window's last backward reduce-scatters.
    module.set_requires_gradient_sync(False)
    try:
        yield
    finally:
        module.set_requires_gradient_sync(True)


def _parameter_names(module: torch.nn.Module, optimizer: torch.optim.Optimizer) -> list[str]:
    """The names of an optimizer's parameters in ``optimizer.state_dict()`` order (its integer ids)."""
    names = {id(parameter): name for name, parameter in module.named_parameters()}
    order = []
    for group in optimizer.param_groups:
        for parameter in group["params"]:
            if id(parameter) not in names:
                raise ValueError(
                    "The optimizer holds a parameter that is not in the module; under strategy='fsdp' build the "
                    "optimizer from self.parameters() in configure_optimizers."
                )
            order.append(names[id(parameter)])
    return order


def _to_index_layout(state: dict[str, Any], order: list[str]) -> dict[str, Any]:
    """torch.distributed.checkpoint's name-keyed optimizer state -> ``optimizer.state_dict()``'s integer ids."""
    index = {name: i for i, name in enumerate(order)}
    groups = [{**group, "params": [index[name] for name in group["params"]]} for group in state["param_groups"]]
    return {"state": {index[name]: value for name, value in state["state"].items()}, "param_groups": groups}


def _to_name_layout(state: dict[str, Any], order: list[str]) -> dict[str, Any]:
    """``optimizer.state_dict()``'s integer ids -> parameter names, checking that the optimizers match."""
    saved = [i for group in state["param_groups"] for i in group["params"]]
    if len(saved) != len(order):
        raise ValueError(
            f"The checkpoint's optimizer holds {len(saved)} parameters, this run's optimizer {len(order)}. Resume "
            "with the same model and configure_optimizers as the run that saved it."
        )
    position = {saved_id: order[i] for i, saved_id in enumerate(saved)}
    groups = [{**group, "params": [position[i] for i in group["params"]]} for group in state["param_groups"]]
    return {"state": {position[int(i)]: value for i, value in state["state"].items()}, "param_groups": groups}


def shard_units(module: torch.nn.Module, policy: WrapPolicy = None) -> list[torch.nn.Module]:
    """The submodules that ``auto_wrap_policy`` makes their own shard unit, children before parents (the order
    ``fully_shard`` needs); see :class:`FSDPStrategy` for the policy forms."""
    policy = _check_policy("auto_wrap_policy", policy, allow_size=True)
    if policy is None:
        policy = frozenset(_no_split_classes(module)) or None
    if policy is None:
        return []
    if isinstance(policy, int):
        return _units_by_size(module, policy)
    return matching_submodules(module, policy)


def matching_submodules(module: torch.nn.Module, policy: Any) -> list[torch.nn.Module]:
    """Submodules (not ``module`` itself) of the given classes / class names, or for which ``policy(sub)`` is
    true; children before parents."""
    if policy is None:
        return []
    if callable(policy) and not isinstance(policy, (set, frozenset, list, tuple)):
        matches = policy
    else:
        classes = tuple(item for item in policy if isinstance(item, type))
        names = {item for item in policy if isinstance(item, str)}

        def matches(candidate: torch.nn.Module) -> bool:
            return isinstance(candidate, classes) or type(candidate).__name__ in names

    found = [sub for name, sub in module.named_modules() if name and matches(sub)]
    return found[::-1]  # named_modules lists parents first


def _no_split_classes(module: torch.nn.Module) -> set[str]:
    """Layer classes that Hugging Face models declare must not be split (their transformer blocks)."""
    names: set[str] = set()
    for sub in module.modules():
        declared = getattr(sub, "_no_split_modules", None)
        if isinstance(declared, (list, tuple, set)):
            names.update(item for item in declared if isinstance(item, str))
    return names


def _units_by_size(module: torch.nn.Module, min_num_params: int) -> list[torch.nn.Module]:
    """Bottom-up: a submodule becomes a unit when it holds ``min_num_params`` parameters outside units below it."""
    units: list[torch.nn.Module] = []

    def remaining(sub: torch.nn.Module) -> int:
        count = sum(p.numel() for p in sub.parameters(recurse=False))
        for child in sub.children():
            count += remaining(child)
        if sub is not module and count >= min_num_params:
            units.append(sub)
            return 0
        return count

    remaining(module)
    return units


def _check_policy(flag: str, policy: Any, allow_size: bool) -> Any:
    if policy is None or (callable(policy) and not isinstance(policy, type)):
        return policy
    if isinstance(policy, bool) or (isinstance(policy, int) and (not allow_size or policy < 1)):
        allowed = "a positive int (minimum parameters per unit), " if allow_size else ""
        raise ValueError(
            f"FSDPStrategy({flag}={policy!r}): expected {allowed}a set of module classes or class names, or a "
            "function module -> bool."
        )
    if isinstance(policy, int):
        return policy
    if isinstance(policy, (type, str)):
        policy = [policy]
    items = list(policy) if isinstance(policy, Iterable) else [policy]
    bad = [
        item
        for item in items
        if not (isinstance(item, str) or (isinstance(item, type) and issubclass(item, torch.nn.Module)))
    ]
    if bad or not items:
        raise TypeError(
            f"FSDPStrategy({flag}=...): every entry must be a torch.nn.Module subclass or a class name, got "
            f"{bad if bad else 'an empty collection'}; e.g. {flag}={{torch.nn.TransformerEncoderLayer}}."
        )
    return frozenset(items)
