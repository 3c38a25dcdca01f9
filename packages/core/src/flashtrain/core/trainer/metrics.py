"""``MetricsStore``: what ``self.log`` records and where it goes — the results of the loop running now, the
metrics that callbacks, loggers and the progress bar read, and the loggers themselves."""

from __future__ import annotations

import contextlib
from collections.abc import Iterator
from typing import Any

import torch

from flashtrain.core.logging_results import ResultCollection
from flashtrain.core.strategies import Strategy


class MetricsStore:
    """The one owner of logged values: ``trainer.callback_metrics``, ``logged_metrics`` and
    ``progress_bar_metrics`` are read from here, and ``send_to_loggers`` is the one way values reach loggers."""

    def __init__(self, loggers: list[Any], strategy: Strategy) -> None:
        self.loggers = loggers
        self.strategy = strategy
        self.train_results = ResultCollection("train")
        self.results = self.train_results  # where self.log writes right now
        self.evaluation_metric_names: set[str] = set()  # what the last validation/test logged
        self._callback: dict[str, torch.Tensor] = {}
        self._logged: dict[str, torch.Tensor] = {}
        self._progress_bar: dict[str, torch.Tensor] = {}
        self._evaluation_steps: dict[int, int] = {}  # logger step of each eval dataloader's step values

    def reset(self, entry_point: str = "fit") -> None:
        """Forget every metric: each ``fit``/``validate``/``test`` starts with empty metrics, as in Lightning.
        In ``predict`` nothing may be logged: ``self.log`` goes to a collection that refuses it."""
        self._callback, self._logged, self._progress_bar = {}, {}, {}
        self._evaluation_steps = {}
        self.train_results.reset()
        self.results = ResultCollection("predict") if entry_point == "predict" else self.train_results
        self.evaluation_metric_names = set()

    # -- recording ------------------------------------------------------------------------------------------
    @contextlib.contextmanager
    def recording_into(self, results: ResultCollection) -> Iterator[None]:
        """``self.log`` calls inside go to ``results`` (an evaluation's), then back to where they went before."""
        previous, self.results = self.results, results
        try:
            yield
        finally:
            self.results = previous

    # -- reading --------------------------------------------------------------------------------------------
    @property
    def callback_metrics(self) -> dict[str, torch.Tensor]:
        """Every logged value: epoch reductions so far, and the latest step values of this training epoch."""
        step_metrics = self.train_results.step_metrics()[0]
        return {**self._callback, **step_metrics} if step_metrics else dict(self._callback)

    @property
    def logged_metrics(self) -> dict[str, torch.Tensor]:
        """The latest ``logger=True`` values (what the loggers were, or with a logger would have been, given)."""
        step_metrics = self.train_results.step_metrics()[1]
        return {**self._logged, **step_metrics} if step_metrics else dict(self._logged)

    @property
    def progress_bar_metrics(self) -> dict[str, float]:
        """Values logged with ``prog_bar=True``, as floats."""
        step_metrics = self.train_results.step_metrics()[2]
        merged = {**self._progress_bar, **step_metrics}
        return {key: float(value) for key, value in merged.items()}

    # -- publishing -----------------------------------------------------------------------------------------
    def send_to_loggers(self, metrics: dict[str, torch.Tensor], step: int, epoch: int | None) -> None:
        """Hand ``metrics`` to every logger as floats, ``log_metrics(metrics=..., step=...)``, on rank zero.

        As Lightning: a logged ``step`` value is the logger step (and is not sent as a metric), otherwise the
        loggers also get ``epoch`` (unless ``epoch`` is None: evaluation step values); ``logged_metrics`` keeps
        the tensors, without the ``epoch`` the loggers were given.
        """
        if not metrics:
            return
        self._logged.update(metrics)
        scalars = {key: float(value) for key, value in metrics.items()}
        if "step" in scalars:
            step = int(scalars.pop("step"))
        elif epoch is not None:
            scalars.setdefault("epoch", epoch)
        if self.strategy.is_global_zero:
            for logger in self.loggers:
                logger.log_metrics(metrics=scalars, step=step)

    def log_evaluation_step(self, results: ResultCollection, dataloader_idx: int, suffix: str = "") -> None:
        """Send an evaluation batch's ``on_step=True`` values to the loggers, at that dataloader's own step count
        (counted across the validations of one fit, from 0 for each ``validate``/``test``)."""
        _, logged, bar = results.step_metrics(suffix)
        if bar:  # the progress bar shows an evaluation's step values too (not the callbacks: Lightning's rule)
            self._progress_bar.update(bar)
        if not logged:
            return
        if not self.loggers:
            self._logged.update(logged)
            return
        step = self._evaluation_steps.get(dataloader_idx, 0)
        self._evaluation_steps[dataloader_idx] = step + 1
        self.send_to_loggers(logged, step, None)

    def log_training_step(self, logging_step: int, every_n_steps: int, epoch: int) -> None:
        """Send this step's training values to the loggers when ``logging_step`` is due."""
        if self.loggers and every_n_steps and (logging_step + 1) % every_n_steps == 0:
            _, logged, _ = self.train_results.step_metrics()
            if logged:
                self.send_to_loggers(logged, logging_step, epoch)

    def publish_epoch(
        self, results: ResultCollection, step: int, epoch: int, suffix: str = "", log: bool = True
    ) -> dict[str, torch.Tensor]:
        """Reduce an epoch's results into the callback/progress-bar metrics (and loggers when ``log``)."""
        callback, logged, bar = results.epoch_metrics(suffix)
        if results.stage == "train":  # evaluation step values reach loggers only, never the callbacks
            step_cb, step_logged, step_bar = results.step_metrics()
            self._callback.update(step_cb)
            self._progress_bar.update(step_bar)
            self._logged.update(step_logged)  # the epoch's results are reset next: keep its last step's values
        self._callback.update(callback)
        self._progress_bar.update(bar)
        if log and logged and self.loggers:
            self.send_to_loggers(logged, step, epoch)
        elif log:
            self._logged.update(logged)
        return callback

    def publish_evaluation(
        self, collections: list[ResultCollection], shared: ResultCollection, step: int, epoch: int
    ) -> list[dict[str, float]]:
        """Reduce an evaluation: each loader's values (suffixed ``/dataloader_idx_N`` when there are several) and
        those logged in its epoch-end hooks (``shared``: no loader, so in every loader's results). As Lightning,
        the loggers get all of them in one call, and each loader's result is its logged (``logger=True``) values."""
        several = len(collections) > 1
        shared_callback, shared_logged, shared_bar = shared.epoch_metrics()
        everything: dict[str, torch.Tensor] = {}
        names: set[str] = set()  # what monitoring callbacks may find from this evaluation
        per_loader = []
        for index, collection in enumerate(collections):
            callback, logged, bar = collection.epoch_metrics(f"/dataloader_idx_{index}" if several else "")
            self._callback.update(callback)
            self._progress_bar.update(bar)
            everything.update(logged)
            per_loader.append({key: float(value) for key, value in {**logged, **shared_logged}.items()})
            names.update(callback)
        self._callback.update(shared_callback)
        self._progress_bar.update(shared_bar)
        everything.update(shared_logged)
        self.evaluation_metric_names = names | set(shared_callback)
        if everything and self.loggers:
            self.send_to_loggers(everything, step, epoch)
        else:
            self._logged.update(everything)
        return per_loader

    def add_callback_metrics(self, metrics: dict[str, torch.Tensor]) -> None:
        """Values a callback computes itself (e.g. learning rates) that other callbacks may monitor."""
        self._callback.update(metrics)

    def restore_callback_metrics(self, metrics: dict[str, torch.Tensor]) -> None:
        """What callbacks had seen when a checkpoint was written (a resumed epoch end needs e.g. its val_loss)."""
        self._callback.update(metrics)

    def replace_results(self, callback: dict[str, Any], logged: dict[str, Any]) -> None:
        """Take over metrics computed elsewhere (rank 0 of a ddp_spawn run)."""
        self._callback, self._logged = dict(callback), dict(logged)

    # -- checkpoints ----------------------------------------------------------------------------------------
    def training_state(self) -> dict[str, Any]:
        """The part-finished training epoch's results and the callback metrics, for the checkpoint's ``loop``."""
        return {
            "results": self.train_results.state_dict(self.strategy.reduce),
            "callback_metrics": {
                key: value.detach().clone()
                for key, value in self._callback.items()
                if isinstance(value, torch.Tensor) and value.numel() == 1
            },
        }

    def load_training_state(self, loop: dict[str, Any], epoch_finished: bool, global_rank: int) -> None:
        if not epoch_finished:
            self.train_results.load_state_dict(loop.get("results", {}), global_rank)
        self.restore_callback_metrics(loop.get("callback_metrics", {}))
