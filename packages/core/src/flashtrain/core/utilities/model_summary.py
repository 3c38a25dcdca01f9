"""``summarize(module)``: the layers of a module with parameter counts, train/eval mode, FLOPs and, when the module
has an ``example_input_array``, the input and output shapes each layer saw (Lightning 2's model summary).

FLOPs come from torch's own ``FlopCounterMode``; shapes from one forward pass of the example input in eval mode
without gradients, after which every layer's mode is put back.
"""

from __future__ import annotations

import math
import warnings
from collections import OrderedDict
from typing import Any

import torch

UNKNOWN_SIZE = "?"
LEFTOVER_PARAMS_NAME = "other params"
NOT_APPLICABLE = "n/a"
_UNITS = (" ", "K", "M", "B", "T")
# Bits per parameter of each Trainer precision whose parameters have one dtype (mixed precision keeps 32-bit ones).
_PRECISION_BITS = {"64": 64, "64-true": 64, "32": 32, "32-true": 32, "16": 16, "16-true": 16, "bf16": 16}
_PRECISION_BITS["bf16-true"] = 16
_warned_uninitialized = False


def get_human_readable_count(number: float) -> str:
    """``123`` -> ``"123  "``, ``1234`` -> ``"1.2 K"``, ``2e6`` -> ``"2.0 M"``; trillions are the largest unit."""
    if number < 0:
        raise ValueError(f"get_human_readable_count needs a number >= 0, got {number}.")
    digits = int(math.floor(math.log10(number))) + 1 if number > 0 else 1
    group = min(math.ceil(digits / 3), len(_UNITS)) - 1
    scaled = number / 10 ** (3 * group)
    if group == 0 or scaled >= 100:
        return f"{int(scaled):,d} {_UNITS[group]}"
    return f"{scaled:,.1f} {_UNITS[group]}"


def _count(parameters: Any) -> int:
    """Elements of ``parameters``; a lazy (uninitialized) parameter counts 0, with a warning once per process."""
    global _warned_uninitialized
    total = 0
    for parameter in parameters:
        if isinstance(parameter, torch.nn.parameter.UninitializedParameter):
            if not _warned_uninitialized:
                _warned_uninitialized = True
                warnings.warn(
                    "The total number of parameters detected may be inaccurate because the model contains an "
                    "instance of `UninitializedParameter`. To get an accurate number, set `self.example_input_array` "
                    "in your LightningModule.",
                    stacklevel=3,
                )
            continue
        total += parameter.numel()
    return total


def shape_of(value: Any) -> Any:
    """A tensor's shape as a list; lists and tuples element by element; anything else ``"?"``."""
    if hasattr(value, "shape"):
        return list(value.shape)
    if isinstance(value, (list, tuple)):
        return [shape_of(item) for item in value]
    return UNKNOWN_SIZE


class LayerSummary:
    """One layer: its type, parameter count and mode, and the shapes of its first forward call while it listens."""

    def __init__(self, module: torch.nn.Module) -> None:
        self.module = module
        self.seen_in: Any = None
        self.seen_out: Any = None
        self.handle: Any = None
        if not isinstance(module, torch.jit.ScriptModule):  # scripted modules take no hooks
            self.handle = module.register_forward_hook(self._record, with_kwargs=True)

    def _record(self, _: torch.nn.Module, args: tuple, kwargs: dict, output: Any) -> None:
        inputs = (*args, *kwargs.values())
        self.seen_in = shape_of(inputs[0] if len(inputs) == 1 else inputs)
        self.seen_out = shape_of(output)
        self.detach_hook()  # the first call only: a module used twice reports its first use

    def detach_hook(self) -> None:
        if self.handle is not None:
            self.handle.remove()

    @property
    def in_size(self) -> Any:
        return self.seen_in or UNKNOWN_SIZE

    @property
    def out_size(self) -> Any:
        return self.seen_out or UNKNOWN_SIZE

    @property
    def layer_type(self) -> str:
        return type(self.module).__name__

    @property
    def num_parameters(self) -> int:
        return _count(self.module.parameters())

    @property
    def training(self) -> bool:
        return self.module.training


