"""Learning-rate schedules that follow a time budget's plan (``Trainer(time_budget="10m")``).

A schedule whose length is the run's (one-cycle, cosine, linear, warm-up schedules: anything built with
``total_steps`` / ``T_max`` / ``num_training_steps``) is drawn once over a reference length on a stand-in optimizer,
and then read at the budget's progress (0..1) at each step. The budget can then change the horizon at any time,
and the learning rate (and the momentum one-cycle cycles) stays continuous. Torch's schedulers cannot change their
length once built and several of them are recursive (each step from the last), which is why the curve is drawn
once rather than the scheduler rebuilt.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import torch

# Points the curve is drawn at: linear interpolation between them is within 0.1% of the curve for every built-in.
REFERENCE_STEPS = 1000


def _momentum(group: dict[str, Any]) -> float | None:
    if "betas" in group:
        return float(group["betas"][0])
    if "momentum" in group:
        return float(group["momentum"])
    return None


def draw_curve(
    optimizer: torch.optim.Optimizer, build: Callable[[torch.optim.Optimizer], Any]
) -> tuple[list[list[float]], list[list[float | None]]]:
    """Learning rates and momenta per step (``REFERENCE_STEPS + 1`` rows, one column per parameter group) of the
    scheduler ``build(optimizer)`` makes, stepped on a stand-in with ``optimizer``'s groups (the real one is not
    touched)."""
    groups = []
    for group in optimizer.param_groups:
        momentum = _momentum(group)
        groups.append({"params": [torch.zeros(1, requires_grad=True)], "lr": group["lr"], "momentum": momentum or 0.0})
    stand_in = torch.optim.SGD(groups, lr=optimizer.param_groups[0]["lr"])
    scheduler = build(stand_in)
    lrs: list[list[float]] = []
    momenta: list[list[float | None]] = []
    for step in range(REFERENCE_STEPS + 1):
        lrs.append([float(group["lr"]) for group in stand_in.param_groups])
        momenta.append([float(group["momentum"]) for group in stand_in.param_groups])
        if step < REFERENCE_STEPS:
            stand_in.step()
            scheduler.step()
    return lrs, momenta


class BudgetSchedule(torch.optim.lr_scheduler.LRScheduler):
    """Sets each group's learning rate (and momentum, where the drawn curve changes it) to the curve's value at
    ``progress(step)``; stepped once per optimizer step."""

    def __init__(
        self,
        optimizer: torch.optim.Optimizer,
        curve: tuple[list[list[float]], list[list[float | None]]],
        progress: Callable[[int], float],
    ) -> None:
        self.lrs, momenta = curve
        columns = list(zip(*momenta))
        # Only a curve that moves the momentum sets it (one-cycle does; the others leave the optimizer's own).
        self.momenta = momenta if any(len(set(column)) > 1 for column in columns) else None
        self.progress = progress
        super().__init__(optimizer)

    def _at(self, table: list[list[Any]]) -> list[Any]:
        position = self.progress(self.last_epoch) * REFERENCE_STEPS
        low = min(int(position), REFERENCE_STEPS)
        high = min(low + 1, REFERENCE_STEPS)
        weight = position - low
        return [(1 - weight) * a + weight * b for a, b in zip(table[low], table[high])]

    def get_lr(self) -> list[float]:  # type: ignore[override]
        return self._at(self.lrs)

    def step(self, epoch: int | None = None) -> None:
        super().step(epoch)
        if self.momenta is None:
            return
        for group, momentum in zip(self.optimizer.param_groups, self._at(self.momenta)):
            if "betas" in group:
                group["betas"] = (momentum, *tuple(group["betas"])[1:])
            elif "momentum" in group:
                group["momentum"] = momentum

    def state_dict(self) -> dict[str, Any]:
        # The curve is drawn again when the task builds its optimizers; the plan is the budget's own state.
        return {key: value for key, value in super().state_dict().items() if key not in ("lrs", "momenta", "progress")}


def budget_schedule(
    optimizer: torch.optim.Optimizer, build: Callable[[torch.optim.Optimizer], Any], budget: Any
) -> BudgetSchedule:
    """``build``'s schedule (built for ``REFERENCE_STEPS`` steps) following ``budget``'s plan."""
    budget.follow()
    return BudgetSchedule(optimizer, draw_curve(optimizer, build), budget.progress)
