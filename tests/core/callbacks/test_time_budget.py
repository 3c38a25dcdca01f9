"""Time budgets: the plan fits the budget, a following schedule ends at its minimum, a slowed run re-plans, a
schedule that cannot follow stops on time, and a resume keeps the plan."""

from __future__ import annotations

import datetime

import pytest
import torch

from flashtrain.core import Trainer
from flashtrain.core.callbacks import TimeBudget
from flashtrain.core.callbacks import time_budget as time_budget_module
from flashtrain.core.callbacks.time_budget import parse_time_budget
from tests.core.helpers import RegressionModule, loader


@pytest.mark.parametrize(
    ("value", "seconds"),
    [
        ("10m", 600),
        ("90s", 90),
        ("1h30m", 5400),
        ("00:00:02:00", 120),
        (45, 45),
        ("2.5", 2.5),
        (datetime.timedelta(minutes=2), 120),
    ],
)
def test_budgets_are_read_in_every_form(value, seconds):
    assert parse_time_budget(value) == seconds


@pytest.mark.parametrize("value", ["10 minutes", "", "-5", 0, True, "5x"])
def test_a_budget_that_is_not_a_duration_is_refused(value):
    with pytest.raises(ValueError, match="is not a duration; use seconds"):
        parse_time_budget(value)


class SimulatedClock:
    """The budget's clock, advanced by each step's declared cost instead of the machine's: the plan's arithmetic is
    tested exactly whatever the load of the machine running the suite (``benchmarks/time_budget.py`` measures real
    wall time)."""

    def __init__(self) -> None:
        self.now = 1000.0

    def monotonic(self) -> float:
        return self.now

    def sleep(self, seconds: float) -> None:
        self.now += seconds


@pytest.fixture(autouse=True)
def clock(monkeypatch):
    simulated = SimulatedClock()
    monkeypatch.setattr(time_budget_module, "time", simulated)
    return simulated


class Paced(RegressionModule):
    """Each step costs ``seconds`` on the simulated clock; from ``slow_from_epoch`` on it costs ``slow_seconds``.
    ``follow``: its schedule decays linearly over the plan."""

    def __init__(self, clock, seconds=0.01, slow_from_epoch=None, slow_seconds=0.0, follow=True):
        super().__init__(lr=0.05)
        self.clock, self.seconds, self.slow_from_epoch, self.slow_seconds, self.follow = (
            clock,
            seconds,
            slow_from_epoch,
            slow_seconds,
            follow,
        )

    def training_step(self, batch, batch_idx):
        slow = self.slow_from_epoch is not None and self.current_epoch >= self.slow_from_epoch
        self.clock.sleep(self.slow_seconds if slow else self.seconds)
        return super().training_step(batch, batch_idx)

    def configure_optimizers(self):
        optimizer = torch.optim.SGD(self.parameters(), lr=self.hparams.lr)
        budget = self.trainer.time_budget
        if self.follow:
            budget.follow()
            decay = torch.optim.lr_scheduler.LambdaLR(optimizer, lambda step: 1.0 - budget.progress(step))
        else:
            decay = torch.optim.lr_scheduler.StepLR(optimizer, step_size=1000)
        return {"optimizer": optimizer, "lr_scheduler": {"scheduler": decay, "interval": "step"}}


def _fit(tmp_path, model, clock, budget=2.0, **kwargs):
    # The first fit of a process pays one-off costs (torch imports its compiler on the first optimizer, ~1 s and
    # more on a busy machine) that a 2 s budget cannot absorb: pay them before the timed run.
    Trainer(max_steps=1, logger=False, enable_progress_bar=False, enable_model_summary=False,
            enable_checkpointing=False).fit(RegressionModule(), loader(8, batch_size=8))  # fmt: skip
    trainer = Trainer(
        time_budget=budget,
        default_root_dir=str(tmp_path),
        logger=False,
        enable_progress_bar=False,
        enable_model_summary=False,
        enable_checkpointing=False,
        **kwargs,
    )
    start = clock.monotonic()
    trainer.fit(model, loader(64, batch_size=8), loader(16, batch_size=8))
    return trainer, clock.monotonic() - start


