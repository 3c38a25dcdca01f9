"""The metrics store's bookkeeping, as Lightning keeps it: what loggers get, what callbacks see, and when."""

from __future__ import annotations

import torch

from flashtrain.core import Trainer
from flashtrain.core.loggers import Logger
from tests.core.helpers import RegressionModule, loader


class Recorder(Logger):
    """Records each log_metrics call exactly as the trainer makes it."""

    def __init__(self) -> None:
        self.calls: list[tuple[tuple, dict]] = []

    @property
    def name(self) -> str:
        return "recorder"

    @property
    def version(self) -> int:
        return 0

    def log_metrics(self, *args, **kwargs) -> None:
        self.calls.append((args, kwargs))


class StepAndEpoch(RegressionModule):
    def training_step(self, batch, batch_idx):
        loss = super().training_step(batch, batch_idx)
        self.log("a", loss, on_step=True, on_epoch=True)
        return loss

    def validation_step(self, batch, batch_idx):
        self.log("b", float(batch_idx), on_step=True, on_epoch=True)


def _fit(model, logger, **kwargs):
    trainer = Trainer(
        max_epochs=2,
        logger=logger,
        log_every_n_steps=1,
        enable_checkpointing=False,
        enable_progress_bar=False,
        enable_model_summary=False,
        num_sanity_val_steps=0,
        **kwargs,
    )
    trainer.fit(model, loader(16, batch_size=8), loader(16, batch_size=8))
    return trainer


def test_loggers_get_keyword_floats_with_epoch_and_logged_metrics_keep_tensors_without_it():
    logger = Recorder()
    trainer = _fit(StepAndEpoch(), logger)
    assert all(not args and set(kwargs) == {"metrics", "step"} for args, kwargs in logger.calls)
    assert all(isinstance(v, (int, float)) for _, kwargs in logger.calls for v in kwargs["metrics"].values())
    train_steps = [kw for _, kw in logger.calls if "a_step" in kw["metrics"]]
    assert [(kw["step"], kw["metrics"]["epoch"]) for kw in train_steps] == [(0, 0), (1, 0), (2, 1), (3, 1)]
    assert {"a_step", "a_epoch", "b_step", "b_epoch"} <= set(trainer.logged_metrics)
    assert "epoch" not in trainer.logged_metrics
    assert all(isinstance(v, torch.Tensor) for v in trainer.logged_metrics.values())


def test_evaluation_step_values_reach_loggers_at_their_own_steps_but_not_callbacks():
    logger = Recorder()
    trainer = _fit(StepAndEpoch(), logger)
    eval_steps = [(kw["step"], kw["metrics"]) for _, kw in logger.calls if "b_step" in kw["metrics"]]
    # 2 validation batches per epoch, counted across the fit's validations, no epoch key
    assert eval_steps == [(0, {"b_step": 0.0}), (1, {"b_step": 1.0}), (2, {"b_step": 0.0}), (3, {"b_step": 1.0})]
    assert {"b", "b_epoch"} <= set(trainer.callback_metrics) and "b_step" not in trainer.callback_metrics
    assert float(trainer.callback_metrics["b"]) == 0.5  # the epoch mean, not the last step


def test_a_logged_step_value_is_the_logger_step():
    class OwnStep(RegressionModule):
        def training_step(self, batch, batch_idx):
            self.log("step", float(100 + batch_idx))
            self.log("x", 1.0)
            return super().training_step(batch, batch_idx)

    logger = Recorder()
    _fit(OwnStep(), logger, limit_val_batches=0)
    steps = [(kw["step"], kw["metrics"]) for _, kw in logger.calls if "x" in kw["metrics"]]
    assert [step for step, _ in steps[:2]] == [100, 101]
    assert not any("step" in metrics or "epoch" in metrics for _, metrics in steps)


def test_each_entry_point_starts_with_empty_metrics():
    model = StepAndEpoch()
    trainer = _fit(model, False)
    assert "a_epoch" in trainer.callback_metrics
    trainer.validate(model, loader(8, batch_size=8), verbose=False)
    assert set(trainer.callback_metrics) == {"b", "b_epoch"}
