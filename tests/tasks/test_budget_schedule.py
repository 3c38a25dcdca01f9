"""A task's schedule under a time budget: the same curve as torch's, read at the plan's progress, and continuous
when the plan changes."""

from __future__ import annotations

import pytest
import torch

from flashtrain.tasks.budget_schedule import REFERENCE_STEPS
from flashtrain.tasks.optimization import SchedulerChoice


class Plan:
    """Stands in for a TimeBudget: linear progress over ``steps``, re-plannable from where it is."""

    def __init__(self, steps: int) -> None:
        self.piece, self.steps, self.followed = (0, 0.0), steps, False

    def follow(self) -> None:
        self.followed = True

    def progress(self, step: int) -> float:
        start, done = self.piece
        return min(1.0, done + (step - start) * (1 - done) / (self.steps - start))

    def replan(self, step: int, steps: int) -> None:
        self.piece, self.steps = (step, self.progress(step)), steps


def _optimizer(kind=torch.optim.AdamW):
    return kind([torch.nn.Parameter(torch.zeros(2))], lr=0.1)


@pytest.mark.parametrize("name", ["onecycle", "cosine", "linear_warmup", "cosine_schedule_with_warmup"])
def test_a_budgeted_schedule_draws_the_same_curve_as_the_plain_one(name):
    steps = 200
    choice = SchedulerChoice.parse(name)
    plain_optimizer, budget_optimizer = _optimizer(), _optimizer()
    plain = choice.build(plain_optimizer, steps, 1, ("val_loss", "min"))["scheduler"]
    plan = Plan(steps)
    built = choice.build(budget_optimizer, float("inf"), -1, ("val_loss", "min"), plan)
    assert plan.followed and built["interval"] == "step"
    for step in range(steps):
        expected, got = plain_optimizer.param_groups[0], budget_optimizer.param_groups[0]
        # Within one step of the 200-step curve (its 20-step warm-up moves 5% of the peak a step): the budgeted
        # curve is drawn over 1000 steps, and each schedule rounds its phases to its own length.
        assert step == 0 or got["lr"] == pytest.approx(expected["lr"], abs=0.05 * 0.1)
        assert got["betas"][0] == pytest.approx(expected["betas"][0], rel=0.01)  # one-cycle cycles momentum
        for optimizer, scheduler in ((plain_optimizer, plain), (budget_optimizer, built["scheduler"])):
            optimizer.step()
            scheduler.step()


def test_a_new_plan_keeps_the_learning_rate_continuous_and_still_ends_at_the_minimum():
    plan = Plan(100)
    optimizer = _optimizer()
    scheduler = SchedulerChoice.parse("cosine").build(optimizer, float("inf"), -1, ("val_loss", "min"), plan)[
        "scheduler"
    ]
    rates = []
    for step in range(1, 161):
        if step == 50:
            plan.replan(49, 160)  # the run is faster than planned: 60 more steps fit
        optimizer.step()
        scheduler.step()
        rates.append(optimizer.param_groups[0]["lr"])
    jumps = [abs(b - a) for a, b in zip(rates, rates[1:])]
    assert max(jumps) < 0.1 * 0.05  # no step moves the rate by more than 5% of its range
    assert rates[-1] == pytest.approx(0.0, abs=1e-6)
    assert "progress" not in scheduler.state_dict() and "lrs" not in scheduler.state_dict()


@pytest.mark.parametrize(
    ("choice", "follows"),
    [
        ("onecycle", True),
        ("cosineannealinglr", True),
        ("linear_schedule_with_warmup", True),
        (("StepLR", {"step_size": 3}), False),
        ("reducelronplateau", False),
        (("CosineAnnealingLR", {"T_max": 9}), False),
        ("linearlr", False),
    ],
)
def test_only_schedules_whose_length_is_the_runs_follow_a_budget(choice, follows):
    assert SchedulerChoice.parse(choice).follows_run_length is follows
    assert REFERENCE_STEPS >= 1000