@pytest.mark.slow
def test_a_following_schedule_ends_at_its_minimum_on_time(tmp_path, capsys, clock):
    trainer, wall = _fit(tmp_path, Paced(clock), clock)
    plan = trainer.time_budget.plan
    assert wall <= 2.0
    assert plan.schedule_follows and plan.stopped_by == "plan"
    assert trainer.global_step == plan.planned_steps > 20
    assert trainer.optimizers[0].param_groups[0]["lr"] == pytest.approx(0.0, abs=1e-9)
    assert plan.seconds_per_step == pytest.approx(0.01) and plan.reserve_seconds > 0
    assert "time budget 2s, plan:" in capsys.readouterr().out


@pytest.mark.slow
def test_a_run_slowed_on_purpose_re_plans_to_fewer_steps(tmp_path, capsys, clock):
    trainer, wall = _fit(tmp_path, Paced(clock, seconds=0.005, slow_from_epoch=2, slow_seconds=0.03), clock)
    plan = trainer.time_budget.plan
    assert wall <= 2.0 * 1.05
    assert plan.replans >= 1 and "re-plan (was" in capsys.readouterr().out
    assert plan.seconds_per_step > 0.015  # the slow pace was seen
    # At the schedule's minimum within 5% of the peak (0.05): a re-planned run may stop a step short of its plan
    # when a step near the end comes in slower than the pace it measured.
    assert trainer.optimizers[0].param_groups[0]["lr"] == pytest.approx(0.0, abs=0.05 * 0.05)


@pytest.mark.slow
def test_a_schedule_that_cannot_follow_stops_on_time_and_says_so(tmp_path, capsys, clock):
    trainer, wall = _fit(tmp_path, Paced(clock, follow=False), clock, budget=1.5, max_epochs=1000)
    assert wall <= 1.5 * 1.05
    assert not trainer.time_budget.plan.schedule_follows
    assert "cannot follow it (stops on time)" in capsys.readouterr().out


class BusyMachine(Paced):
    """A busy machine: a few long steps per budget whose durations swing, a validation that takes time, and from
    ``slower_after`` seconds on everything (steps and validation) ``slowdown`` times slower (another job started)."""

    def __init__(self, clock, durations, validation_seconds, slower_after=None, slowdown=1.0):
        super().__init__(clock)
        self.durations, self.validation_seconds, self.calls = durations, validation_seconds, 0
        self.started, self.slower_after, self.slowdown = clock.now, slower_after, slowdown

    def _cost(self, seconds):
        late = self.slower_after is not None and self.clock.now - self.started >= self.slower_after
        self.clock.sleep(seconds * (self.slowdown if late else 1.0))

    def training_step(self, batch, batch_idx):
        self._cost(self.durations[self.calls % len(self.durations)])
        self.calls += 1
        return RegressionModule.training_step(self, batch, batch_idx)

    def validation_step(self, batch, batch_idx):
        self._cost(self.validation_seconds)
        return super().validation_step(batch, batch_idx)


@pytest.mark.parametrize(
    ("durations", "slower_after", "slowdown"),
    [([1.0, 2.0], None, 1.0), ([1.0, 1.0, 1.0, 2.5], None, 1.0), ([0.5], 12.0, 3.0), ([0.4, 0.8], 15.0, 4.0)],
)
def test_long_uneven_steps_on_a_busy_machine_still_end_within_five_percent_of_the_budget(
    tmp_path, clock, durations, slower_after, slowdown
):
    # Steps of 1-10% of the budget and no epoch end inside it, so the final validation is only known from the sanity
    # check: the next step is guessed from the longest of the last ones, and the reserved validation grows as the
    # machine slows down (a validation measured at the old pace would overrun the budget by 10-20% here).
    model = BusyMachine(clock, durations, validation_seconds=1.0, slower_after=slower_after, slowdown=slowdown)
    trainer = Trainer(time_budget=30, default_root_dir=str(tmp_path), logger=False, enable_progress_bar=False,
                      enable_model_summary=False, enable_checkpointing=False)  # fmt: skip
    start = clock.monotonic()
    trainer.fit(model, loader(800, batch_size=8), loader(16, batch_size=8))
    wall = clock.monotonic() - start
    plan = trainer.time_budget.plan
    assert wall <= 30 * 1.05
    assert trainer.global_step >= 8 and plan.stopped_at_seconds is not None
    if slowdown < 4.0:  # (a step 4x slower than any before it can only be stopped after, not planned for)
        # The plan shrank before the clock could cut the schedule short: the learning rate ends at its minimum (0).
        assert plan.stopped_by == "plan" and trainer.optimizers[0].param_groups[0]["lr"] == pytest.approx(0, abs=1e-9)
    if slowdown == 1.0:  # the tail after the last step was reserved (a sudden slowdown is caught up with, in part)
        assert wall - plan.stopped_at_seconds <= plan.reserve_seconds + 1e-6


