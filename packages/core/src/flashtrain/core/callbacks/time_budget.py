"""``TimeBudget``: train for a wall-clock budget with the learning-rate schedule planned to fit it.

``max_time`` cuts a run off wherever its schedule happens to be (a one-cycle schedule planned for 100 epochs and cut
at 8 s is still warming up). A budget instead measures the pace of the first steps (after warm-up and any compile),
reserves time for validation, checkpoints and the summary, and sets the schedule's step horizon to the steps that
fit. At each epoch end (and every tenth of the budget inside long epochs) it re-plans from the pace it sees, keeping
the schedule continuous: the part of the schedule already run stays, the rest is stretched or squeezed.

A schedule follows the plan through :meth:`TimeBudget.progress` (the fraction of the planned run done at a step);
the tasks' schedules do (``flashtrain.tasks.optimization``). Any other scheduler cannot be re-planned: then the
budget only stops on time, and says so.
"""

from __future__ import annotations

import datetime
import io
import math
import re
import time
from collections import deque
from dataclasses import asdict, dataclass
from typing import IO, Any, cast

from flashtrain.core.callbacks.base import Callback

_UNITS = {"s": 1.0, "m": 60.0, "h": 3600.0, "d": 86400.0}
_DURATION = re.compile(r"(\d+(?:\.\d+)?)([smhd])")
# Steps left out of the pace at the start of fit: allocation, lazy imports, compile and cache warm-up.
WARMUP_STEPS = 2
# Time kept for the summary after the last step (logger flushes, teardown), as a budget fraction.
SUMMARY_RESERVE = 0.02
# Steps whose durations set the guess for the next one: the longest of them, so that a step that varies on a busy
# machine is not started on the strength of one quick predecessor.
RECENT_STEPS = 5


def parse_time_budget(value: Any) -> float:
    """A budget in seconds from ``"10m"``, ``"90s"``, ``"1h30m"``, ``"DD:HH:MM:SS"``, seconds, or a timedelta."""
    seconds: float | None = None
    if isinstance(value, datetime.timedelta):
        seconds = value.total_seconds()
    elif isinstance(value, (int, float)) and not isinstance(value, bool):
        seconds = float(value)
    elif isinstance(value, str):
        text = value.strip().lower().replace(" ", "")
        if re.fullmatch(r"\d+(\.\d+)?", text):
            seconds = float(text)
        elif re.fullmatch(r"\d+:\d{1,2}:\d{1,2}:\d{1,2}", text):
            days, hours, minutes, secs = (int(part) for part in text.split(":"))
            seconds = float(((days * 24 + hours) * 60 + minutes) * 60 + secs)
        elif text and _DURATION.sub("", text) == "":
            seconds = sum(float(number) * _UNITS[unit] for number, unit in _DURATION.findall(text))
    if seconds is None or not math.isfinite(seconds) or seconds <= 0:
        raise ValueError(
            f"time_budget={value!r} is not a duration; use seconds (600), a string like '10m', '90s', '1h30m' or "
            "'DD:HH:MM:SS', or a datetime.timedelta (all > 0)."
        )
    return seconds


@dataclass
class BudgetPlan:
    """What the budget decided: the optimizer steps planned, the pace they were planned at, the time reserved."""

    budget_seconds: float
    planned_steps: int | None = None
    seconds_per_step: float | None = None
    seconds_per_epoch_overhead: float = 0.0  # validation and checkpoints, per epoch
    reserve_seconds: float = 0.0  # the final validation, checkpoint and summary
    replans: int = 0
    schedule_follows: bool = False
    stopped_by: str | None = None  # "plan" (the planned steps are done) or "time" (the clock ran out first)
    stopped_at_seconds: float | None = None  # the budget's clock when the last step ended
    after_fit_passes: float = 0.0  # validation-long passes the caller makes after fit (see reserve_after_fit)
    after_fit_seconds: float = 0.0  # and other seconds it asked for
    seconds_before_fit: float = 0.0  # counted before fit started (a command's imports, data loading; see count_from)