class ModelSummary:
    """The summary of ``model`` down to ``max_depth`` (``-1``: every module, ``0``: none, ``1``: its children).

    ``str(summary)`` is the table the ``ModelSummary`` callback prints at the start of fit."""

    def __init__(self, model: torch.nn.Module, max_depth: int = 1) -> None:
        if not isinstance(max_depth, int) or isinstance(max_depth, bool) or max_depth < -1:
            raise ValueError(f"`max_depth` can be -1, 0 or > 0, got {max_depth}.")
        self.model = model
        self.max_depth = max_depth
        from torch.utils.flop_counter import FlopCounterMode  # torch's counter; imported when a summary is made

        # depth only limits torch's own printed table (never shown): every module's count is kept
        self.flop_counter = FlopCounterMode(display=False, depth=max_depth + 1 if max_depth >= 0 else 2**16)
        self.layers = self.summarize()
        precision = _trainer_precision(model)
        if precision is not None and precision not in _PRECISION_BITS:
            warnings.warn(
                f"Precision {precision} is not supported by the model summary.  Estimated model size in MB will not "
                "be accurate. Using 32 bits instead.",
                UserWarning,
                stacklevel=2,
            )
        self.bytes_per_parameter = _PRECISION_BITS.get(str(precision), 32) / 8

    @property
    def named_modules(self) -> list[tuple[str, torch.nn.Module]]:
        if self.max_depth == 0:
            return []
        if self.max_depth == 1:
            return list(self.model.named_children())
        return list(self.model.named_modules())[1:]  # not the model itself

    def summarize(self) -> OrderedDict[str, LayerSummary]:
        """Listen on each layer, run the example input (if any) once, and keep the layers down to ``max_depth``."""
        layers = OrderedDict((name, LayerSummary(module)) for name, module in self.named_modules)
        try:
            if getattr(self.model, "example_input_array", None) is not None:
                self._forward_example_input()
        finally:
            for layer in layers.values():
                layer.detach_hook()
        if self.max_depth >= 1:
            layers = OrderedDict((name, layer) for name, layer in layers.items() if name.count(".") < self.max_depth)
        return layers

    def _forward_example_input(self) -> None:
        model: Any = self.model
        example = model.example_input_array
        if hasattr(model, "transfer_batch_to_device"):  # a Module: its batch hooks shape what forward receives
            example = model.on_before_batch_transfer(example, 0)
            example = model.transfer_batch_to_device(example, model.device, 0)
            example = model.on_after_batch_transfer(example, 0)
        modes = {module: module.training for module in model.modules()}
        model.eval()
        try:
            with torch.no_grad(), self.flop_counter:
                if isinstance(example, (list, tuple)):
                    model(*example)
                elif isinstance(example, dict):
                    model(**example)
                else:
                    model(example)
        finally:
            for module, training in modes.items():
                module.training = training

    # -- what the table shows ------------------------------------------------------------------------------
    @property
    def layer_names(self) -> list[str]:
        return list(self.layers)

    @property
    def layer_types(self) -> list[str]:
        return [layer.layer_type for layer in self.layers.values()]

    @property
    def in_sizes(self) -> list[Any]:
        return [layer.in_size for layer in self.layers.values()]

    @property
    def out_sizes(self) -> list[Any]:
        return [layer.out_size for layer in self.layers.values()]

    @property
    def param_nums(self) -> list[int]:
        return [layer.num_parameters for layer in self.layers.values()]

    @property
    def training_modes(self) -> list[bool]:
        return [layer.training for layer in self.layers.values()]

    @property
    def total_training_modes(self) -> dict[str, int]:
        """How many modules (the model itself not counted) are in train and in eval mode now."""
        modes = [module.training for module in list(self.model.modules())[1:]]
        return {"train": modes.count(True), "eval": modes.count(False)}

    @property
    def total_parameters(self) -> int:
        return _count(self.model.parameters())

    @property
    def trainable_parameters(self) -> int:
        return _count(p for p in self.model.parameters() if p.requires_grad)

    @property
    def total_layer_params(self) -> int:
        return sum(self.param_nums)

    @property
    def model_size(self) -> float:
        """Megabytes of the parameters at the trainer's precision (32-bit when the model has no trainer)."""
        return self.total_parameters * self.bytes_per_parameter * 1e-6

    @property
    def total_flops(self) -> int:
        return self.flop_counter.get_total_flops()

    @property
    def flop_counts(self) -> dict[str, dict[Any, int]]:
        """FLOPs by operator for each shown layer (empty for a layer the example input did not reach)."""
        counts = self.flop_counter.get_flop_counts()
        root = type(self.model).__name__
        return {name: dict(counts.get(f"{root}.{name}", {})) for name in self.layer_names}

    def columns(self) -> list[tuple[str, list[str]]]:
        """The table's columns as text: index, name, type, params, mode, FLOPs (and shapes with an example input);
        parameters that belong to no shown layer get an ``other params`` row."""
        names = self.layer_names
        flops = self.flop_counts
        columns = [
            (" ", [str(i) for i in range(len(names))]),
            ("Name", names),
            ("Type", self.layer_types),
            ("Params", [get_human_readable_count(n) for n in self.param_nums]),
            ("Mode", ["train" if mode else "eval" for mode in self.training_modes]),
            ("FLOPs", [get_human_readable_count(sum(flops[name].values())) for name in names]),
        ]
        if getattr(self.model, "example_input_array", None) is not None:
            columns += [("In sizes", [str(s) for s in self.in_sizes]), ("Out sizes", [str(s) for s in self.out_sizes])]
        leftover = self.total_parameters - self.total_layer_params
        if leftover > 0:
            for header, cells in columns:
                extra = {" ": " ", "Name": LEFTOVER_PARAMS_NAME, "Params": get_human_readable_count(leftover)}
                cells.append(extra.get(header, NOT_APPLICABLE))
        return columns

    def __str__(self) -> str:
        columns = self.columns()
        widths = [max([len(header), *(len(cell) for cell in cells)]) for header, cells in columns]
        rule = "-" * (sum(widths) + 3 * (len(columns) + 1))
        rows = [" | ".join(header.ljust(w) for (header, _), w in zip(columns, widths)), rule]
        for i in range(len(columns[0][1])):
            rows.append(" | ".join(cells[i].ljust(w) for (_, cells), w in zip(columns, widths)))
        total, trainable, modes = self.total_parameters, self.trainable_parameters, self.total_training_modes
        rows += [
            rule,
            f"{get_human_readable_count(trainable):<10}Trainable params",
            f"{get_human_readable_count(total - trainable):<10}Non-trainable params",
            f"{get_human_readable_count(total):<10}Total params",
            f"{self.model_size:<10,.3f}Total estimated model params size (MB)",
            f"{modes['train']:<10}Modules in train mode",
            f"{modes['eval']:<10}Modules in eval mode",
            f"{get_human_readable_count(self.total_flops):<10}Total Flops",
        ]
        return "\n".join(rows)

    __repr__ = __str__


def summarize(model: torch.nn.Module, max_depth: int = 1) -> ModelSummary:
    """The :class:`ModelSummary` of ``model`` down to ``max_depth``."""
    return ModelSummary(model, max_depth=max_depth)


def _trainer_precision(model: Any) -> str | None:
    """The precision of the trainer ``model`` is attached to, if it is a Module attached to one."""
    try:
        trainer = model.trainer
    except (AttributeError, RuntimeError):  # a plain nn.Module, or a Module outside a run
        return None
    return None if trainer is None else str(trainer.precision)