def test_work_after_fit_is_reserved_in_the_plan(tmp_path, clock):
    plans = []
    for passes in (0, 3):
        model = BusyMachine(clock, [0.05], validation_seconds=0.2)
        trainer = Trainer(time_budget=10, default_root_dir=str(tmp_path), logger=False, enable_progress_bar=False,
                          enable_model_summary=False, enable_checkpointing=False)  # fmt: skip
        trainer.time_budget.reserve_after_fit(validation_passes=passes, seconds=0.5 if passes else 0.0)
        start = clock.monotonic()
        trainer.fit(model, loader(800, batch_size=8), loader(16, batch_size=8))
        plans.append((trainer.time_budget.plan, clock.monotonic() - start))
    (alone, _), (with_after, wall) = plans
    validation = with_after.seconds_per_epoch_overhead
    assert with_after.after_fit_passes == 3 and validation == pytest.approx(0.4)  # 2 batches of 0.2 s
    assert with_after.reserve_seconds == pytest.approx(alone.reserve_seconds + 3 * validation + 0.5)
    assert with_after.planned_steps < alone.planned_steps and wall + 3 * validation + 0.5 <= 10


def test_a_budget_counted_from_an_earlier_start_spends_the_time_before_fit(tmp_path, clock):
    # flash-train counts its budget from the command's start: imports, data loading and the data check (4 s here)
    # are spent from it, so that the whole command, not only fit, ends within the budget.
    runs = []
    for before_fit in (0.0, 4.0):
        trainer = Trainer(time_budget=10, default_root_dir=str(tmp_path), logger=False, enable_progress_bar=False,
                          enable_model_summary=False, enable_checkpointing=False)  # fmt: skip
        command_started = clock.monotonic()
        clock.sleep(before_fit)
        if before_fit:
            trainer.time_budget.count_from(command_started)
        trainer.fit(BusyMachine(clock, [0.05], validation_seconds=0.1), loader(800, batch_size=8), loader(16, 8))
        runs.append((trainer.time_budget.plan, clock.monotonic() - command_started, trainer.global_step))
    (alone, _, steps_alone), (counted, wall, steps) = runs
    assert alone.seconds_before_fit == 0.0 and counted.seconds_before_fit == pytest.approx(4.0)
    assert counted.stopped_at_seconds >= 4.0 and wall <= 10  # the budget's clock includes the 4 s before fit
    assert steps < steps_alone - 60  # 4 s of 0.05 s steps fewer, about
    assert trainer.optimizers[0].param_groups[0]["lr"] == pytest.approx(0.0, abs=1e-9)  # and it still ends


def test_a_resumed_budget_keeps_its_plan_and_its_place_in_the_schedule():
    budget = TimeBudget("1m", verbose=False)
    state = {
        "plan": {
            "budget_seconds": 60.0,
            "planned_steps": 400,
            "seconds_per_step": 0.1,
            "replans": 2,
            "schedule_follows": True,
        },
        "piece": [100, 0.2],
        "elapsed": 30.0,
    }
    budget.load_state_dict(state)
    assert budget.plan.planned_steps == 400 and budget.elapsed() == 30.0
    assert budget.progress(100) == pytest.approx(0.2) and budget.progress(400) == 1.0
    assert budget.progress(250) == pytest.approx(0.6)
    again = TimeBudget("1m", verbose=False)
    again.load_state_dict(budget.state_dict())
    assert again.progress(250) == budget.progress(250) and again.plan == budget.plan


def test_the_trainer_builds_the_budget_and_trains_without_an_epoch_limit():
    trainer = Trainer(time_budget="1m", logger=False, enable_progress_bar=False)
    assert isinstance(trainer.time_budget, TimeBudget) and trainer.time_budget.plan.budget_seconds == 60
    assert trainer.max_epochs == -1
    assert Trainer(logger=False).time_budget is None
    assert Trainer(time_budget=60, max_epochs=5, logger=False).max_epochs == 5  # an explicit limit still caps it