class TimeBudget(Callback):
    """Train for ``budget`` (``"10m"``, seconds, a timedelta) with the schedule planned to end when time does.

    Args:
        budget: the wall-clock time for ``fit``, counted from its start (or from an earlier point given to
            :meth:`count_from`), across resumes.
        verbose: print the plan and each re-plan that changes it by more than 5%.
    """

    def __init__(self, budget: Any, verbose: bool = True) -> None:
        self.plan = BudgetPlan(parse_time_budget(budget))
        self.verbose = verbose
        # The schedule's position is piecewise linear in the step: from (start_step, start_progress) to 1 at
        # planned_steps. A re-plan starts a new piece where the old one is, so the learning rate never jumps.
        self._piece = (0, 0.0)
        self._elapsed_before = 0.0  # fit time spent before a resume
        self._fit_started: float | None = None
        self._counted_from: float | None = None  # an earlier start than fit's (count_from)
        self._mark: float | None = None  # the last point the training clock was read (batch end, epoch start)
        self._train_seconds = 0.0  # time in training batches since the pace was last taken
        self._train_steps = 0
        self._epoch_started: float | None = None
        self._epoch_train_seconds = 0.0
        self._epoch_steps = 0
        self._last_plan_at = 0.0
        self._seen_steps = 0
        self._first_step = 0
        self._sanity_started = 0.0
        self._sanity_ends: list[float] = []  # when each sanity-check batch ended
        self._recent: deque[float] = deque(maxlen=RECENT_STEPS)  # the last steps' durations, validation excluded
        self._overhead_pace: float | None = None  # the pace when the per-epoch overhead was measured
        self._checkpoint_seconds = 0.0  # a first guess at the checkpoints' cost, until an epoch end measures it

    # -- what a schedule asks -------------------------------------------------------------------------------------
    def progress(self, step: int) -> float:
        """The fraction (0..1) of the planned run done after ``step`` optimizer steps; 0 until the first plan."""
        planned = self.plan.planned_steps
        if planned is None:
            return 0.0
        start_step, start_progress = self._piece
        if planned <= start_step:
            return 1.0
        done = start_progress + (step - start_step) * (1.0 - start_progress) / (planned - start_step)
        return min(1.0, max(0.0, done))

    def follow(self) -> None:
        """Called by a schedule built on :meth:`progress`: the plan will set its horizon."""
        self.plan.schedule_follows = True

    def reserve_after_fit(self, validation_passes: float = 0.0, seconds: float = 0.0) -> None:
        """Keep time in the budget for work done after ``fit``: ``validation_passes`` passes as long as one
        validation (e.g. ranking the validation items, a test set of the same size) and ``seconds`` more.

        The budget then covers the whole run a caller makes of it (``flash-train``'s summary), not only ``fit``."""
        self.plan.after_fit_passes, self.plan.after_fit_seconds = float(validation_passes), float(seconds)

    def count_from(self, started: float) -> None:
        """Count the budget from ``started`` (a ``time.monotonic()`` reading before ``fit``, e.g. when a command
        started) instead of from ``fit``'s start: what ran before fit (imports, data loading, a data check) is
        spent from the budget, so that the budget bounds the caller's whole run, not only fit."""
        self._counted_from = float(started)

    def elapsed(self) -> float:
        """Seconds of ``fit`` so far, including the time before a resume."""
        if self._fit_started is None:
            return self._elapsed_before
        return self._elapsed_before + time.monotonic() - self._fit_started

    # -- hooks ------------------------------------------------------------------------------------------------------
    def setup(self, trainer: Any, pl_module: Any, stage: str) -> None:
        if stage == "fit":  # the budget covers fit from its start: data setup and the sanity check count too
            now = time.monotonic()
            self._fit_started = min(now, self._counted_from) if self._counted_from is not None else now
            self.plan.seconds_before_fit = now - self._fit_started

    def on_sanity_check_start(self, trainer: Any, pl_module: Any) -> None:
        self._sanity_started, self._sanity_ends = time.monotonic(), []

    def on_validation_batch_end(self, trainer: Any, pl_module: Any, *args: Any) -> None:
        if trainer.sanity_checking:
            self._sanity_ends.append(time.monotonic())

    def on_sanity_check_end(self, trainer: Any, pl_module: Any) -> None:
        # A first guess at a validation's cost, until an epoch has measured it: the first sanity batch (which also
        # pays what every validation pays once: loader workers starting) and the pace of the next ones for the rest
        # of the validation batches.
        ends = self._sanity_ends
        if ends:
            total = sum(n for n in trainer.num_val_batches if not math.isinf(n))
            first = ends[0] - self._sanity_started
            rest = (ends[-1] - ends[0]) / (len(ends) - 1) if len(ends) > 1 else first
            self.plan.seconds_per_epoch_overhead = first + max(0.0, total - 1) * rest

    def on_train_start(self, trainer: Any, pl_module: Any) -> None:
        self._first_step = self._seen_steps = trainer.global_step

    def on_train_epoch_start(self, trainer: Any, pl_module: Any) -> None:
        now = time.monotonic()
        if self._epoch_started is not None and self._epoch_steps:
            # Everything in the last epoch that was not a training batch: validation, checkpoints, epoch-end hooks.
            overhead = max(0.0, now - self._epoch_started - self._epoch_train_seconds)
            self.plan.seconds_per_epoch_overhead = overhead
            self._overhead_pace = self._recent_pace()
            self._checkpoint_seconds = 0.0  # measured now, inside the overhead
            if self.plan.planned_steps is not None:
                self._replan(trainer, trainer.global_step)
        self._epoch_started = self._mark = now
        self._epoch_train_seconds, self._epoch_steps = 0.0, 0

    def on_validation_start(self, trainer: Any, pl_module: Any) -> None:
        if trainer.sanity_checking:
            return
        self._mark = None  # validation is overhead, not training pace

    def on_validation_end(self, trainer: Any, pl_module: Any) -> None:
        self._mark = time.monotonic()

    def on_train_batch_end(self, trainer: Any, pl_module: Any, outputs: Any, batch: Any, batch_idx: int) -> None:
        now = time.monotonic()
        step = trainer.global_step
        stepped = step > self._seen_steps
        self._seen_steps = step
        if self._mark is not None and stepped:
            seconds = now - self._mark
            self._epoch_train_seconds += seconds
            self._epoch_steps += 1
            if step > WARMUP_STEPS + self._first_step:
                self._train_seconds += seconds
                self._train_steps += 1
                self._recent.append(seconds)
        self._mark = now
        elapsed = self.elapsed()
        budget = self.plan.budget_seconds
        if self.plan.planned_steps is None:
            # Enough to plan: five steps, or fewer slow ones that took 3% of the budget (at least 1% in any case).
            enough = self._train_steps >= 5 or self._train_seconds >= 0.03 * budget
            if enough and self._train_steps and self._train_seconds >= 0.01 * budget:
                self._replan(trainer, step)
        else:  # every tenth of the budget, and at every step near the end when the last steps would overrun
            due = elapsed - self._last_plan_at >= 0.1 * budget and self._train_steps >= 2
            if due or self._end_at_risk(step, elapsed):
                self._replan(trainer, step)
        if self.plan.planned_steps is not None and step >= self.plan.planned_steps:
            self._stop(trainer, "plan")
        elif elapsed + self._next_step_seconds() + self._final_reserve() >= budget:
            self._stop(trainer, "time")  # the next step would not end in time
        if trainer.should_stop and self.plan.stopped_at_seconds is None:
            self.plan.stopped_at_seconds, self.plan.reserve_seconds = elapsed, self._final_reserve()

    def on_train_end(self, trainer: Any, pl_module: Any) -> None:
        if self.verbose and trainer.is_global_zero and self.plan.stopped_by == "time":
            before = self.plan.seconds_before_fit
            print(
                f"time budget: stopped on time at step {trainer.global_step} "
                f"(schedule at {self.progress(trainer.global_step):.0%} of its plan)"
                + (f"; {before:.1f}s of the budget were spent before fit" if before >= 0.05 else "")
            )

    def state_dict(self) -> dict[str, Any]:
        return {"plan": asdict(self.plan), "piece": list(self._piece), "elapsed": self.elapsed()}

    def load_state_dict(self, state_dict: dict[str, Any]) -> None:
        plan = dict(state_dict.get("plan", {}))
        plan["budget_seconds"] = self.plan.budget_seconds  # a resume may be given more (or less) time
        plan["stopped_by"] = plan["stopped_at_seconds"] = None
        plan["after_fit_passes"], plan["after_fit_seconds"] = self.plan.after_fit_passes, self.plan.after_fit_seconds
        plan["seconds_before_fit"] = self.plan.seconds_before_fit
        self.plan = BudgetPlan(**plan)
        start_step, start_progress = state_dict.get("piece", (0, 0.0))
        self._piece = (int(start_step), float(start_progress))
        self._elapsed_before = float(state_dict.get("elapsed", 0.0))

    # -- planning ---------------------------------------------------------------------------------------------------
    def _end_at_risk(self, step: int, elapsed: float) -> bool:
        """In the last few steps of the plan: would they overrun the budget if each were as slow as the slowest
        recent one? Then the plan shrinks now, so that the schedule still reaches its end, rather than the clock
        cutting it off a step or two before (long steps on a busy machine, where one step is a few % of the budget).
        """
        planned = self.plan.planned_steps
        if planned is None or not self._recent or planned - step > RECENT_STEPS:
            return False
        needed = (planned - step) * self._next_step_seconds() + self._final_reserve()
        return elapsed + needed > self.plan.budget_seconds

    def _next_step_seconds(self) -> float:
        """The longest of the last steps (the next may be as slow), or the planned pace before there is one."""
        return max(self._recent, default=self.plan.seconds_per_step or 0.0)

    def _recent_pace(self) -> float | None:
        return sum(self._recent) / len(self._recent) if self._recent else None

    def _final_reserve(self) -> float:
        """What comes after the last step: the final validation with its checkpoints (the last epoch's overhead,
        slower in proportion when the steps have slowed down since it was measured), the caller's work after fit,
        and the summary."""
        slowdown = 1.0
        now, then = self._recent_pace(), self._overhead_pace
        if now is not None and then:
            slowdown = max(1.0, now / then)
        validation = self.plan.seconds_per_epoch_overhead
        after_fit = self.plan.after_fit_passes * validation + self.plan.after_fit_seconds
        return (
            validation + self._checkpoint_seconds + after_fit
        ) * slowdown + SUMMARY_RESERVE * self.plan.budget_seconds

    def _guess_checkpoint_seconds(self, trainer: Any, pl_module: Any) -> float:
        """Until an epoch end has measured them, the checkpoints written after the last step cost about what
        serialising the weights and optimizer state takes (timed once) per checkpoint callback."""
        callbacks = len(getattr(trainer, "checkpoint_callbacks", []) or [])
        if not callbacks:
            return 0.0
        import torch

        started = time.monotonic()
        torch.save(
            {"state_dict": pl_module.state_dict(), "optimizers": [o.state_dict() for o in trainer.optimizers]},
            cast("IO[bytes]", _Discard()),  # serialised and thrown away: no copy of a large model is held in memory
        )
        return callbacks * (time.monotonic() - started)

    def _pace(self) -> float:
        """Seconds per optimizer step: the last epoch's when it had enough steps (the pace can change), else all
        measured so far."""
        if self._epoch_steps >= 5 and self._epoch_train_seconds > 0:
            recent = self._epoch_train_seconds / self._epoch_steps
            if self._train_steps:
                return 0.5 * recent + 0.5 * self._train_seconds / self._train_steps
            return recent
        return self._train_seconds / max(1, self._train_steps)

    def _replan(self, trainer: Any, step: int) -> None:
        """Plan the steps that fit in the time left at the measured pace; the last few at the slowest recent
        step's (one slow step there would otherwise let the clock cut the schedule off before its end)."""
        pace = self._pace()
        if pace <= 0:
            return
        if self.plan.planned_steps is None:  # the first plan: the costs after the last step, as first measured
            self._overhead_pace = self._recent_pace()
            if self._epoch_started is not None and trainer.current_epoch == 0:
                self._checkpoint_seconds = self._guess_checkpoint_seconds(trainer, trainer.lightning_module)
        elapsed = self.elapsed()
        self._last_plan_at = elapsed
        steps_per_epoch = _steps_per_epoch(trainer)
        overhead = self.plan.seconds_per_epoch_overhead
        reserve = self._final_reserve()
        left = max(0.0, self.plan.budget_seconds - elapsed - reserve)
        per_epoch = overhead / steps_per_epoch if steps_per_epoch else 0.0
        planned = step + int(left / (pace + per_epoch))
        if planned - step <= RECENT_STEPS and self._recent:
            pace = max(pace, self._next_step_seconds())
            planned = step + int(left / (pace + per_epoch))
        if steps_per_epoch and trainer.max_epochs is not None and trainer.max_epochs > 0:
            planned = min(planned, trainer.max_epochs * steps_per_epoch)
        if trainer.max_steps is not None and trainer.max_steps > 0:
            planned = min(planned, trainer.max_steps)
        boundary = planned // steps_per_epoch * steps_per_epoch if steps_per_epoch else planned
        if boundary > step and planned - boundary <= 0.1 * (planned - step):
            # End on an epoch boundary, so that the last validation (and the best checkpoint) sees the final
            # weights, where that costs at most a tenth of the steps left; else stop inside the epoch.
            planned = boundary
        previous = self.plan.planned_steps
        self._piece = (step, self.progress(step))
        self.plan.planned_steps = max(planned, step)
        self.plan.seconds_per_step = pace
        self.plan.reserve_seconds = reserve
        if previous is None:
            self._announce(trainer, "plan")
        elif previous != planned:
            self.plan.replans += 1
            if abs(planned - previous) > 0.05 * previous:
                self._announce(trainer, f"re-plan (was {previous} steps)")

    def _announce(self, trainer: Any, what: str) -> None:
        plan = self.plan
        if trainer.is_global_zero and self.verbose:
            follows = "" if plan.schedule_follows else "; the learning-rate schedule cannot follow it (stops on time)"
            before = f", {plan.seconds_before_fit:.1f}s spent before fit" if plan.seconds_before_fit >= 0.05 else ""
            print(
                f"time budget {plan.budget_seconds:g}s, {what}: {plan.planned_steps} steps at "
                f"{1000 * (plan.seconds_per_step or 0):.2f} ms/step, {plan.reserve_seconds:.1f}s reserved"
                f"{before}{follows}"
            )
        for logger in trainer.loggers:
            logger.log_metrics(
                {
                    "time_budget/planned_steps": float(plan.planned_steps or 0),
                    "time_budget/seconds_per_step": float(plan.seconds_per_step or 0.0),
                    "time_budget/reserve_seconds": float(plan.reserve_seconds),
                },
                step=trainer.global_step,
            )

    def _stop(self, trainer: Any, reason: str) -> None:
        if not trainer.should_stop:
            self.plan.stopped_by = reason
        trainer.should_stop = True


class _Discard(io.RawIOBase):
    """A file that accepts and drops every byte."""

    def writable(self) -> bool:
        return True

    def write(self, data: Any) -> int:
        return len(data)


def _steps_per_epoch(trainer: Any) -> int:
    batches = trainer.num_training_batches
    if batches is None or math.isinf(batches) or batches <= 0:
        return 0
    return max(1, math.ceil(int(batches) / max(1, trainer.accumulate_grad_batches)))
