"""``ModelSummary``: a table of the module's layers and parameter counts at the start of fit."""

from __future__ import annotations

from typing import Any

import torch

from flashtrain.core.callbacks.base import Callback


def _human(count: int) -> str:
    for unit, size in (("B", 10**9), ("M", 10**6), ("K", 10**3)):
        if count >= size:
            return f"{count / size:.1f} {unit}"
    return str(count)


def summary_rows(module: torch.nn.Module, max_depth: int = 1) -> tuple[list[tuple[str, ...]], list[tuple[str, str]]]:
    """The layers down to ``max_depth`` (name, type, parameter count, mode) and the (label, value) totals."""
    rows: list[tuple[str, ...]] = []
    for name, layer in module.named_modules():
        depth = name.count(".") + 1 if name else 0
        if not name or depth > max_depth:
            continue
        params = sum(p.numel() for p in layer.parameters())
        has_trainable = any(p.requires_grad for p in layer.parameters())
        mode = "train" if layer.training else "eval"
        rows.append((name, type(layer).__name__, _human(params), mode if has_trainable or params == 0 else "frozen"))
    trainable = sum(p.numel() for p in module.parameters() if p.requires_grad)
    frozen = sum(p.numel() for p in module.parameters() if not p.requires_grad)
    size_mb = sum(p.numel() * p.element_size() for p in module.parameters()) / 1e6
    totals = [
        ("Trainable params", _human(trainable)),
        ("Non-trainable params", _human(frozen)),
        ("Total params", _human(trainable + frozen)),
        ("Total estimated model params size (MB)", f"{size_mb:.3f}"),
    ]
    return rows, totals


def summarize(module: torch.nn.Module, max_depth: int = 1) -> str:
    """Layers down to ``max_depth`` with their type and parameter count, then trainable/frozen totals."""
    rows, totals = summary_rows(module, max_depth)
    header = ("", "Name", "Type", "Params", "Mode")
    table = [header] + [(str(i), *row) for i, row in enumerate(rows)]
    widths = [max(len(r[c]) for r in table) for c in range(len(header))]
    lines = [" | ".join(cell.ljust(widths[c]) for c, cell in enumerate(row)) for row in table]
    lines.insert(1, "-" * len(lines[0]))
    lines += ["-" * len(lines[0])] + [f"{value:<10} {label}" for label, value in totals]
    return "\n".join(lines)


class ModelSummary(Callback):
    """Print :func:`summarize` of the module when fit starts (rank zero only)."""

    def __init__(self, max_depth: int = 1) -> None:
        self.max_depth = max_depth

    def on_fit_start(self, trainer: Any, pl_module: Any) -> None:
        if trainer.is_global_zero and self.max_depth != 0:
            print(summarize(pl_module, self.max_depth))
